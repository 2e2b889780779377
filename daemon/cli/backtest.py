"""`micd backtest ALERTS.jsonl [--rules DIR] [--labels INCIDENTS.jsonl]`: replay a recording in simulated time.

Each line of ALERTS.jsonl is an Alertmanager webhook payload (version 4; `receivedAt` optional, else the
latest startsAt/endsAt in it) or an alert event `{"kind": "fired"|"resolved", "alert": {...}, "received_at": ...}`.
Resends are de-duplicated as the store would. The same pure core as the daemon decides; nothing is sent.

INCIDENTS.jsonl labels the real major incidents: `{"id": ..., "tenant": ..., "start": ..., "fingerprints": [...]}`.
A proposal is right when it shares an alert with an incident not proposed before; recall counts incidents
proposed at least once.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from daemon.alerts.dedup import transition
from daemon.alerts.models import Alert, AlertEvent
from daemon.config.settings import load
from daemon.ingest.alertmanager import parse_webhook
from daemon.kernel.clock import utc
from daemon.kernel.errors import ConfigError, InvalidInput
from daemon.proposals.models import Proposal
from daemon.proposals.replay import Replay
from daemon.runtime.correlator import calendars, tuning
from daemon.runtime.rules import read_rules

DRAIN = timedelta(hours=6)


def register(sub: Any) -> None:
    p = sub.add_parser("backtest", help="replay recorded alerts through the rules and print the proposals")
    p.add_argument("alerts", type=Path, help="JSONL of webhook payloads or alert events")
    p.add_argument("--rules", type=Path, default=Path("rules"), help="rules directory (default rules/)")
    p.add_argument("--labels", type=Path, default=None, help="JSONL of real major incidents, to score against")
    p.add_argument("--config", "-c", type=Path, default=None, help="settings file (correlation, tenants)")
    p.add_argument("--json", action="store_true", help="print proposals and scores as JSON lines")
    p.set_defaults(run=_run)


def read_events(path: Path, *, tenant_label: str) -> list[AlertEvent]:
    """Parse and order the recording; raises InvalidInput naming the line."""
    timed: list[tuple[datetime, int, Alert]] = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if record.get("version") == "4":
                alerts = parse_webhook(line.encode(), tenant_label=tenant_label, bound_tenant=None, max_alerts=10**6)
                at = record.get("receivedAt")
                if not alerts:
                    continue
                when = utc(datetime.fromisoformat(at)) if at else max(_latest(a) for a in alerts)
                timed += [(when, number, a) for a in alerts]
            else:
                event = AlertEvent.model_validate({"id": number, **record})
                timed.append((utc(event.received_at), number, event.alert))
        except (ValueError, ValidationError, InvalidInput, AttributeError) as exc:
            raise InvalidInput.field(
                f"{path}:{number}", f"neither a webhook payload nor an alert event: {exc}"
            ) from exc
    timed.sort(key=lambda t: (t[0], t[1]))
    held: dict[tuple[str, str], Alert] = {}
    events: list[AlertEvent] = []
    for when, _, alert in timed:
        key = (alert.tenant, alert.fingerprint)
        kind = transition(held.get(key), alert)
        if kind is None:
            continue
        held[key] = alert
        events.append(AlertEvent(id=len(events) + 1, kind=kind, alert=alert, received_at=when))
    return events


def _latest(alert: Alert) -> datetime:
    return alert.ends_at if alert.ends_at and alert.status.value == "resolved" else alert.starts_at


def replay(events: list[AlertEvent], replayer: Replay) -> Replay:
    """Feed events at their receipt times, ticking at every due time in between, then drain."""
    for event in events:
        _tick_until(replayer, event.received_at)
        replayer.step([event], now=event.received_at)
    if events:
        _tick_until(replayer, events[-1].received_at + DRAIN)
    return replayer


def _tick_until(replayer: Replay, until: datetime) -> None:
    due = replayer.next_due()
    while due is not None and due <= until:
        replayer.tick(now=due)
        nxt = replayer.next_due()
        due = nxt if nxt is not None and nxt > due else None


def score(proposals: list[Proposal], labels: list[dict[str, Any]]) -> dict[str, Any]:
    """Precision, recall and time-to-propose per labelled incident. A second proposal for an incident
    already proposed counts as wrong: the point is one proposal per real incident."""
    by_incident: dict[str, list[Proposal]] = {}
    right = 0
    for proposal in sorted(proposals, key=lambda p: p.created_at):
        fps = {a.fingerprint for a in proposal.evidence.alerts}
        hits = [i for i in labels if i["tenant"] == proposal.tenant and fps & set(i["fingerprints"])]
        right += any(i["id"] not in by_incident for i in hits)
        for incident in hits:
            by_incident.setdefault(incident["id"], []).append(proposal)
    rows = []
    for incident in labels:
        found = sorted(by_incident.get(incident["id"], []), key=lambda p: p.created_at)
        start = utc(datetime.fromisoformat(incident["start"]))
        ttp = (found[0].created_at - start).total_seconds() if found else None
        rows.append({"incident": incident["id"], "proposal": found[0].id if found else None, "seconds": ttp})
    times = [r["seconds"] for r in rows if r["seconds"] is not None]
    return {
        "precision": right / len(proposals) if proposals else 1.0,
        "recall": len(times) / len(labels) if labels else 1.0,
        "median_time_to_propose_seconds": statistics.median(times) if times else None,
        "incidents": rows,
    }


def _load_labels(path: Path) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            record = json.loads(line)
            missing = [k for k in ("id", "tenant", "start", "fingerprints") if k not in record]
            if missing:
                raise InvalidInput.field(f"{path}:{number}", f"missing {', '.join(missing)}")
            yield record


def _run(args: argparse.Namespace) -> int:
    try:
        settings = load(args.config)
        rules = read_rules(args.rules)
        events = read_events(args.alerts, tenant_label=settings.tenant_label)
        labels = list(_load_labels(args.labels)) if args.labels else None
    except (ConfigError, InvalidInput, OSError, ValueError) as exc:
        print(f"backtest: {exc}", file=sys.stderr)
        return 2
    done = replay(events, Replay(rules, tuning(settings.correlation), calendars(settings.tenants)))
    proposals = sorted(done.book.proposals.values(), key=lambda p: p.created_at)
    outages = {o.id for o in done.outages.values()}
    for p in proposals:
        fps = sorted({a.fingerprint for a in p.evidence.alerts})
        if args.json:
            print(json.dumps({"proposal": p.model_dump(mode="json")}))
        else:
            print(
                f"{p.created_at.isoformat()} {p.tenant} {p.mode} impact {p.impact} urgency {p.urgency}"
                f" rule {p.rule}: {p.title}\n  {p.business_impact}\n  alerts: {', '.join(fps)}"
            )
    print(f"{len(events)} events, {len(outages)} outages, {len(proposals)} proposals", file=sys.stderr)
    if labels is not None:
        result = score(proposals, labels)
        if args.json:
            print(json.dumps({"score": result}))
        else:
            for row in result["incidents"]:
                took = f"{row['seconds']:.0f}s" if row["seconds"] is not None else "never"
                print(f"incident {row['incident']}: proposal {row['proposal'] or '-'} after {took}")
            median = result["median_time_to_propose_seconds"]
            print(
                f"precision {result['precision']:.3f} recall {result['recall']:.3f}"
                f" median time-to-propose {'-' if median is None else f'{median:.0f}s'}"
            )
    return 0
