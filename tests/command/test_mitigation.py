"""The mitigation queue: DAG with cycles refused, ready by priority, blocked with reasons, risk rules."""

from __future__ import annotations

from datetime import timedelta

import pytest

from daemon.command import mitigation as m
from daemon.command.mitigation import ActionSpec, ActionState, ActionStep, Risk
from daemon.kernel.errors import Conflict, GateNotMet, InvalidInput
from tests.command.conftest import T0


def add(existing: list[m.Action], title: str, **kw: object) -> m.Action:
    spec = ActionSpec.model_validate({"title": title, "owner": "bob", "precheck": "ok", **kw})
    made = m.create(
        spec=spec,
        action_id=f"A{len(existing) + 1}",
        incident_id="MI-1",
        existing=existing,
        actor="bob",
        now=T0 + timedelta(seconds=len(existing)),
    )
    existing.append(made)
    return made


def passed(action: m.Action) -> m.Action:
    return m.record_precheck(action=action, passed=True, note="", now=T0)


@pytest.mark.parametrize(
    ("graph", "cycle"),
    [
        ({"A": ["B"], "B": ["C"], "C": []}, None),
        ({"A": ["B", "C"], "B": ["D"], "C": ["D"], "D": []}, None),  # a diamond is not a cycle
        ({"A": ["A"]}, ["A", "A"]),
        ({"A": ["B"], "B": ["A"]}, ["A", "B", "A"]),
        ({"A": ["B"], "B": ["C"], "C": ["D"], "D": ["B"]}, ["B", "C", "D", "B"]),
    ],
)
def test_find_cycle(graph: dict[str, list[str]], cycle: list[str] | None) -> None:
    assert m.find_cycle(graph) == cycle


def test_queue_orders_ready_by_priority_and_explains_the_blocked() -> None:
    acts: list[m.Action] = []
    a1 = add(acts, "low prio", priority=4)
    a2 = add(acts, "urgent", priority=1)
    a3 = add(acts, "after a2", priority=1, depends_on=["A2"])
    a4 = add(acts, "high risk", priority=2, risk="high", rollback_plan="undo")
    acts = [passed(a) for a in (a1, a2, a3)] + [a4]
    queue = m.queue(acts)
    assert [a.id for a in queue.ready] == ["A2", "A1"]
    assert [(a.id, why) for a, why in queue.blocked] == [
        ("A3", ["waits for A2 (pending)"]),
        ("A4", ["pre-check not run: ok", "needs approval by an approver (high risk)"]),
    ]


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"risk": "risky"}, "rollback_plan"),
        ({"risk": "high", "rollback_plan": "  "}, "rollback_plan"),
        ({"depends_on": ["A9"]}, "depends_on[0]"),
        ({"links": ["runbook"]}, "links[0]"),
    ],
)
def test_bad_actions_are_refused_naming_the_field(spec: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        add([], "x", **spec)
    assert caught.value.problems[0].field == field


def test_relink_refuses_a_cycle_and_names_it() -> None:
    acts: list[m.Action] = []
    add(acts, "one")
    add(acts, "two", depends_on=["A1"])
    add(acts, "three", depends_on=["A2"])
    with pytest.raises(InvalidInput, match=r"A1 -> A3 -> A2 -> A1"):
        m.relink(action=acts[0], depends_on=["A3"], existing=acts, now=T0)
    assert m.relink(action=acts[2], depends_on=["A1"], existing=acts, now=T0).depends_on == ["A1"]


def test_lifecycle_of_an_action_and_its_rollback() -> None:
    acts: list[m.Action] = []
    a = add(acts, "fail over", risk="high", rollback_plan="fail back")
    with pytest.raises(GateNotMet):
        m.start(action=a, actions=acts, now=T0)
    a = passed(a)
    with pytest.raises(Conflict, match="own"):
        m.approve(action=a, approver="bob", now=T0)
    a = m.approve(action=a, approver="dave", now=T0)
    a = m.start(action=a, actions=[a], now=T0)
    with pytest.raises(InvalidInput, match="note"):
        m.finish(action=a, succeeded=False, note="", now=T0)
    failed = m.finish(action=a, succeeded=False, note="diverged", now=T0)
    assert failed.rollback_offered
    rolled = m.apply(
        step=ActionStep(step="rollback", note="done"), action=failed, existing=[failed], actor="bob", now=T0
    )
    assert (rolled.state, rolled.rollback_offered) == (ActionState.ROLLED_BACK, False)
    with pytest.raises(Conflict, match="offers no rollback"):
        m.roll_back(action=rolled, note="", now=T0)


def test_low_risk_needs_no_approval_and_failed_precheck_blocks() -> None:
    a = add([], "restart", risk=Risk.LOW.value)
    with pytest.raises(Conflict, match="needs no approval"):
        m.approve(action=a, approver="dave", now=T0)
    with pytest.raises(InvalidInput, match="note"):
        m.record_precheck(action=a, passed=False, note="", now=T0)
    failed = m.record_precheck(action=a, passed=False, note="disk full", now=T0)
    assert m.blockers(action=failed, actions=[failed]) == ["pre-check failed: ok"]
