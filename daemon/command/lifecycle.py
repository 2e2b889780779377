"""The incident lifecycle as an explicit transition table with a quality gate on every step.

A transition is a command with an actor, a time and evidence. The table says which commands each state
accepts; the gates say what evidence each command needs. A refusal names every missing gate at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from daemon.command import closure
from daemon.command.mitigation import Action, ActionState
from daemon.command.models import Incident, IncidentState, Lane, validated_links
from daemon.command.review import Review, missing_sections
from daemon.kernel.errors import Conflict, GateNotMet

S = IncidentState


class Command(StrEnum):
    DECLARE = "declare"
    REJECT = "reject"
    MITIGATE = "mitigate"
    MONITOR = "monitor"
    RESOLVE = "resolve"
    REVIEW = "review"
    CLOSE = "close"
    CANCEL = "cancel"


TRANSITIONS: Mapping[tuple[IncidentState, Command], IncidentState] = {
    (S.PROPOSED, Command.DECLARE): S.DECLARED,
    (S.PROPOSED, Command.REJECT): S.REJECTED,
    (S.DECLARED, Command.MITIGATE): S.MITIGATING,
    (S.MITIGATING, Command.MONITOR): S.MONITORING,
    (S.MONITORING, Command.MITIGATE): S.MITIGATING,  # the fix did not hold
    (S.MONITORING, Command.RESOLVE): S.RESOLVED,
    (S.RESOLVED, Command.REVIEW): S.REVIEW,
    (S.REVIEW, Command.CLOSE): S.CLOSED,
    (S.PROPOSED, Command.CANCEL): S.CANCELED,
    (S.DECLARED, Command.CANCEL): S.CANCELED,
    (S.MITIGATING, Command.CANCEL): S.CANCELED,
    (S.MONITORING, Command.CANCEL): S.CANCELED,
}


@dataclass(frozen=True)
class GateFacts:
    """What the gates look at, gathered by the shell from the store inside the transition's transaction."""

    incident: Incident
    lanes: Mapping[Lane, str]
    actions: Sequence[Action]
    alerts_firing: int
    review: Review | None
    note: str


Gate = Callable[[GateFacts], Iterable[str]]


def _lane(lane: Lane) -> Gate:
    return lambda f: () if f.lanes.get(lane) else (f"lanes.{lane.value}",)


def _note(f: GateFacts) -> Iterable[str]:
    return () if f.note.strip() else ("note",)


def _mitigation_succeeded(f: GateFacts) -> Iterable[str]:
    if not any(a.state is ActionState.SUCCEEDED for a in f.actions):
        yield "mitigation.succeeded (no mitigation action has succeeded)"
    running = [a.id for a in f.actions if a.state is ActionState.RUNNING]
    if running:
        yield "mitigation.none_running (still running: " + ", ".join(running) + ")"


def _closure(f: GateFacts) -> Iterable[str]:
    return closure.missing(evidence=f.incident.closure, alerts_firing=f.alerts_firing)


def _review_facilitator(f: GateFacts) -> Iterable[str]:
    return () if f.review is not None and f.review.facilitator else ("review.facilitator",)


def _review_written(f: GateFacts) -> Iterable[str]:
    return missing_sections(f.review)


GATES: Mapping[Command, tuple[Gate, ...]] = {
    Command.DECLARE: (_lane(Lane.COMMANDER),),
    Command.REJECT: (_note,),
    Command.MITIGATE: (_lane(Lane.TECHNICAL_LEAD), _lane(Lane.COMMUNICATIONS), _note),
    Command.MONITOR: (_mitigation_succeeded, _note),
    Command.RESOLVE: (_closure,),
    Command.REVIEW: (_review_facilitator,),
    Command.CLOSE: (_review_written,),
    Command.CANCEL: (_note,),
}


class TransitionRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    command: Command
    note: str = Field("", max_length=4000, description="what happened; required for reject, cancel, mitigate, monitor")
    evidence_links: list[str] = Field(default_factory=list)


class Transition(BaseModel):
    """A recorded step: the shell stores it, journals it to ServiceNow and puts it on the commander's lane."""

    model_config = ConfigDict(frozen=True)

    incident_id: str
    command: Command
    from_state: IncidentState
    to_state: IncidentState
    actor: str
    note: str
    evidence_links: list[str]
    at: datetime

    def journal_text(self) -> str:
        text = f"[micd] {self.incident_id}: {self.from_state.value} -> {self.to_state.value} by {self.actor}"
        if self.note:
            text += f": {self.note}"
        return text + "".join(f"\nEvidence: {link}" for link in self.evidence_links)


def allowed(state: IncidentState) -> list[Command]:
    return [command for (source, command) in TRANSITIONS if source is state]


def missing(command: Command, facts: GateFacts) -> tuple[str, ...]:
    return tuple(gap for gate in GATES[command] for gap in gate(facts))


def transition(
    *, request: TransitionRequest, facts: GateFacts, actor: str, now: datetime
) -> tuple[Incident, Transition]:
    """Apply one command: Conflict if the state does not accept it, GateNotMet listing every missing gate."""
    incident = facts.incident
    target = TRANSITIONS.get((incident.state, request.command))
    if target is None:
        options = ", ".join(c.value for c in allowed(incident.state)) or "none"
        raise Conflict(f"{incident.id} is {incident.state.value}: cannot {request.command.value} (allowed: {options})")
    gaps = missing(request.command, facts)
    if gaps:
        raise GateNotMet(f"cannot {request.command.value} {incident.id}: missing " + "; ".join(gaps), missing=gaps)
    links = validated_links("evidence_links", request.evidence_links)
    update: dict[str, object] = {"state": target, "updated_at": now}
    if target is S.RESOLVED:
        update.update(resolved_at=now, next_update_due=None)
    elif target in (S.CLOSED, S.REJECTED, S.CANCELED):
        update.update(closed_at=now, next_update_due=None)
    step = Transition(
        incident_id=incident.id,
        command=request.command,
        from_state=incident.state,
        to_state=target,
        actor=actor,
        note=request.note.strip(),
        evidence_links=links,
        at=now,
    )
    return incident.model_copy(update=update), step


def pending_gates(facts: GateFacts) -> dict[str, list[str]]:
    """For each command the current state accepts, what is still missing: the commander's checklist."""
    return {command.value: list(missing(command, facts)) for command in allowed(facts.incident.state)}
