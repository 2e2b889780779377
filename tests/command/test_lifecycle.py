"""The transition table and its gates as a case table: each gate refuses without its evidence, passes with it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from daemon.command.cadence import CustomerState, StatusUpdate, approve_customer, missed_slot
from daemon.command.lifecycle import TRANSITIONS, Command, GateFacts, TransitionRequest, allowed, transition
from daemon.command.mitigation import Action, ActionState, Risk
from daemon.command.models import Audience, ClosureEvidence, Incident, IncidentState, Lane, priority
from daemon.command.review import SECTIONS, Review, complete, edit
from daemon.kernel.errors import Conflict, GateNotMet, InvalidInput
from tests.command.conftest import T0

S = IncidentState
NO_CLOSURE = ClosureEvidence()
FULL_CLOSURE = ClosureEvidence(
    validation_note="checks green", customer_confirmed_by="Jane", customer_confirmed_at=T0, residual_risk="none"
)


def incident(state: IncidentState, closure: ClosureEvidence = NO_CLOSURE) -> Incident:
    return Incident(
        id="MI-1",
        tenant="acme",
        proposal_id="p",
        outage_id="o",
        title="t",
        impact=1,
        urgency=1,
        priority=1,
        state=state,
        declared_at=T0,
        updated_at=T0,
        next_update_due=T0 + timedelta(minutes=30),
        closure=closure,
    )


def action(state: ActionState) -> Action:
    return Action(
        id="A1",
        incident_id="MI-1",
        title="t",
        owner="bob",
        priority=1,
        depends_on=[],
        precheck="p",
        risk=Risk.LOW,
        rollback_plan="",
        links=[],
        state=state,
        created_by="bob",
        created_at=T0,
        updated_at=T0,
    )


def facts(
    state: IncidentState,
    *,
    lanes: dict[Lane, str] | None = None,
    actions: list[Action] | None = None,
    firing: int = 0,
    review: Review | None = None,
    note: str = "",
    closure: ClosureEvidence = NO_CLOSURE,
) -> GateFacts:
    return GateFacts(
        incident=incident(state, closure),
        lanes=lanes or {},
        actions=actions or [],
        alerts_firing=firing,
        review=review,
        note=note,
    )


REVIEW = Review(incident_id="MI-1", due_on=date(2026, 1, 12), scheduled_at=T0)
WRITTEN = REVIEW.model_copy(update={"facilitator": "frank", "sections": dict.fromkeys(SECTIONS, "text")})
LEADS = {Lane.TECHNICAL_LEAD: "bob", Lane.COMMUNICATIONS: "carol"}

# (command, facts without evidence, the gates it names, facts with evidence, resulting state)
CASES = [
    (
        Command.DECLARE,
        facts(S.PROPOSED),
        ["lanes.commander"],
        facts(S.PROPOSED, lanes={Lane.COMMANDER: "a"}),
        S.DECLARED,
    ),
    (Command.REJECT, facts(S.PROPOSED), ["note"], facts(S.PROPOSED, note="noise"), S.REJECTED),
    (
        Command.MITIGATE,
        facts(S.DECLARED),
        ["lanes.technical_lead", "lanes.communications", "note"],
        facts(S.DECLARED, lanes=LEADS, note="go"),
        S.MITIGATING,
    ),
    (
        Command.MONITOR,
        facts(S.MITIGATING, actions=[action(ActionState.RUNNING)], note="x"),
        ["mitigation.succeeded", "mitigation.none_running"],
        facts(S.MITIGATING, actions=[action(ActionState.SUCCEEDED)], note="x"),
        S.MONITORING,
    ),
    # the fix did not hold: back to mitigating, with the same gates as the first time
    (
        Command.MITIGATE,
        facts(S.MONITORING, lanes=LEADS),
        ["note"],
        facts(S.MONITORING, lanes=LEADS, note="regressed"),
        S.MITIGATING,
    ),
    (
        Command.RESOLVE,
        facts(S.MONITORING, firing=2),
        [
            "service_validation.alerts_resolved",
            "service_validation.note",
            "customer_confirmation.who",
            "customer_confirmation.when",
            "residual_risk",
        ],
        facts(S.MONITORING, closure=FULL_CLOSURE),
        S.RESOLVED,
    ),
    (
        Command.REVIEW,
        facts(S.RESOLVED, review=REVIEW),
        ["review.facilitator"],
        facts(S.RESOLVED, review=WRITTEN),
        S.REVIEW,
    ),
    (
        Command.CLOSE,
        facts(S.REVIEW, review=REVIEW),
        [f"review.sections.{s}" for s in SECTIONS],
        facts(S.REVIEW, review=WRITTEN),
        S.CLOSED,
    ),
    (Command.CANCEL, facts(S.MITIGATING), ["note"], facts(S.MITIGATING, note="false alarm"), S.CANCELED),
]


@pytest.mark.parametrize(("command", "bare", "gates", "given", "target"), CASES)
def test_each_gate_refuses_then_passes(
    command: Command, bare: GateFacts, gates: list[str], given: GateFacts, target: IncidentState
) -> None:
    request = TransitionRequest(command=command, note=bare.note)
    with pytest.raises(GateNotMet) as caught:
        transition(request=request, facts=bare, actor="alice", now=T0)
    assert [m.split(" (")[0] for m in caught.value.missing] == gates
    moved, step = transition(
        request=TransitionRequest(command=command, note=given.note),
        facts=given,
        actor="alice",
        now=T0 + timedelta(hours=1),
    )
    assert (moved.state, step.from_state, step.to_state, step.actor) == (target, given.incident.state, target, "alice")
    assert step.journal_text().startswith(f"[micd] MI-1: {given.incident.state.value} -> {target.value} by alice")


def test_terminal_and_resolved_states_stop_the_update_clock() -> None:
    moved, _ = transition(
        request=TransitionRequest(command=Command.RESOLVE),
        facts=facts(S.MONITORING, closure=FULL_CLOSURE),
        actor="a",
        now=T0 + timedelta(hours=2),
    )
    assert (moved.resolved_at, moved.next_update_due) == (T0 + timedelta(hours=2), None)


@pytest.mark.parametrize("state", list(IncidentState))
def test_commands_a_state_does_not_accept_are_conflicts_naming_the_allowed_ones(state: IncidentState) -> None:
    for command in Command:
        if (state, command) in TRANSITIONS:
            continue
        with pytest.raises(Conflict) as caught:
            transition(request=TransitionRequest(command=command, note="n"), facts=facts(state), actor="a", now=T0)
        assert not isinstance(caught.value, GateNotMet)
        assert f"allowed: {', '.join(c.value for c in allowed(state)) or 'none'}" in caught.value.message


def test_terminal_states_accept_nothing() -> None:
    assert [allowed(s) for s in (S.CLOSED, S.REJECTED, S.CANCELED)] == [[], [], []]


def test_evidence_links_must_be_urls() -> None:
    request = TransitionRequest(command=Command.REJECT, note="noise", evidence_links=["https://ok.example/x", "ftp:x"])
    with pytest.raises(InvalidInput) as caught:
        transition(request=request, facts=facts(S.PROPOSED, note="noise"), actor="a", now=T0)
    assert caught.value.problems[0].field == "evidence_links[1]"


@pytest.mark.parametrize(
    ("impact", "urgency", "expected"),
    [(1, 1, 1), (1, 2, 2), (2, 1, 2), (1, 3, 3), (2, 2, 3), (3, 1, 3), (2, 3, 4), (3, 2, 4), (3, 3, 5)],
)
def test_priority_follows_the_servicenow_matrix(impact: int, urgency: int, expected: int) -> None:
    assert priority(impact=impact, urgency=urgency) == expected


@pytest.mark.parametrize(
    ("state", "sent"),
    [(S.MITIGATING, True), (S.MONITORING, True), (S.RESOLVED, True), (S.REVIEW, False), (S.CLOSED, False)],
)
def test_customer_words_are_approved_only_while_updates_are_sent(state: IncidentState, sent: bool) -> None:
    pending = StatusUpdate(
        id=3,
        incident_id="MI-1",
        tenant="acme",
        summary="failing over",
        bodies={Audience.CUSTOMER: "We are failing over."},
        due_at=None,
        on_time=True,
        next_due=None,
        created_by="carol",
        created_at=T0,
        customer=CustomerState.PENDING,
    )
    if sent:
        approved = approve_customer(incident=incident(state), update=pending, approver="dave", now=T0)
        assert (approved.customer, approved.approved_by) == (CustomerState.SENT, "dave")
    else:
        with pytest.raises(Conflict, match="out of date and is not sent"):
            approve_customer(incident=incident(state), update=pending, approver="dave", now=T0)


def test_a_completed_review_no_longer_changes() -> None:
    scheduled = Review(incident_id="MI-1", due_on=date(2026, 1, 12), scheduled_at=T0)
    done = complete(review=scheduled, now=T0 + timedelta(days=3))
    assert done.completed_at == T0 + timedelta(days=3)
    assert complete(review=done, now=T0 + timedelta(days=9)) is done
    with pytest.raises(Conflict, match="complete"):
        edit(review=done, facilitator=None, sections={"root_cause": "rewritten later"})


@pytest.mark.parametrize(
    ("before", "after", "minutes", "missed"),
    [
        (S.MONITORING, S.RESOLVED, 31, True),  # the slot due at +30 was never sent
        (S.MONITORING, S.RESOLVED, 30, False),  # due is not overdue
        (S.MITIGATING, S.CANCELED, 45, True),
        (S.MITIGATING, S.MONITORING, 45, False),  # the clock goes on: a late update will still count
        (S.RESOLVED, S.REVIEW, 45, False),  # already stopped
    ],
)
def test_an_update_never_sent_counts_when_the_clock_stops(
    before: IncidentState, after: IncidentState, minutes: int, missed: bool
) -> None:
    now = T0 + timedelta(minutes=minutes)
    found = missed_slot(before=incident(before), after=incident(after), now=now)
    assert found == (T0 + timedelta(minutes=30) if missed else None)
