"""Governed mitigation: a DAG of actions with pre-checks, rollback plans and approval for high risk.

The queue answers two questions a commander asks every few minutes: what can we do next (ready actions by
priority) and why is the rest waiting (each blocked action says what blocks it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from daemon.command.models import Incident, validated_links
from daemon.kernel.errors import Conflict, GateNotMet, InvalidInput


class Risk(StrEnum):
    LOW = "low"
    RISKY = "risky"
    HIGH = "high"


class ActionState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    CANCELED = "canceled"


class ServiceLink(BaseModel):
    """A runbook or knowledge article of a catalogue service, copied onto an action when it is queued.

    Copied, not looked up at read time, so the action shows what the responder was pointed at even after
    the catalogue changed. `ref` is a URL or a knowledge-base number (the catalogue allows both).
    """

    model_config = ConfigDict(frozen=True)

    service: str
    kind: Literal["runbook", "knowledge"]
    ref: str


class ActionSpec(BaseModel):
    """What a commander proposes to do."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    owner: str = Field(min_length=1)
    priority: int = Field(3, ge=1, le=5, description="1 runs first")
    depends_on: list[str] = Field(default_factory=list, description="ids of actions that must succeed first")
    precheck: str = Field(min_length=1, description="what to verify before starting")
    risk: Risk = Risk.LOW
    rollback_plan: str = Field("", description="required for risky and high-risk actions")
    links: list[str] = Field(default_factory=list, description="further http(s) links the commander adds")
    services: list[str] = Field(
        default_factory=list,
        description="catalogue services the action works on; their runbook and knowledge links are attached "
        "(none named: those of the incident's probable cause and services)",
    )


