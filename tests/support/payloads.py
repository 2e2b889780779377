"""Webhook payloads shaped exactly as Alertmanager 0.25+ sends them."""

from __future__ import annotations

from typing import Any

from daemon.alerts.fingerprint import fingerprint

GO_ZERO_TIME = "0001-01-01T00:00:00Z"


def am_webhook_alert(
    labels: dict[str, str], *, status: str = "firing", starts: str = "2026-12-03T10:00:00Z", ends: str | None = None
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": labels,
        "annotations": {"summary": f"{labels.get('alertname', '')} is firing"},
        "startsAt": starts,
        "endsAt": ends or (GO_ZERO_TIME if status == "firing" else "2026-12-03T10:05:00Z"),
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
        "fingerprint": fingerprint(labels),
    }


def webhook(alerts: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "micd",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": alerts,
        **extra,
    }
