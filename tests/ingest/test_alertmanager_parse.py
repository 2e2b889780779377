"""Webhook payload parsing: every refusal names the field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from daemon.alerts.models import AlertStatus
from daemon.ingest.alertmanager import InvalidJson, parse_webhook
from daemon.kernel.errors import InvalidInput
from tests.support.payloads import am_webhook_alert, webhook

LABELS = {"alertname": "HighErrorRate", "service": "payments-api", "tenant": "acme"}


def parse(payload: dict[str, Any], **kw: Any) -> Any:
    return parse_webhook(json.dumps(payload).encode(), tenant_label="tenant", **kw)


def test_firing_alert_has_no_end_and_keeps_fingerprint() -> None:
    [alert] = parse(webhook([am_webhook_alert(LABELS)]))
    assert alert.status is AlertStatus.FIRING
    assert alert.ends_at is None
    assert alert.tenant == "acme"
    assert alert.starts_at.tzinfo is not None


def test_newer_fields_are_tolerated() -> None:
    payload = webhook([am_webhook_alert(LABELS)], notification_reason="repeat", routeLabels={"team": "x"})
    assert len(parse(payload)) == 1


def test_tenant_defaults_and_token_binding() -> None:
    labels = {"alertname": "X"}
    assert parse(webhook([am_webhook_alert(labels)]))[0].tenant == "default"
    assert parse(webhook([am_webhook_alert(labels)]), bound_tenant="globex")[0].tenant == "globex"
    with pytest.raises(InvalidInput) as info:
        parse(webhook([am_webhook_alert(LABELS)]), bound_tenant="globex")
    assert info.value.problems[0].field == "alerts[0].labels.tenant"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p.update(version="3"), "version"),
        (lambda p: p.pop("alerts"), "alerts"),
        (lambda p: p["alerts"][0].update(status="pending"), "alerts[0].status"),
        (lambda p: p["alerts"][0].update(startsAt="yesterday"), "alerts[0].startsAt"),
        (lambda p: p["alerts"][0].update(labels={}), "alerts[0].labels"),
        (lambda p: p["alerts"][0]["labels"].update(tenant="bad tenant!"), "alerts[0].labels.tenant"),
        (lambda p: p["alerts"][0].update(fingerprint="XYZ"), "alerts[0].fingerprint"),
    ],
)
def test_schema_errors_name_the_field(mutate: Any, field: str) -> None:
    payload = webhook([am_webhook_alert(LABELS)])
    mutate(payload)
    with pytest.raises(InvalidInput) as info:
        parse(payload)
    assert field in [p.field for p in info.value.problems]


def test_malformed_json_is_its_own_error() -> None:
    with pytest.raises(InvalidJson):
        parse_webhook(b'{"version": "4", ', tenant_label="tenant")


def test_too_many_alerts() -> None:
    payload = webhook([am_webhook_alert({**LABELS, "i": str(i)}) for i in range(3)])
    with pytest.raises(InvalidInput) as info:
        parse(payload, max_alerts=2)
    assert info.value.problems[0].field == "alerts"
