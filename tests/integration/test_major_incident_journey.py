"""One major incident from the first alert to closure, every part real and in its own process.

Prometheus scrapes micd throughout; Alertmanager delivers the alerts; the ServiceNow emulator receives the
proposal over HTTPS through pysnc and acts as the commander; the command phase runs over the REST API with
distinct commander and approver tokens. At the end every shipped PromQL query runs against that Prometheus and
the KPI recording rules return data for the tenant.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from daemon.api.auth import new_token
from tests.support.alertmanager import Alertmanager, now
from tests.support.procs import REPO, Daemon, wait_until
from tests.support.prometheus import Prometheus
from tests.support.servicenow import ServiceNowEmulator
from tests.telemetry.deploy_queries import all_queries, rule_files

pytestmark = pytest.mark.integration
OUTAGE = json.loads((REPO / "rules/examples/outage.json").read_text())
ROLES = {"alice": "commander", "dave": "approver", "vic": "viewer"}


@dataclass
class Stack:
    micd: Daemon
    am: Alertmanager
    sn: ServiceNowEmulator
    prom: Prometheus
    tokens: dict[str, str]

    def api(self, who: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        req = urllib.request.Request(  # noqa: S310 - loopback
            self.micd.url + path,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.tokens[who]}", "Content-Type": "application/json"},
            method=method,
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def ok(self, who: str, method: str, path: str, body: Any = None) -> Any:
        status, data = self.api(who, method, path, body)
        assert status in (200, 201), (method, path, status, data)
        return data


def fast_rules(workdir: Path) -> list[Path]:
    """The shipped rules with 1 s evaluation, so the test need not wait for the 5-minute production interval."""
    out = []
    for path in rule_files():
        doc = yaml.safe_load(path.read_text())
        for group in doc["groups"]:
            group["interval"] = "1s"
        target = workdir / path.name
        target.write_text(yaml.safe_dump(doc))
        out.append(target)
    return out


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    tokens, api_tokens = {}, []
    for name, role in ROLES.items():
        tokens[name], sha = new_token()
        api_tokens.append({"name": name, "sha256": sha, "role": role, "tenants": ["acme"]})
    webhook, webhook_sha = new_token()
    sn = ServiceNowEmulator(tmp_path).start()
    micd = Daemon(
        tmp_path,
        {
            "auth": {"webhook_tokens": [{"name": "am", "sha256": webhook_sha}], "api_tokens": api_tokens},
            "servicenow": {
                "instance": sn.url,
                "username": "admin",
                "password": "admin",
                "ca_bundle": str(sn.ca),
                "poll_interval": 0.5,
            },
            "tenants": {"acme": {"company": "ACME Corp", "assignment_group": "MIM ACME", "commander": "jane.doe"}},
        },
    )
    prom = Prometheus(tmp_path, targets=[f"127.0.0.1:{micd.port}"], rule_files=fast_rules(tmp_path))
    am = Alertmanager(tmp_path, webhook_url=micd.url + "/api/v1/alerts/alertmanager", token=webhook)
    try:
        micd.start()
        prom.start()
        am.start()
        yield Stack(micd, am, sn, prom, tokens)
    finally:
        for proc in (am, prom, sn):
            proc.stop()
        micd.kill()


def test_first_alert_to_closed_review(stack: Stack) -> None:
    s = stack
    wait_until(s.prom.scraped, timeout=60, what="Prometheus scraping micd")
    started = now() - timedelta(minutes=2)
    alerts = [{**a, "startsAt": started.isoformat()} for a in OUTAGE]
    s.am.post_alerts(alerts)

    # micd proposes exactly one major incident, and ServiceNow receives it exactly once.
    proposals = wait_until(lambda: s.ok("vic", "GET", "/api/v1/proposals")["items"], what="a proposal")
    assert len(proposals) == 1
    proposal = proposals[0]
    assert proposal["state"] == "proposed"
    assert proposal["rule"]
    assert proposal["evidence"]["probable_cause"]
    records = wait_until(lambda: s.sn.incidents(f"correlation_id={proposal['id']}"), what="ServiceNow incident")
    assert len(records) == 1
    record = records[0]
    assert record["major_incident_state"] == "proposed"
    assert record["business_impact"] == proposal["business_impact"]
    assert any(proposal["id"] in note for note in s.sn.journal(record["sys_id"]))

    # The commander accepts in ServiceNow; micd declares the major incident with that commander.
    s.sn.act(record["sys_id"], "accept", "jane.doe")
    incidents = wait_until(lambda: s.ok("vic", "GET", "/api/v1/incidents")["items"], what="declared incident")
    mi = incidents[0]["id"]
    base = f"/api/v1/incidents/{mi}"
    assert s.ok("vic", "GET", f"/api/v1/proposals/{proposal['id']}")["state"] == "accepted"

    # Command phase: each gate refuses until its evidence is there.
    status, refused = s.api("alice", "POST", base + "/transitions", {"command": "mitigate", "note": "go"})
    assert status == 409
    assert {p["field"] for p in refused["error"]["problems"]} >= {"lanes.technical_lead", "lanes.communications"}
    s.ok("alice", "POST", base + "/lanes", {"lane": "technical_lead", "owner": "bob"})
    s.ok("alice", "POST", base + "/lanes", {"lane": "communications", "owner": "carol"})
    s.ok("alice", "POST", base + "/transitions", {"command": "mitigate", "note": "failing payments over"})
    update = s.ok(
        "alice", "POST", base + "/updates", {"summary": "Failing over", "audiences": ["technical", "customer"]}
    )
    assert update["customer"] == "pending_approval"
    assert s.api("alice", "POST", f"{base}/updates/{update['id']}/approve")[0] == 403
    s.ok("dave", "POST", f"{base}/updates/{update['id']}/approve")
    action = s.ok(
        "alice",
        "POST",
        base + "/actions",
        {"title": "Restart payments pods", "owner": "bob", "precheck": "replicas healthy"},
    )
    s.ok("alice", "POST", f"{base}/actions/{action['id']}", {"step": "precheck", "passed": True, "note": "3/3 ready"})
    for step in ("start", "succeed"):
        s.ok("alice", "POST", f"{base}/actions/{action['id']}", {"step": step, "note": step})
    s.ok("alice", "POST", base + "/transitions", {"command": "monitor", "note": "error rate back to normal"})

    status, refused = s.api("alice", "POST", base + "/transitions", {"command": "resolve", "note": "done"})
    assert status == 409
    missing = {p["field"] for p in refused["error"]["problems"]}
    assert {
        "service_validation.note",
        "customer_confirmation.who",
        "customer_confirmation.when",
        "residual_risk",
    } <= missing
    assert any(m.startswith("service_validation.alerts_resolved") for m in missing)
    s.am.post_alerts([{**a, "startsAt": started.isoformat(), "endsAt": now().isoformat()} for a in OUTAGE])
    wait_until(
        lambda: s.ok("vic", "GET", "/api/v1/alerts?tenant=acme&status=firing")["total"] == 0,
        what="outage alerts resolved",
    )
    s.ok(
        "alice",
        "POST",
        base + "/closure",
        {
            "validation_note": "synthetic checkout passes",
            "customer_confirmed_by": "ACME NOC",
            "customer_confirmed_at": now().isoformat(),
            "residual_risk": "single replica until Friday",
        },
    )
    s.ok("alice", "POST", base + "/transitions", {"command": "resolve", "note": "validated"})
    assert s.ok("vic", "GET", "/api/v1/incidents?state=resolved")["total"] == 1

    # Post-incident review: gated on a facilitator, then on every template section; its actions are tracked.
    assert s.api("alice", "POST", base + "/transitions", {"command": "review", "note": "PIR"})[0] == 409
    s.ok("alice", "POST", base + "/review", {"facilitator": "rita"})
    s.ok("alice", "POST", base + "/transitions", {"command": "review", "note": "PIR scheduled"})
    status, refused = s.api("alice", "POST", base + "/transitions", {"command": "close", "note": "done"})
    assert status == 409
    assert "review.sections.root_cause" in {p["field"] for p in refused["error"]["problems"]}
    sections = {
        "summary": "Payments failed",
        "timeline": "see below",
        "root_cause": "bad config push",
        "went_well": "fast failover",
        "went_badly": "late customer note",
    }
    s.ok("alice", "POST", base + "/review", {"sections": sections})
    due = (now() + timedelta(days=14)).date().isoformat()
    s.ok("alice", "POST", base + "/review/actions", {"title": "Config push canary", "owner": "bob", "due": due})
    s.ok("alice", "POST", base + "/transitions", {"command": "close", "note": "review done"})
    assert s.ok("vic", "GET", "/api/v1/incidents?state=closed")["total"] == 1

    # Every transition was journaled to the ServiceNow record.
    def journaled() -> bool:
        notes = " ".join(s.sn.journal(record["sys_id"]))
        return all(word in notes for word in ("mitigating", "monitoring", "resolved"))

    wait_until(journaled, timeout=30, what="transitions journaled to ServiceNow work notes")

    # Telemetry: every shipped query runs, and the KPI recording rules have data for acme.
    def kpis() -> dict[str, float] | None:
        out = {}
        for name in (
            "tenant:micd_major_incident_mttr_seconds:p50_7d",
            "tenant:micd_status_updates_on_time:ratio_7d",
            "tenant:micd_proposal_acceptance:ratio_7d",
            "tenant:micd_repeat_major_incidents:ratio_30d",
        ):
            result = s.prom.query(f'{name}{{tenant="acme"}}')["data"]["result"]
            if not result:
                return None
            out[name] = float(result[0]["value"][1])
        return out

    values = wait_until(kpis, timeout=60, interval=1, what="KPI recording rules with data")
    assert values["tenant:micd_proposal_acceptance:ratio_7d"] == 1.0
    assert values["tenant:micd_status_updates_on_time:ratio_7d"] == 1.0
    assert values["tenant:micd_repeat_major_incidents:ratio_30d"] == 0.0
    assert values["tenant:micd_major_incident_mttr_seconds:p50_7d"] > 0

    failures = {}
    for query in all_queries({"tenant": "acme"}):
        answer = s.prom.query(query.expr)
        if answer.get("status") != "success":
            failures[query.origin] = answer.get("error")
    assert not failures, failures
    metrics = urllib.request.urlopen(s.micd.url + "/metrics", timeout=5).read().decode()  # noqa: S310
    assert re.search(r'micd_major_incident_mttr_seconds_count\{tenant="acme"\} 1\.0', metrics)
    assert 'micd_pir_actions_open{tenant="acme"} 1.0' in metrics
