"""Record values to alerts: pure parsing, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from daemon.alerts.fingerprint import fingerprint
from daemon.alerts.models import AlertStatus, Source
from daemon.ingest.kafka_values import parse_value
from daemon.kernel.errors import InvalidInput

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RECORD_TIME = datetime(2026, 3, 1, 11, 59, 30, tzinfo=UTC)
STARTS = "2026-03-01T11:00:00Z"


def api_alert(**overrides: Any) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "labels": {"alertname": "DiskFull", "tenant": "acme", "instance": "db1"},
        "annotations": {"summary": "disk full"},
        "startsAt": STARTS,
        "generatorURL": "http://prom/graph",
    }
    alert.update(overrides)
    return alert


def webhook(*alerts: dict[str, Any]) -> dict[str, Any]:
    return {"version": "4", "status": "firing", "receiver": "micd", "alerts": list(alerts)}


def webhook_alert(**overrides: Any) -> dict[str, Any]:
    alert = api_alert(status="firing", endsAt="0001-01-01T00:00:00Z", fingerprint="00000000000000aa")
    alert.update(overrides)
    return alert


def parse(value: object, *, key: bytes | None = None) -> list[Any]:
    raw = value if isinstance(value, bytes) else orjson.dumps(value)
    return parse_value(raw, key=key, timestamp=RECORD_TIME, tenant_label="tenant", now=NOW)


# (case, value, key, expected [(tenant, status, fingerprint or None for label-derived, starts_at)])
VALID = [
    ("api v2 alert firing", api_alert(), None, [("acme", "firing", None, STARTS)]),
    (
        "api v2 endsAt passed -> resolved",
        api_alert(endsAt="2026-03-01T11:30:00Z"),
        None,
        [("acme", "resolved", None, STARTS)],
    ),
    (
        "api v2 endsAt equals now -> resolved",
        api_alert(endsAt=NOW.isoformat()),
        None,
        [("acme", "resolved", None, STARTS)],
    ),
    (
        "api v2 endsAt in future -> firing",
        api_alert(endsAt="2026-03-01T13:00:00Z"),
        None,
        [("acme", "firing", None, STARTS)],
    ),
    (
        "api v2 zero endsAt -> firing",
        api_alert(endsAt="0001-01-01T00:00:00Z"),
        None,
        [("acme", "firing", None, STARTS)],
    ),
    (
        "api v2 without startsAt takes record time",
        {"labels": {"alertname": "X", "tenant": "acme"}},
        None,
        [("acme", "firing", None, RECORD_TIME.isoformat())],
    ),
    (
        "api v2 tenant from key",
        api_alert(labels={"alertname": "DiskFull"}),
        b"globex",
        [("globex", "firing", None, STARTS)],
    ),
    ("api v2 label wins over key", api_alert(), b"globex", [("acme", "firing", None, STARTS)]),
    ("no label, no key -> default", api_alert(labels={"alertname": "A"}), None, [("default", "firing", None, STARTS)]),
    (
        "webhook keeps its fingerprint and status",
        webhook(webhook_alert(), webhook_alert(status="resolved", endsAt="2026-03-01T11:10:00Z", fingerprint="bb")),
        None,
        [("acme", "firing", "00000000000000aa", STARTS), ("acme", "resolved", "bb", STARTS)],
    ),
    (
        "webhook tenant from key",
        webhook(webhook_alert(labels={"alertname": "A"})),
        b"initech",
        [("initech", "firing", "00000000000000aa", STARTS)],
    ),
    (
        "array mixing both forms",
        [api_alert(), webhook(webhook_alert(), webhook_alert(fingerprint="cc"))],
        None,
        [
            ("acme", "firing", None, STARTS),
            ("acme", "firing", "00000000000000aa", STARTS),
            ("acme", "firing", "cc", STARTS),
        ],
    ),
    ("empty array", [], None, []),
    ("webhook with no alerts", webhook(), None, []),
]


@pytest.mark.parametrize(("value", "key", "expected"), [c[1:] for c in VALID], ids=[c[0] for c in VALID])
def test_valid_values(value: object, key: bytes | None, expected: list[tuple[str, str, str | None, str]]) -> None:
    alerts = parse(value, key=key)
    got = [(a.tenant, a.status.value, a.fingerprint, a.starts_at) for a in alerts]
    want = [
        (tenant, status, fp or fingerprint(alert.labels), datetime.fromisoformat(starts))
        for (tenant, status, fp, starts), alert in zip(expected, alerts, strict=True)
    ]
    assert got == want
    assert all(a.source is Source.KAFKA for a in alerts)


def test_api_alert_fields_carried_over() -> None:
    (alert,) = parse(api_alert(endsAt="2026-03-01T11:30:00Z"))
    assert alert.labels == {"alertname": "DiskFull", "tenant": "acme", "instance": "db1"}
    assert alert.annotations == {"summary": "disk full"}
    assert alert.generator_url == "http://prom/graph"
    assert alert.ends_at == datetime(2026, 3, 1, 11, 30, tzinfo=UTC)
    assert alert.status is AlertStatus.RESOLVED


def test_same_labels_same_fingerprint_whatever_the_order() -> None:
    (a,) = parse(api_alert(labels={"alertname": "A", "tenant": "acme", "x": "1"}))
    (b,) = parse(api_alert(labels={"x": "1", "tenant": "acme", "alertname": "A"}))
    assert a.fingerprint == b.fingerprint == fingerprint({"alertname": "A", "tenant": "acme", "x": "1"})


def test_redelivery_later_is_the_same_sighting() -> None:
    """The same record parsed an hour later (redelivery) yields the same alert as long as it has not ended."""
    value = orjson.dumps({"labels": {"alertname": "A", "tenant": "acme"}})
    first = parse_value(value, key=None, timestamp=RECORD_TIME, tenant_label="tenant", now=NOW)
    again = parse_value(value, key=None, timestamp=RECORD_TIME, tenant_label="tenant", now=NOW + timedelta(hours=1))
    assert first == again


# (case, raw value, key, field named by the error)
INVALID = [
    ("not json", b"{nope", None, "value"),
    ("empty value", b"", None, "value"),
    ("a number", b"42", None, "value"),
    ("array of strings", orjson.dumps(["x"]), None, "value[0]"),
    ("api v2 no labels", orjson.dumps({"annotations": {}}), None, "value.labels"),
    ("api v2 empty labels", orjson.dumps(api_alert(labels={})), None, "value.labels"),
    ("api v2 bad startsAt", orjson.dumps(api_alert(startsAt="yesterday")), None, "value.startsAt"),
    ("api v2 label value not a string", orjson.dumps(api_alert(labels={"a": 1})), None, "value.labels.a"),
    ("bad tenant label", orjson.dumps(api_alert(labels={"tenant": "no spaces"})), None, "value.labels.tenant"),
    ("key is not a tenant id", orjson.dumps(api_alert(labels={"a": "b"})), b"bad key!", "key"),
    ("key is not utf-8", orjson.dumps(api_alert(labels={"a": "b"})), b"\xff\xfe", "key"),
    ("webhook wrong version", orjson.dumps({**webhook(webhook_alert()), "version": "3"}), None, "value.version"),
    ("webhook alert without status", orjson.dumps(webhook(api_alert())), None, "value.alerts[0].status"),
    (
        "array: second webhook's bad tenant",
        orjson.dumps([api_alert(), webhook(webhook_alert(), webhook_alert(labels={"tenant": "-x"}))]),
        None,
        "value[1].alerts[1].labels.tenant",
    ),
]


@pytest.mark.parametrize(("raw", "key", "field"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_values_name_the_field(raw: bytes, key: bytes | None, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(raw, key=key)
    assert field in [p.field for p in caught.value.problems]


def test_key_ignored_when_every_alert_has_a_label() -> None:
    (alert,) = parse(api_alert(), key=b"\xff not a tenant")
    assert alert.tenant == "acme"


def test_too_many_alerts_in_one_record() -> None:
    value = orjson.dumps([api_alert(labels={"alertname": str(i)}) for i in range(3)])
    with pytest.raises(InvalidInput) as caught:
        parse_value(value, key=None, timestamp=RECORD_TIME, tenant_label="tenant", now=NOW, max_alerts=2)
    assert caught.value.problems[0].field == "value"
