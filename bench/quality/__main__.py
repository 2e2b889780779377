"""`make bench-quality`: grouping and proposal quality of micd beside two baselines, on the same storms.

- micd: the pure core the daemon runs (catalogue matching, topology-aware incremental correlation, impact rules).
- group-by-labels: Alertmanager-style, one group per (tenant, alertname) while any of its alerts fires.
- fixed-window: per tenant, a 5-minute window opened by the first alert takes every alert starting in it.

Grouping is scored on pairs of alert episodes (precision, recall, F1). Proposals: micd's own; for the
baselines, the same impact rules evaluated on each of their groups. A proposal is right when it shares an
alert with a true major incident that no earlier proposal already covered (a duplicate counts as wrong).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from bench.quality.storm import Episode, Storm, generate
from daemon.alerts.fingerprint import fingerprint
from daemon.alerts.models import Alert, AlertEvent, AlertStatus, TransitionKind
from daemon.catalog.matching import Matcher
from daemon.cli.backtest import replay
from daemon.correlation.models import Outage, OutageAlert
from daemon.impact.evaluate import evaluate
from daemon.impact.models import Calendar
from daemon.impact.ruleset import Ruleset, parse_ruleset
from daemon.proposals.evidence import outage_facts
from daemon.proposals.replay import Replay, Tuning

IMPACT = """kind: impact
rules:
  - name: customer-facing-outage
    when: {min_services: 2, max_tier: 1, customer_facing: true}
    impact: 1
    urgency: 1
    business_impact: "{{ customer_facing_services | join(', ') }} down"
