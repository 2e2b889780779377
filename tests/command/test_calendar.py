"""Cadence, review due dates on the tenant calendar, repeat detection, decision corrections, closure items."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from daemon.command import cadence, closure, decisions, repeat, review
from daemon.command.models import ClosureEvidence
from daemon.kernel.errors import InvalidInput
from tests.command.conftest import T0

DEFAULTS = {"1": 30, "2": 60, "3": 120}


@pytest.mark.parametrize(
    ("priority", "override", "minutes"),
    [(1, {}, 30), (2, {}, 60), (1, {"1": 15}, 15), (2, {"1": 15}, 60), (5, {}, 120), (5, {"5": 600}, 600)],
)
def test_interval_per_priority_and_tenant(priority: int, override: dict[str, int], minutes: int) -> None:
    assert cadence.interval(priority=priority, defaults=DEFAULTS, override=override) == timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("start", "days", "holidays", "due"),
    [
        (date(2026, 1, 5), 5, [], date(2026, 1, 12)),  # Monday + 5 business days = next Monday
        (date(2026, 1, 9), 1, [], date(2026, 1, 12)),  # Friday + 1 = Monday
        (date(2026, 1, 10), 1, [], date(2026, 1, 12)),  # Saturday + 1 = Monday
        (date(2026, 1, 5), 5, [date(2026, 1, 6), date(2026, 1, 12)], date(2026, 1, 14)),
        (date(2026, 12, 23), 3, [date(2026, 12, 24), date(2026, 12, 25), date(2026, 12, 31)], date(2026, 12, 30)),
    ],
)
def test_business_days(start: date, days: int, holidays: list[date], due: date) -> None:
    assert review.business_days_after(start=start, days=days, holidays=holidays) == due


def test_review_counts_from_the_tenant_local_resolution_date() -> None:
    # 23:30 UTC on Friday is already Saturday in Tokyo: the count starts from Saturday there.
    resolved = datetime(2026, 1, 9, 23, 30, tzinfo=UTC)
    utc = review.schedule(incident_id="MI-1", resolved_at=resolved, business_days=1, tz=UTC, holidays=[], now=resolved)
    tokyo = review.schedule(
        incident_id="MI-1",
        resolved_at=resolved,
        business_days=1,
        tz=ZoneInfo("Asia/Tokyo"),
        holidays=[date(2026, 1, 12)],
        now=resolved,
    )
    assert (utc.due_on, tokyo.due_on) == (date(2026, 1, 12), date(2026, 1, 13))


def test_repeat_links_the_most_recent_match_within_the_window() -> None:
    def fp(n: int, services: set[str], cause: str | None, days_ago: float) -> repeat.Footprint:
        return repeat.Footprint(
            incident_id=f"MI-{n}",
            services=frozenset(services),
            probable_cause=cause,
            declared_at=T0 - timedelta(days=days_ago),
        )

    new = fp(9, {"payments", "cards"}, "Disk  FULL", 0)
    window = timedelta(days=30)
    earlier = [
        fp(1, {"payments"}, None, 20),
        fp(2, {"cards"}, None, 10),
        fp(3, {"search"}, "disk full", 5),
        fp(4, {"payments"}, None, 31),
    ]
    assert repeat.predecessor(new=new, earlier=earlier, window=window) == repeat.RepeatLink(
        predecessor_id="MI-3", reason="same probable cause: Disk  FULL"
    )
    assert repeat.predecessor(new=new, earlier=earlier[:2], window=window) == repeat.RepeatLink(
        predecessor_id="MI-2", reason="same services: cards"
    )
    assert repeat.predecessor(new=new, earlier=earlier[3:], window=window) is None


def test_decision_corrections_supersede_without_rewriting() -> None:
    spec = decisions.DecisionSpec(decision="roll back", rationale="errors", owner="alice")
    first = decisions.record(spec=spec, incident_id="MI-1", log=[], actor="alice", now=T0)
    fix = decisions.record(
        spec=spec.model_copy(update={"corrects": 1}), incident_id="MI-1", log=[first], actor="alice", now=T0
    )
    assert [d.number for d in decisions.in_force([first, fix])] == [2]
    with pytest.raises(InvalidInput) as caught:
        decisions.record(spec=spec.model_copy(update={"owner": "  "}), incident_id="MI-1", log=[], actor="a", now=T0)
    assert caught.value.problems[0].field == "owner"


def test_closure_lists_every_missing_item_and_refuses_blanks() -> None:
    assert closure.missing(evidence=ClosureEvidence(), alerts_firing=0) == (
        "service_validation.note",
        "customer_confirmation.who",
        "customer_confirmation.when",
        "residual_risk",
    )
    with pytest.raises(InvalidInput) as caught:
        closure.record(current=ClosureEvidence(), actor="a", now=T0, residual_risk=" ")
    assert caught.value.problems[0].field == "residual_risk"
    with pytest.raises(InvalidInput):
        closure.record(current=ClosureEvidence(), actor="a", now=T0)
