"""micd behind the real Alertmanager from Debian: firing, resolved, resends, auth."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from daemon.api.auth import new_token
from tests.support.alertmanager import Alertmanager, am_alert, now
from tests.support.procs import Daemon, wait_until

pytestmark = pytest.mark.integration


def get(url: str, token: str | None = None) -> Any:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})  # noqa: S310
    with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310
        return json.loads(resp.read())


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Daemon, Alertmanager, str]]:
    webhook_token, webhook_sha = new_token()
    api_token, api_sha = new_token()
    daemon = Daemon(
        tmp_path,
        {
            "auth": {
                "webhook_tokens": [{"name": "am", "sha256": webhook_sha}],
                "api_tokens": [{"name": "ops", "sha256": api_sha, "role": "viewer"}],
            }
        },
    ).start()
    am = Alertmanager(
        tmp_path, webhook_url=daemon.url + "/api/v1/alerts/alertmanager", token=webhook_token, repeat_interval="2s"
    ).start()
    try:
        yield daemon, am, api_token
    finally:
        am.stop()
        daemon.kill()


def firing(daemon: Daemon, token: str, tenant: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = get(f"{daemon.url}/api/v1/alerts?tenant={tenant}&status=firing", token)["items"]
    return items


def test_alerts_fire_resolve_and_resends_change_nothing(stack: tuple[Daemon, Alertmanager, str]) -> None:
    daemon, am, token = stack
    labels = {"alertname": "HighErrorRate", "service": "payments-api", "tenant": "acme", "severity": "critical"}
    other = {"alertname": "HighLatency", "service": "checkout", "tenant": "acme", "severity": "warning"}
    started = now() - timedelta(minutes=1)
    am.post_alerts([am_alert(labels, starts=started), am_alert(other, starts=started)])

    def both_firing() -> list[dict[str, Any]] | None:
        found = firing(daemon, token, "acme")
        return found if len(found) == 2 else None

    alerts = wait_until(
        both_firing,
        what="both alerts firing in micd",
    )
    by_name = {a["labels"]["alertname"]: a for a in alerts}
    assert by_name["HighErrorRate"]["labels"]["service"] == "payments-api"
    assert by_name["HighErrorRate"]["ends_at"] is None
    fp = by_name["HighErrorRate"]["fingerprint"]

    # Alertmanager re-notifies every repeat_interval (2 s) with the whole group: nothing may change.
    sent = am.notifications_sent()
    wait_until(lambda: am.notifications_sent() >= sent + 2, timeout=30, what="two resends from Alertmanager")
    detail = get(f"{daemon.url}/api/v1/alerts/acme/{fp}", token)
    assert [e["kind"] for e in detail["events"]] == ["fired"]

    am.post_alerts([am_alert(labels, starts=started, ends=now() - timedelta(seconds=1))])
    wait_until(
        lambda: get(f"{daemon.url}/api/v1/alerts/acme/{fp}", token)["alert"]["status"] == "resolved",
        what="alert resolved in micd",
    )
    detail = get(f"{daemon.url}/api/v1/alerts/acme/{fp}", token)
    assert [e["kind"] for e in detail["events"]] == ["fired", "resolved"]
    assert detail["alert"]["ends_at"] is not None
    assert [a["labels"]["alertname"] for a in firing(daemon, token, "acme")] == ["HighLatency"]

    metrics = urllib.request.urlopen(daemon.url + "/metrics", timeout=5).read().decode()  # noqa: S310
    assert 'micd_alerts_active{tenant="acme"} 1.0' in metrics
    assert 'micd_alerts_received_total{source="alertmanager",tenant="acme"}' in metrics


def test_fingerprint_matches_alertmanager(stack: tuple[Daemon, Alertmanager, str]) -> None:
    """Kafka's API v2 alerts carry no fingerprint; ours must equal Alertmanager's for dedup across paths."""
    from daemon.alerts.fingerprint import fingerprint

    daemon, am, token = stack
    labels = {"alertname": "DiskFull", "instance": "db-1:9100", "tenant": "globex", "region": "eu-wést ☃"}
    am.post_alerts([am_alert(labels)])
    alerts = wait_until(lambda: firing(daemon, token, "globex"), what="alert in micd")
    assert alerts[0]["fingerprint"] == fingerprint(labels)


def test_alertmanager_without_token_is_refused(tmp_path: Path) -> None:
    _, sha = new_token()
    daemon = Daemon(tmp_path, {"auth": {"webhook_tokens": [{"name": "am", "sha256": sha}]}}).start()
    am = Alertmanager(tmp_path, webhook_url=daemon.url + "/api/v1/alerts/alertmanager", token="wrong").start()
    try:
        am.post_alerts([am_alert({"alertname": "X", "tenant": "acme"})])
        wait_until(lambda: "401" in daemon.log.read_text() or _failed(am), timeout=30, what="a refused delivery")
        with pytest.raises(urllib.error.HTTPError) as info:
            get(f"{daemon.url}/api/v1/alerts")
        assert info.value.code == 401
    finally:
        am.stop()
        daemon.kill()


def _failed(am: Alertmanager) -> bool:
    text = urllib.request.urlopen(am.url + "/metrics", timeout=5).read().decode()  # noqa: S310
    return any(
        line.startswith("alertmanager_notifications_failed_total{")
        and 'integration="webhook"' in line
        and float(line.rsplit(" ", 1)[1]) > 0
        for line in text.splitlines()
    )