"""
WINDOW = timedelta(minutes=5)


def pairwise(truth: Mapping[Episode, str], predicted: Mapping[Episode, str]) -> dict[str, float]:
    """Pair counts from the contingency table, so a storm of thousands of alerts stays cheap."""

    def pairs(counts: Iterable[int]) -> int:
        return sum(n * (n - 1) // 2 for n in counts)

    both = pairs(Counter((truth[e], predicted[e]) for e in truth).values())
    true_pairs = pairs(Counter(truth.values()).values())
    pred_pairs = pairs(Counter(predicted[e] for e in truth).values())
    precision = both / pred_pairs if pred_pairs else 1.0
    recall = both / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def proposal_quality(proposed: list[tuple[datetime, set[Episode]]], storm: Storm) -> dict[str, float | int | None]:
    covered: dict[str, float] = {}
    right = 0
    for at, episodes in sorted(proposed, key=lambda p: p[0]):
        hits = {storm.truth[e] for e in episodes} & set(storm.majors)
        fresh = hits - set(covered)
        right += bool(fresh)
        for incident in fresh:
            covered[incident] = (at - storm.majors[incident][1]).total_seconds()
    times = sorted(covered.values())
    return {
        "proposals": len(proposed),
        "precision": right / len(proposed) if proposed else 1.0,
        "recall": len(covered) / len(storm.majors) if storm.majors else 1.0,
        "median_time_to_propose_seconds": times[len(times) // 2] if times else None,
    }


def micd(storm: Storm, ruleset: Ruleset) -> tuple[dict[Episode, str], list[tuple[datetime, set[Episode]]], float]:
    started = time.perf_counter()
    done = replay(storm.events, Replay(ruleset, Tuning()))
    elapsed = time.perf_counter() - started
    grouping = {e: done.assignment.get(e, f"alone-{i}") for i, e in enumerate(storm.truth)}
    members: dict[str, set[Episode]] = {}
    for episode, outage in done.assignment.items():
        members.setdefault(_final(done, outage), set()).add(episode)
    grouping = {e: _final(done, g) if g in done.outages else g for e, g in grouping.items()}
    proposed = [(p.created_at, members.get(_final(done, p.outage_id), set())) for p in done.book.proposals.values()]
    return grouping, proposed, elapsed


def _final(done: Replay, outage_id: str) -> str:
    while (nxt := done.outages[outage_id].merged_into) is not None:
        outage_id = nxt
    return outage_id


def group_by_labels(events: list[AlertEvent]) -> dict[Episode, str]:
    firing: dict[tuple[str, str], set[str]] = {}
    current: dict[tuple[str, str], str] = {}
    out: dict[Episode, str] = {}
    for event in events:
        a = event.alert
        key = (a.tenant, a.name)
        if event.kind is TransitionKind.FIRED:
            if not firing.get(key):
                current[key] = f"{key}-{event.id}"
            firing.setdefault(key, set()).add(a.fingerprint)
            out[(a.tenant, a.fingerprint, a.starts_at)] = current[key]
        else:
            firing.get(key, set()).discard(a.fingerprint)
    return out


def fixed_window(events: list[AlertEvent]) -> dict[Episode, str]:
    opened: dict[str, datetime] = {}
    out: dict[Episode, str] = {}
    for event in events:
        a = event.alert
        if event.kind is not TransitionKind.FIRED:
            continue
        if a.tenant not in opened or a.starts_at - opened[a.tenant] > WINDOW:
            opened[a.tenant] = a.starts_at
        out[(a.tenant, a.fingerprint, a.starts_at)] = f"{a.tenant}-{opened[a.tenant].isoformat()}"
    return out


def baseline_proposals(
    grouping: Mapping[Episode, str], events: list[AlertEvent], ruleset: Ruleset
) -> list[tuple[datetime, set[Episode]]]:
    """The same impact rules on each baseline group, evaluated once the group is complete."""
    matcher = Matcher(ruleset.catalog, labels=Tuning().service_labels, fuzzy_min_score=Tuning().fuzzy_min_score)
    labels = {(e.alert.tenant, e.alert.fingerprint, e.alert.starts_at): e.alert for e in events}
    groups: dict[str, set[Episode]] = {}
    for episode, group in grouping.items():
        groups.setdefault(group, set()).add(episode)
    proposed = []
    for group, episodes in groups.items():
        alerts = [labels[e] for e in episodes]
        tenant = alerts[0].tenant
        services = sorted({m.service for a in alerts if (m := matcher.match(tenant, a.labels)) is not None})
        start = min(a.starts_at for a in alerts)
        outage = Outage(id=group, tenant=tenant, started_at=start, opened_at=start, updated_at=start, services=services)
        members = [
            OutageAlert(
                tenant=tenant,
                fingerprint=a.fingerprint,
                starts_at=a.starts_at,
                outage_id=group,
                alertname=a.name,
                severity=a.severity,
                received_at=a.starts_at,
            )
            for a in alerts
        ]
        at = max(a.starts_at for a in alerts)
        facts = outage_facts(outage=outage, alerts=members, catalog=ruleset.catalog, calendar=Calendar(), now=at)
        if evaluate(ruleset.book, facts, now=at).verdict is not None:
            proposed.append((at, episodes))
    return proposed


def run(seeds: list[int], hours: float) -> dict[str, object]:
    totals: dict[str, list[dict[str, object]]] = {"micd": [], "group-by-labels": [], "fixed-window": []}
    storms = []
    for seed in seeds:
        storm = generate(seed=seed, hours=hours)
        ruleset = parse_ruleset(storm.rules_files(IMPACT))
        grouping, proposed, elapsed = micd(storm, ruleset)
        storms.append(
            {
                "seed": seed,
                "episodes": len(storm.truth),
                "events": len(storm.events),
                "majors": len(storm.majors),
                "micd_replay_seconds": round(elapsed, 3),
            }
        )
        totals["micd"].append(
            {"grouping": pairwise(storm.truth, grouping), "proposals": proposal_quality(proposed, storm)}
        )
        for name, fn in (("group-by-labels", group_by_labels), ("fixed-window", fixed_window)):
            base = fn(storm.events)
            totals[name].append(
                {
                    "grouping": pairwise(storm.truth, base),
                    "proposals": proposal_quality(baseline_proposals(base, storm.events, ruleset), storm),
                }
            )
    return {"storms": storms, "results": totals}


def throughput(alerts: int = 20_000, batch: int = 500) -> float:
    """Events per second through the pure core when one outage grows to `alerts` alerts (the worst case)."""
    storm = generate(seed=1, hours=1)
    ruleset = parse_ruleset(storm.rules_files(IMPACT))
    services = [s.name for s in storm.catalog["t1"] if s.customer_facing] + storm.catalog["t1"][0].depends_on
    start = storm.events[0].received_at
    events = []
    for i in range(alerts):
        labels = {"alertname": "HighErrorRate", "tenant": "t1", "service": services[i % len(services)], "pod": f"p{i}"}
        at = start + timedelta(milliseconds=10 * i)
        alert = Alert(
            tenant="t1", fingerprint=fingerprint(labels), status=AlertStatus.FIRING, labels=labels, starts_at=at
        )
        events.append(AlertEvent(id=i + 1, kind=TransitionKind.FIRED, alert=alert, received_at=at))
    replayer = Replay(ruleset, Tuning())
    began = time.perf_counter()
    for i in range(0, alerts, batch):
        replayer.step(events[i : i + batch], now=events[min(i + batch, alerts) - 1].received_at)
    return alerts / (time.perf_counter() - began)


def _mean(rows: list[dict[str, object]], part: str, key: str) -> float:
    values = [float(r[part][key]) for r in rows if r[part][key] is not None]  # type: ignore[index]
    return sum(values) / len(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__)
    parser.add_argument("--seeds", type=int, default=5, help="number of storms")
    parser.add_argument("--first-seed", type=int, default=1, help="seed of the first storm (held-out runs: 101)")
    parser.add_argument("--hours", type=float, default=12.0, help="simulated hours per storm")
    parser.add_argument("--json", action="store_true", help="print every per-storm figure as JSON")
    args = parser.parse_args()
    report = run(list(range(args.first_seed, args.first_seed + args.seeds)), args.hours)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return
    storms = report["storms"]
    assert isinstance(storms, list)
    print(
        f"{len(storms)} storms (seeds {args.first_seed}..{args.first_seed + args.seeds - 1}) x {args.hours:g} h,"
        " 3 tenants + platform; episodes per storm:",
        ", ".join(str(s["episodes"]) for s in storms),
        "; true major incidents:",
        ", ".join(str(s["majors"]) for s in storms),
    )
    print(f"{'method':<17} {'pair P':>7} {'pair R':>7} {'pair F1':>8} {'prop P':>7} {'prop R':>7} {'TTP med s':>10}")
    results = report["results"]
    assert isinstance(results, dict)
    for name, rows in results.items():
        print(
            f"{name:<17} {_mean(rows, 'grouping', 'precision'):7.3f} {_mean(rows, 'grouping', 'recall'):7.3f}"
            f" {_mean(rows, 'grouping', 'f1'):8.3f} {_mean(rows, 'proposals', 'precision'):7.3f}"
            f" {_mean(rows, 'proposals', 'recall'):7.3f}"
            f" {_mean(rows, 'proposals', 'median_time_to_propose_seconds'):10.0f}"
        )
    print("micd replay seconds per storm:", ", ".join(str(s["micd_replay_seconds"]) for s in storms))
    print(f"worst case, one outage growing to 20000 alerts in batches of 500: {throughput():,.0f} events/s")


if __name__ == "__main__":
    main()
