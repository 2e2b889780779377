"""Kafka record values: an Alertmanager webhook (v4), one alert in Alertmanager API v2 form, or an array of those.

Senders fan alerts into Kafka from many tools, so the record key is the tenant fallback (partitioning by tenant is
the common layout), and API v2 alerts carry neither status nor fingerprint: both are derived here, the same way
Alertmanager derives them, so an alert seen through Kafka and through the webhook is the same alert.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from daemon.alerts.models import Alert, AlertStatus, Source
from daemon.ingest.alertmanager import (
    TENANT_RE,
    WebhookAlert,
    WebhookPayload,
    field_path,
    invalid_from,
    resolve_tenant,
    to_alert,
)
from daemon.kernel.errors import InvalidInput


class ApiAlert(BaseModel):
    """Alertmanager API v2 `postableAlert`. startsAt may be omitted there; see `parse_value` for what we use."""

    model_config = ConfigDict(extra="ignore")

    labels: dict[str, str] = Field(min_length=1)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime | None = None  # noqa: N815 - Alertmanager's field names
    endsAt: datetime | None = None  # noqa: N815
    generatorURL: str = ""  # noqa: N815


class _Record:
    """What every alert of one record shares: where it came from and how its tenant and times default."""

    def __init__(self, *, key: bytes | None, timestamp: datetime, tenant_label: str, now: datetime) -> None:
        self.key = key
        self.timestamp = timestamp
        self.tenant_label = tenant_label
        self.now = now

    def key_tenant(self) -> str | None:
        """The record key as a tenant id; only consulted (and only refused) when an alert has no tenant label."""
        if not self.key:
            return None
        try:
            tenant = self.key.decode()
        except UnicodeDecodeError as exc:
            raise InvalidInput.field("key", "no tenant label, and the key is not UTF-8") from exc
        if not TENANT_RE.match(tenant):
            raise InvalidInput.field("key", f"no tenant label, and the key does not match {TENANT_RE.pattern}")
        return tenant

    def tenant(self, labels: dict[str, str], *, where: str) -> str:
        fallback = None if self.tenant_label in labels else self.key_tenant()
        return resolve_tenant(labels, tenant_label=self.tenant_label, bound_tenant=fallback, field=where)

    def webhook(self, body: dict[str, Any], *, at: tuple[int | str, ...]) -> list[Alert]:
        try:
            payload = WebhookPayload.model_validate(body)
        except ValidationError as exc:
            raise invalid_from(exc, prefix=at) from exc
        alerts = []
        for i, raw in enumerate(payload.alerts):
            where = field_path((*at, "alerts", i))
            alerts.append(to_alert(raw, tenant=self.tenant(raw.labels, where=where), source=Source.KAFKA))
        return alerts

    def api_alert(self, body: dict[str, Any], *, at: tuple[int | str, ...]) -> Alert:
        try:
            raw = ApiAlert.model_validate(body)
        except ValidationError as exc:
            raise invalid_from(exc, prefix=at) from exc
        # A missing startsAt takes the record's timestamp, not `now`: a redelivered record must be the same episode.
        as_webhook = WebhookAlert(
            status="firing",
            labels=raw.labels,
            annotations=raw.annotations,
            startsAt=raw.startsAt or self.timestamp,
            endsAt=raw.endsAt,
            generatorURL=raw.generatorURL,
        )
        alert = to_alert(as_webhook, tenant=self.tenant(raw.labels, where=field_path(at)), source=Source.KAFKA)
        if alert.ends_at is not None and alert.ends_at <= self.now:
            return alert.model_copy(update={"status": AlertStatus.RESOLVED})
        return alert

    def one(self, body: object, *, at: tuple[int | str, ...]) -> list[Alert]:
        if not isinstance(body, dict):
            raise InvalidInput.field(field_path(at), "must be a JSON object (a webhook payload or an API v2 alert)")
        if "alerts" in body or "version" in body:
            return self.webhook(body, at=at)
        return [self.api_alert(body, at=at)]


def parse_value(
    value: bytes | None,
    *,
    key: bytes | None,
    timestamp: datetime,
    tenant_label: str,
    now: datetime,
    max_alerts: int = 10_000,
) -> list[Alert]:
    """All alerts of one record, or InvalidInput naming the field: one bad alert refuses the whole record.

    `timestamp` is the record's own time (startsAt when an API v2 alert omits it); `now` decides whether an
    API v2 alert whose endsAt has passed is resolved.
    """
    if not value:
        raise InvalidInput.field("value", "empty record value")
    try:
        body = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput.field("value", f"not JSON: {exc}") from exc
    record = _Record(key=key, timestamp=timestamp, tenant_label=tenant_label, now=now)
    if isinstance(body, list):
        alerts = [alert for i, item in enumerate(body) for alert in record.one(item, at=("value", i))]
    else:
        alerts = record.one(body, at=("value",))
    if len(alerts) > max_alerts:
        raise InvalidInput.field("value", f"at most {max_alerts} alerts per record")
    return alerts
