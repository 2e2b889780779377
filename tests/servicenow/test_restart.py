"""A real `micd serve` killed while its outbox is full, and again while ServiceNow is creating the incident.

The emulator runs as its own HTTPS process. ServiceNow first fails every call (the proposal waits in the outbox),
then serves the create but holds its answer; micd is SIGKILLed in that window, so ServiceNow has the record and
micd does not know. The restarted daemon must find it by correlation_id: exactly one incident, nothing left over.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from daemon.cli.fire import to_webhook
from tests.support.procs import REPO, Daemon, wait_until
from tests.support.servicenow import ServiceNowEmulator

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
INCIDENT = "/api/now/table/incident"


def get(daemon: Daemon, path: str) -> Any:
    with urllib.request.urlopen(daemon.url + path, timeout=10) as resp:  # noqa: S310 - loopback
        return json.loads(resp.read()) if path != "/metrics" else resp.read().decode()


def outbox_depth(daemon: Daemon) -> float:
    line = next(x for x in get(daemon, "/metrics").splitlines() if x.startswith("micd_servicenow_outbox_depth "))
    return float(line.split()[1])


def fire_outage(daemon: Daemon) -> None:
    alerts = json.loads((REPO / "rules" / "examples" / "outage.json").read_text())
    body = json.dumps(to_webhook(alerts, now=datetime.now(UTC))).encode()
    req = urllib.request.Request(  # noqa: S310 - loopback
        daemon.url + "/api/v1/alerts/alertmanager", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
        assert resp.status == 200


def test_a_killed_daemon_with_a_full_outbox_yields_exactly_one_incident(tmp_path: Path) -> None:
    sn = ServiceNowEmulator(tmp_path).start()
    micd = Daemon(
        tmp_path,
        {
            "servicenow": {
                "instance": sn.url,
                "username": "admin",
                "password": "admin",
                "ca_bundle": str(sn.ca),
                "attempts": 1,
                "backoff_initial": 0.2,
                "backoff_max": 1.0,
                "breaker_reset": 1.0,
                "delivery_interval": 0.2,
                "timeout": 60.0,
            }
        },
    )
    try:
        sn.fault(kind="error", count=-1)  # ServiceNow answers 503 to everything
        micd.start()
        fire_outage(micd)
        [proposal] = wait_until(lambda: get(micd, "/api/v1/proposals")["items"], timeout=30, what="a proposal")
        wait_until(lambda: outbox_depth(micd) >= 1, timeout=30, what="the proposal waiting in the outbox")
        deferred = "servicenow delivery deferred: unavailable: ServiceNow find answered 503"
        wait_until(lambda: micd.log.read_text().count(deferred) >= 2, timeout=30, what="failed deliveries")

        # ServiceNow comes back, creates the record, and holds the answer: micd dies waiting for it.
        sn.clear_faults()
        sn.fault(kind="slow", delay=60, count=-1, methods=["POST"], path=INCIDENT)
        wait_until(
            lambda: sn.incidents(f"correlation_id={proposal['id']}"), timeout=30, what="the record in ServiceNow"
        )
        micd.kill()
        sn.clear_faults()

        micd.start()
        delivered = wait_until(
            lambda: (p := get(micd, f"/api/v1/proposals/{proposal['id']}"))["external_number"] and p,
            timeout=60,
            what="the restarted daemon finding its record",
        )
        wait_until(lambda: outbox_depth(micd) == 0, timeout=30, what="an empty outbox")
        [incident] = sn.incidents(f"correlation_id={proposal['id']}")
        assert incident["number"] == delivered["external_number"]
        assert incident["major_incident_state"] == "proposed"
    finally:
        micd.kill()
        sn.stop()
