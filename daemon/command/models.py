"""The records the command phase reasons about. Frozen: core functions return new ones, the shell stores them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from daemon.kernel.errors import InvalidInput


class IncidentState(StrEnum):
    PROPOSED = "proposed"
    DECLARED = "declared"
    MITIGATING = "mitigating"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    REVIEW = "review"
    CLOSED = "closed"
    REJECTED = "rejected"
    CANCELED = "canceled"


ACTIVE_STATES = frozenset({IncidentState.DECLARED, IncidentState.MITIGATING, IncidentState.MONITORING})


class Lane(StrEnum):
    """One timeline lane per role; the commander is a lane too so handovers share one history."""

    COMMANDER = "commander"
    COMMUNICATIONS = "communications"
    TECHNICAL_LEAD = "technical_lead"
    SERVICE_OWNER = "service_owner"
    EXECUTIVE_LIAISON = "executive_liaison"


class Audience(StrEnum):
    TECHNICAL = "technical"
    EXECUTIVE = "executive"
    CUSTOMER = "customer"


class ClosureEvidence(BaseModel):
    """What resolving needs; filled in piece by piece while monitoring."""

    model_config = ConfigDict(frozen=True)

    validation_note: str = ""
    validated_by: str = ""
    customer_confirmed_by: str = ""
    customer_confirmed_at: datetime | None = None
    residual_risk: str = ""


class Incident(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    tenant: str
    proposal_id: str
    outage_id: str
    title: str
    business_impact: str = ""
    impact: int = Field(ge=1, le=3)
    urgency: int = Field(ge=1, le=3)
    priority: int = Field(ge=1, le=5)
    state: IncidentState
    services: list[str] = Field(default_factory=list)
    alert_fingerprints: list[str] = Field(default_factory=list, description="the outage's alerts at declaration")
    probable_cause: str | None = None
    predecessor_id: str | None = None
    external_number: str | None = None
    declared_at: datetime
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    next_update_due: datetime | None = Field(None, description="when the next status update is due; None once resolved")
    reminded_for: datetime | None = Field(None, description="the due time the communications lead was last reminded of")
    closure: ClosureEvidence = ClosureEvidence()
    updated_at: datetime


class TimelineEntry(BaseModel):
    """A note or a system event on one lane of the timeline. Decisions live in their own log."""

    model_config = ConfigDict(frozen=True)

    id: int = 0
    incident_id: str
    lane: Lane
    kind: str = Field(description="note | transition | handover | decision | update | action | review | reminder")
    text: str
    actor: str
    at: datetime
    links: list[str] = Field(default_factory=list)


def priority(*, impact: int, urgency: int) -> int:
    """ServiceNow's default priority lookup: P = f(impact, urgency), 1 (critical) to 5 (planning)."""
    return {2: 1, 3: 2, 4: 3, 5: 4, 6: 5}[impact + urgency]


def validated_links(field: str, links: list[str]) -> list[str]:
    """Evidence and runbook links must be absolute http(s) URLs someone can open; duplicates dropped."""
    for index, link in enumerate(links):
        scheme, sep, rest = link.partition("://")
        if not sep or scheme not in ("http", "https") or not rest.strip("/"):
            raise InvalidInput.field(f"{field}[{index}]", "must be an absolute http(s) URL")
    return list(dict.fromkeys(links))
