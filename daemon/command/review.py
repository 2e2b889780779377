"""Post-incident review: due within N business days of resolution (tenant calendar), a fixed template,
action items with owners and due dates tracked to closure, and a Markdown export."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from daemon.command.decisions import Decision
from daemon.command.models import Incident, TimelineEntry
from daemon.kernel.errors import Conflict, InvalidInput

SECTIONS = ("summary", "timeline", "root_cause", "went_well", "went_badly")
SECTION_TITLES = {
    "summary": "Summary",
    "timeline": "Timeline",
    "root_cause": "Root cause",
    "went_well": "What went well",
    "went_badly": "What went badly",
}


class Review(BaseModel):
    model_config = ConfigDict(frozen=True)

    incident_id: str
    due_on: date
    facilitator: str = ""
    sections: dict[str, str] = Field(default_factory=dict)
    scheduled_at: datetime
    completed_at: datetime | None = None


class ReviewActionState(StrEnum):
    OPEN = "open"
    DONE = "done"


class ReviewActionSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    owner: str = Field(min_length=1)
    due: date


class ReviewAction(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    incident_id: str
    title: str
    owner: str
    due: date
    state: ReviewActionState = ReviewActionState.OPEN
    note: str = ""
    created_at: datetime
    closed_at: datetime | None = None
    closed_by: str | None = None


def business_days_after(*, start: date, days: int, holidays: Iterable[date]) -> date:
    """The date `days` working days after `start`: weekends and the tenant's holidays do not count."""
    off = set(holidays)
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5 and current not in off:
            remaining -= 1
    return current


def schedule(
    *,
    incident_id: str,
    resolved_at: datetime,
    business_days: int,
    tz: tzinfo,
    holidays: Iterable[date],
    now: datetime,
) -> Review:
    """The review is due N business days after the tenant-local date the incident was resolved."""
    local_day = resolved_at.astimezone(tz).date()
    due = business_days_after(start=local_day, days=business_days, holidays=holidays)
    return Review(incident_id=incident_id, due_on=due, scheduled_at=now)


def complete(*, review: Review, now: datetime) -> Review:
    """Closing the incident completes its review: the record signed off no longer changes."""
    return review if review.completed_at is not None else review.model_copy(update={"completed_at": now})


def edit(*, review: Review, facilitator: str | None, sections: dict[str, str]) -> Review:
    if review.completed_at is not None:
        raise Conflict(f"the review of {review.incident_id} is complete and can no longer change")
    for name in sections:
        if name not in SECTIONS:
            raise InvalidInput.field(f"sections.{name}", "not a review section; use one of " + ", ".join(SECTIONS))
    update: dict[str, object] = {"sections": {**review.sections, **{k: v.strip() for k, v in sections.items()}}}
    if facilitator is not None:
        if not facilitator.strip():
            raise InvalidInput.field("facilitator", "must not be blank")
        update["facilitator"] = facilitator.strip()
    return review.model_copy(update=update)


def missing_sections(review: Review | None) -> tuple[str, ...]:
    if review is None:
        return ("review.scheduled",)
    return tuple(f"review.sections.{name}" for name in SECTIONS if not review.sections.get(name, "").strip())


def add_action(*, spec: ReviewActionSpec, action_id: str, incident_id: str, today: date, now: datetime) -> ReviewAction:
    if spec.due < today:
        raise InvalidInput.field("due", f"{spec.due} is before today ({today})")
    return ReviewAction(
        id=action_id,
        incident_id=incident_id,
        title=spec.title.strip(),
        owner=spec.owner.strip(),
        due=spec.due,
        created_at=now,
    )


def close_action(*, action: ReviewAction, actor: str, note: str, now: datetime) -> ReviewAction:
    if action.state is ReviewActionState.DONE:
        raise Conflict(f"review action {action.id} is already done")
    return action.model_copy(
        update={"state": ReviewActionState.DONE, "note": note.strip(), "closed_at": now, "closed_by": actor}
    )


def overdue(actions: Iterable[ReviewAction], *, today: date) -> list[ReviewAction]:
    return [a for a in actions if a.state is ReviewActionState.OPEN and a.due < today]


def to_markdown(
    *,
    incident: Incident,
    review: Review,
    timeline: Sequence[TimelineEntry],
    decisions: Sequence[Decision],
    actions: Sequence[ReviewAction],
) -> str:
    """The review as one Markdown document: the written sections plus the recorded timeline and decision log."""
    lines = [
        f"# Post-incident review: {incident.id} {incident.title}",
        "",
        f"- Tenant: {incident.tenant}",
        f"- Priority: P{incident.priority}",
        f"- Declared: {incident.declared_at.isoformat()}",
        f"- Resolved: {incident.resolved_at.isoformat() if incident.resolved_at else 'not yet'}",
        f"- Review due: {review.due_on.isoformat()}",
        f"- Facilitator: {review.facilitator or 'unassigned'}",
        f"- Residual risk: {incident.closure.residual_risk or 'not stated'}",
    ]
    for name in SECTIONS:
        lines += ["", f"## {SECTION_TITLES[name]}", "", review.sections.get(name, "").strip() or "_(not written)_"]
    lines += ["", "## Recorded timeline", ""]
    lines += [f"- {e.at.isoformat()} [{e.lane.value}] {e.actor}: {_one_line(e.text)}" for e in timeline] or ["_none_"]
    lines += ["", "## Decision log", ""]
    for d in decisions:
        fix = f" (corrects #{d.corrects})" if d.corrects is not None else ""
        lines.append(f"{d.number}. {d.at.isoformat()} {d.owner}: {_one_line(d.decision)}{fix}")
        lines.append(f"   - Rationale: {_one_line(d.rationale)}")
        if d.alternatives:
            lines.append("   - Alternatives: " + "; ".join(_one_line(a) for a in d.alternatives))
        lines += [f"   - Evidence: <{link}>" for link in d.evidence_links]
    if not decisions:
        lines.append("_none_")
    lines += ["", "## Action items", "", "| id | action | owner | due | state |", "| --- | --- | --- | --- | --- |"]
    lines += [
        f"| {a.id} | {_cell(a.title)} | {_cell(a.owner)} | {a.due.isoformat()} | {a.state.value} |" for a in actions
    ]
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|")
