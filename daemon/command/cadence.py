"""Status-update cadence: when the next update is due, whether one was on time, when to remind.

An update is one publication: rendered once per audience, sent at once to technical and executive
channels, and to customers only after an approver has approved it. Each publication resets the clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from daemon.command.mitigation import Action, ActionState
from daemon.command.models import ACTIVE_STATES, Audience, Incident, IncidentState, Lane, validated_links
from daemon.kernel.errors import Conflict, InvalidInput


class UpdateSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    summary: str = Field(min_length=1, max_length=4000, description="what is happening now")
    impact: str = Field("", max_length=4000, description="current impact; the incident's business impact if empty")
    audiences: list[Audience] = Field(default_factory=lambda: [Audience.TECHNICAL, Audience.EXECUTIVE])
    evidence_links: list[str] = Field(default_factory=list)


class CustomerState(StrEnum):
    NONE = "none"
    PENDING = "pending_approval"
    SENT = "sent"


class StatusUpdate(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int = 0
    incident_id: str
    tenant: str
    summary: str
    bodies: dict[Audience, str]
    due_at: datetime | None
    on_time: bool
    next_due: datetime | None
    created_by: str
    created_at: datetime
    customer: CustomerState
    approved_by: str | None = None
    approved_at: datetime | None = None


class ActionLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    owner: str
    state: str


class Briefing(BaseModel):
    """Everything a template may show. Templates get this and nothing else."""

    model_config = ConfigDict(frozen=True)

    incident: Incident
    audience: Audience
    summary: str
    impact: str
    actions: list[ActionLine]
    lanes: dict[str, str | None]
    next_update_at: datetime | None
    evidence_links: list[str]
    at: datetime


UPDATABLE = ACTIVE_STATES | {IncidentState.RESOLVED}


def interval(*, priority: int, defaults: Mapping[str, int], override: Mapping[str, int]) -> timedelta:
    """Tenant override first, then the global table; a priority missing from both gets the slowest cadence."""
    table = {**defaults, **override}
    minutes = table.get(str(priority))
    if minutes is None:
        minutes = max(table.values(), default=60)
    return timedelta(minutes=minutes)


def first_due(*, declared_at: datetime, every: timedelta) -> datetime:
    return declared_at + every


def briefing(
    *,
    incident: Incident,
    audience: Audience,
    spec: UpdateSpec,
    actions: Sequence[Action],
    lanes: Mapping[Lane, str | None],
    every: timedelta,
    now: datetime,
) -> Briefing:
    """The facts of one update for one audience; customers see no internal owners or links."""
    next_at = now + every if incident.state in ACTIVE_STATES else None
    shown = [a for a in actions if a.state is not ActionState.CANCELED]
    internal = audience is not Audience.CUSTOMER
    return Briefing(
        incident=incident,
        audience=audience,
        summary=spec.summary.strip(),
        impact=spec.impact.strip() or incident.business_impact,
        actions=[
            ActionLine(id=a.id, title=a.title, owner=a.owner if internal else "", state=a.state.value) for a in shown
        ]
        if internal
        else [],
        lanes={lane.value: owner for lane, owner in lanes.items()} if internal else {},
        next_update_at=next_at,
        evidence_links=validated_links("evidence_links", spec.evidence_links) if internal else [],
        at=now,
    )


def publish(
    *,
    incident: Incident,
    spec: UpdateSpec,
    bodies: Mapping[Audience, str],
    every: timedelta,
    actor: str,
    now: datetime,
) -> tuple[StatusUpdate, Incident]:
    """Record a publication against the cadence: on time if sent by the due time; the next one is due `every` later."""
    if incident.state not in UPDATABLE:
        raise Conflict(f"{incident.id} is {incident.state.value}: status updates end once it is resolved")
    if not spec.audiences:
        raise InvalidInput.field("audiences", "name at least one audience")
    due = incident.next_update_due
    next_due = now + every if incident.state in ACTIVE_STATES else None
    update = StatusUpdate(
        incident_id=incident.id,
        tenant=incident.tenant,
        summary=spec.summary.strip(),
        bodies=dict(bodies),
        due_at=due,
        on_time=due is None or now <= due,
        next_due=next_due,
        created_by=actor,
        created_at=now,
        customer=CustomerState.PENDING if Audience.CUSTOMER in spec.audiences else CustomerState.NONE,
    )
    return update, incident.model_copy(update={"next_update_due": next_due, "updated_at": now})


def approve_customer(*, incident: Incident, update: StatusUpdate, approver: str, now: datetime) -> StatusUpdate:
    """Customer-facing words are approved by someone other than their author before they leave, and only while
    status updates are still being sent: words drafted during the incident are stale once it is in review."""
    if incident.state not in UPDATABLE:
        raise Conflict(
            f"{incident.id} is {incident.state.value}: update {update.id}'s customer message is out of date and "
            "is not sent"
        )
    if update.customer is not CustomerState.PENDING:
        raise Conflict(f"update {update.id} has no customer message awaiting approval ({update.customer.value})")
    if approver == update.created_by:
        raise Conflict(f"update {update.id}: its author {approver!r} cannot approve it")
    return update.model_copy(update={"customer": CustomerState.SENT, "approved_by": approver, "approved_at": now})


def is_overdue(incident: Incident, *, now: datetime) -> bool:
    return incident.state in ACTIVE_STATES and incident.next_update_due is not None and now > incident.next_update_due


def missed_slot(*, before: Incident, after: Incident, now: datetime) -> datetime | None:
    """The due time of an update never sent when a transition stops the update clock (resolve, cancel).

    A late update counts against compliance when it is finally sent; one that never comes must count too, or an
    incident that goes quiet looks compliant."""
    stops = before.state in ACTIVE_STATES and after.state not in ACTIVE_STATES
    return before.next_update_due if stops and is_overdue(before, now=now) else None


def needs_reminder(incident: Incident, *, now: datetime) -> bool:
    """Overdue and not yet reminded for this due time: one reminder per missed slot, even across restarts."""
    return is_overdue(incident, now=now) and incident.reminded_for != incident.next_update_due


def compliance(*, on_time: int, total: int) -> float:
    """Share of updates sent on time; 1.0 before any update, so a quiet tenant is not shown failing."""
    return on_time / total if total else 1.0
