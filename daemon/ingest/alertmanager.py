"""The Alertmanager webhook, payload version 4, as Alertmanager 0.25 and later send it."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from daemon.alerts.fingerprint import fingerprint
from daemon.alerts.models import DEFAULT_TENANT, Alert, AlertStatus, Source
from daemon.kernel.clock import utc
from daemon.kernel.errors import FieldProblem, InvalidInput

TENANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class WebhookAlert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(min_length=1)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime  # noqa: N815 - Alertmanager's field names
    endsAt: datetime | None = None  # noqa: N815
    generatorURL: str = ""  # noqa: N815
    fingerprint: str = Field("", pattern=r"^[0-9a-f]{0,64}$")


class WebhookPayload(BaseModel):
    """Newer fields (notification_reason, routeLabels, ...) are tolerated and ignored."""

    model_config = ConfigDict(extra="ignore")

    version: Literal["4"]
    groupKey: str = ""  # noqa: N815
    truncatedAlerts: int = 0  # noqa: N815
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    commonLabels: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    commonAnnotations: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    externalURL: str = ""  # noqa: N815
    alerts: list[WebhookAlert]


def field_path(loc: tuple[int | str, ...]) -> str:
    """('alerts', 3, 'labels') -> 'alerts[3].labels', the way people write JSON paths."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(body)"


def invalid_from(exc: ValidationError, *, prefix: tuple[int | str, ...] = ()) -> InvalidInput:
    problems = tuple(FieldProblem(field_path(prefix + tuple(e["loc"])), e["msg"]) for e in exc.errors())
    summary = "; ".join(f"{p.field}: {p.reason}" for p in problems[:5])
    return InvalidInput(f"invalid payload: {summary}", problems=problems)


def _ends_at(value: datetime | None) -> datetime | None:
    # Firing alerts carry Go's zero time, 0001-01-01T00:00:00Z: it means "not ended".
    return None if value is None or value.year <= 1 else utc(value)


def resolve_tenant(labels: dict[str, str], *, tenant_label: str, bound_tenant: str | None, field: str) -> str:
    """The alert's tenant: its label, else the sender's token tenant, else 'default'. A token bound
    to one tenant may not post for another."""
    labelled = labels.get(tenant_label)
    if labelled is not None and not TENANT_RE.match(labelled):
        raise InvalidInput.field(f"{field}.labels.{tenant_label}", f"tenant id must match {TENANT_RE.pattern}")
    if bound_tenant is not None and labelled is not None and labelled != bound_tenant:
        raise InvalidInput.field(
            f"{field}.labels.{tenant_label}", f"this sender may only post alerts of tenant {bound_tenant!r}"
        )
    return labelled or bound_tenant or DEFAULT_TENANT


def to_alert(raw: WebhookAlert, *, tenant: str, source: Source = Source.ALERTMANAGER) -> Alert:
    return Alert(
        tenant=tenant,
        fingerprint=raw.fingerprint or fingerprint(raw.labels),
        status=AlertStatus(raw.status),
        labels=raw.labels,
        annotations=raw.annotations,
        starts_at=utc(raw.startsAt),
        ends_at=_ends_at(raw.endsAt),
        generator_url=raw.generatorURL,
        source=source,
    )


def parse_webhook(
    body: bytes | dict[str, Any],
    *,
    tenant_label: str,
    bound_tenant: str | None = None,
    source: Source = Source.ALERTMANAGER,
    max_alerts: int = 10_000,
) -> list[Alert]:
    """Validate a whole payload before anything is stored: one bad alert refuses the request."""
    try:
        if isinstance(body, bytes):
            payload = WebhookPayload.model_validate_json(body)
        else:
            payload = WebhookPayload.model_validate(body)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise InvalidJson(f"malformed JSON: {exc.errors()[0]['msg']}") from exc
        raise invalid_from(exc) from exc
    if len(payload.alerts) > max_alerts:
        raise InvalidInput.field("alerts", f"at most {max_alerts} alerts per request")
    alerts = []
    for i, raw in enumerate(payload.alerts):
        where = f"alerts[{i}]"
        tenant = resolve_tenant(raw.labels, tenant_label=tenant_label, bound_tenant=bound_tenant, field=where)
        alerts.append(to_alert(raw, tenant=tenant, source=source))
    return alerts


class InvalidJson(InvalidInput):
    """The body is not JSON at all (400), as opposed to JSON of the wrong shape (422)."""

    code = "malformed_json"