class Action(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    incident_id: str
    title: str
    owner: str
    priority: int
    depends_on: list[str]
    precheck: str
    precheck_passed: bool | None = None
    precheck_note: str = ""
    risk: Risk
    rollback_plan: str
    links: list[str]
    service_links: list[ServiceLink] = Field(default_factory=list, description="from the service catalogue")
    approved_by: str | None = None
    approved_at: datetime | None = None
    state: ActionState = ActionState.PENDING
    outcome_note: str = ""
    created_by: str
    created_at: datetime
    updated_at: datetime

    @property
    def rollback_offered(self) -> bool:
        """A failed action offers its rollback until someone performs it."""
        return self.state is ActionState.FAILED and bool(self.rollback_plan)


class Queue(BaseModel):
    model_config = ConfigDict(frozen=True)

    ready: list[Action]
    blocked: list[tuple[Action, list[str]]]


def create(
    *,
    spec: ActionSpec,
    action_id: str,
    incident_id: str,
    existing: Sequence[Action],
    service_links: Sequence[ServiceLink] = (),
    actor: str,
    now: datetime,
) -> Action:
    """A new pending action; refuses unknown dependencies and risky actions without a rollback plan."""
    if spec.risk is not Risk.LOW and not spec.rollback_plan.strip():
        raise InvalidInput.field("rollback_plan", f"required for a {spec.risk.value} action")
    known = {a.id for a in existing}
    _check_known(spec.depends_on, known)
    links = validated_links("links", spec.links)
    return Action(
        id=action_id,
        incident_id=incident_id,
        title=spec.title.strip(),
        owner=spec.owner.strip(),
        priority=spec.priority,
        depends_on=list(dict.fromkeys(spec.depends_on)),
        precheck=spec.precheck.strip(),
        risk=spec.risk,
        rollback_plan=spec.rollback_plan.strip(),
        links=links,
        service_links=list(dict.fromkeys(service_links)),
        created_by=actor,
        created_at=now,
        updated_at=now,
    )


def linked_services(*, spec: ActionSpec, incident: Incident) -> list[str]:
    """Whose links an action gets: the services it names; else the incident's probable cause, then its services."""
    named = [s.strip() for s in spec.services if s.strip()]
    if named:
        return list(dict.fromkeys(named))
    cause = [incident.probable_cause] if incident.probable_cause else []
    return list(dict.fromkeys([*cause, *incident.services]))


def relink(*, action: Action, depends_on: Sequence[str], existing: Sequence[Action], now: datetime) -> Action:
    """Change an action's dependencies; a change that would close a cycle is refused with the cycle named."""
    _require(action, ActionState.PENDING, "change dependencies of")
    _check_known(depends_on, {a.id for a in existing} - {action.id})
    graph = {a.id: list(a.depends_on) for a in existing}
    graph[action.id] = list(depends_on)
    loop = find_cycle(graph)
    if loop:
        raise InvalidInput.field("depends_on", "would create a cycle: " + " -> ".join(loop))
    return action.model_copy(update={"depends_on": list(dict.fromkeys(depends_on)), "updated_at": now})


def find_cycle(graph: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A dependency cycle as a path that starts and ends on the same action, or None for a DAG."""
    done: set[str] = set()
    for root in sorted(graph):
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            node, index = stack.pop()
            if index == 0:
                if node in on_path:
                    return [*path[path.index(node) :], node]
                if node in done:
                    continue
                path.append(node)
                on_path.add(node)
            deps = graph.get(node, ())
            if index < len(deps):
                stack.append((node, index + 1))
                stack.append((deps[index], 0))
            else:
                done.add(path.pop())
                on_path.discard(node)
    return None


def blockers(*, action: Action, actions: Sequence[Action]) -> list[str]:
    """Why a pending action cannot start now, in words a commander can act on."""
    by_id = {a.id: a for a in actions}
    reasons = [
        f"waits for {dep} ({by_id[dep].state.value})"
        for dep in action.depends_on
        if dep in by_id and by_id[dep].state is not ActionState.SUCCEEDED
    ]
    if action.precheck_passed is not True:
        state = "failed" if action.precheck_passed is False else "not run"
        reasons.append(f"pre-check {state}: {action.precheck}")
    if action.risk is Risk.HIGH and action.approved_by is None:
        reasons.append("needs approval by an approver (high risk)")
    return reasons


def queue(actions: Sequence[Action]) -> Queue:
    """Pending actions split into ready (by priority, then age) and blocked (with reasons)."""
    pending = sorted(
        (a for a in actions if a.state is ActionState.PENDING), key=lambda a: (a.priority, a.created_at, a.id)
    )
    ready: list[Action] = []
    blocked: list[tuple[Action, list[str]]] = []
    for action in pending:
        reasons = blockers(action=action, actions=actions)
        if reasons:
            blocked.append((action, reasons))
        else:
            ready.append(action)
    return Queue(ready=ready, blocked=blocked)


def record_precheck(*, action: Action, passed: bool, note: str, now: datetime) -> Action:
    _require(action, ActionState.PENDING, "pre-check")
    if not passed and not note.strip():
        raise InvalidInput.field("note", "say what the failed pre-check found")
    return action.model_copy(update={"precheck_passed": passed, "precheck_note": note.strip(), "updated_at": now})


def approve(*, action: Action, approver: str, now: datetime) -> Action:
    """Four eyes: the approver of a high-risk action is not its owner."""
    _require(action, ActionState.PENDING, "approve")
    if action.risk is not Risk.HIGH:
        raise Conflict(f"action {action.id} is {action.risk.value} risk and needs no approval")
    if approver == action.owner:
        raise Conflict(f"action {action.id}: the owner {approver!r} cannot approve their own high-risk action")
    return action.model_copy(update={"approved_by": approver, "approved_at": now, "updated_at": now})


def start(*, action: Action, actions: Sequence[Action], now: datetime) -> Action:
    _require(action, ActionState.PENDING, "start")
    reasons = blockers(action=action, actions=actions)
    if reasons:
        raise GateNotMet(f"action {action.id} is blocked: " + "; ".join(reasons), missing=tuple(reasons))
    return action.model_copy(update={"state": ActionState.RUNNING, "updated_at": now})


def finish(*, action: Action, succeeded: bool, note: str, now: datetime) -> Action:
    """Record the outcome; a failure must say what happened, and then offers the rollback plan."""
    _require(action, ActionState.RUNNING, "record the outcome of")
    if not succeeded and not note.strip():
        raise InvalidInput.field("note", "say how the action failed")
    state = ActionState.SUCCEEDED if succeeded else ActionState.FAILED
    return action.model_copy(update={"state": state, "outcome_note": note.strip(), "updated_at": now})


def roll_back(*, action: Action, note: str, now: datetime) -> Action:
    if not action.rollback_offered:
        raise Conflict(f"action {action.id} is {action.state.value} and offers no rollback")
    return action.model_copy(update={"state": ActionState.ROLLED_BACK, "outcome_note": note.strip(), "updated_at": now})


def cancel(*, action: Action, note: str, now: datetime) -> Action:
    _require(action, ActionState.PENDING, "cancel")
    if not note.strip():
        raise InvalidInput.field("note", "say why the action is canceled")
    return action.model_copy(update={"state": ActionState.CANCELED, "outcome_note": note.strip(), "updated_at": now})


class ActionStep(BaseModel):
    """One step on an action, as the API and CLI send it; `passed` is for precheck, `depends_on` for relink."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    step: Literal["precheck", "approve", "start", "succeed", "fail", "rollback", "cancel", "relink"]
    note: str = Field("", max_length=4000)
    passed: bool | None = None
    depends_on: list[str] | None = None


def apply(*, step: ActionStep, action: Action, existing: Sequence[Action], actor: str, now: datetime) -> Action:
    """Dispatch a step to its rule; `actor` is the approver for `approve`."""
    match step.step:
        case "precheck":
            if step.passed is None:
                raise InvalidInput.field("passed", "say whether the pre-check passed")
            return record_precheck(action=action, passed=step.passed, note=step.note, now=now)
        case "approve":
            return approve(action=action, approver=actor, now=now)
        case "start":
            return start(action=action, actions=existing, now=now)
        case "succeed" | "fail":
            return finish(action=action, succeeded=step.step == "succeed", note=step.note, now=now)
        case "rollback":
            return roll_back(action=action, note=step.note, now=now)
        case "cancel":
            return cancel(action=action, note=step.note, now=now)
        case "relink":
            if step.depends_on is None:
                raise InvalidInput.field("depends_on", "give the new list of dependencies")
            return relink(action=action, depends_on=step.depends_on, existing=existing, now=now)


def _require(action: Action, state: ActionState, verb: str) -> None:
    if action.state is not state:
        raise Conflict(f"cannot {verb} action {action.id}: it is {action.state.value}, not {state.value}")


def _check_known(depends_on: Sequence[str], known: set[str]) -> None:
    for index, dep in enumerate(depends_on):
        if dep not in known:
            raise InvalidInput.field(f"depends_on[{index}]", f"no action {dep!r} in this incident")
