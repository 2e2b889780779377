"""Impact rules: each condition, rule choice, sustained duration, business hours, templates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from daemon.impact.evaluate import build, evaluate
from daemon.impact.facts import in_business_hours
from daemon.impact.models import Calendar, Facts, ImpactFile, Rule
from tests.correlation.factory import T0

BASE: dict[str, Any] = {
    "tenant": "acme",
    "services": ["checkout", "payments-api"],
    "service_count": 2,
    "highest_tier": 1,
    "customer_facing": True,
    "customer_facing_services": ["checkout"],
    "regulated": ["pci"],
    "severities": ["critical"],
    "alert_count": 3,
    "firing_count": 3,
    "started_at": T0,
    "duration_minutes": 5.0,
    "business_hours": True,
    "probable_cause": "payments-api",
    "probable_cause_reasoning": "because",
}


def rule(when: dict[str, Any], **extra: Any) -> Rule:
    return Rule.model_validate(
        {"name": "r", "when": when, "impact": 2, "urgency": 2, "business_impact": "{{ tenant }}", **extra}
    )


def book(*rules: Rule, mode: str = "live") -> Any:
    return build(
        [ImpactFile.model_validate({"kind": "impact", "mode": mode, "rules": [r.model_dump() for r in rules]})]
    )


@pytest.mark.parametrize(
    ("when", "facts", "fires"),
    [
        ({"min_services": 2}, {}, True),
        ({"min_services": 3}, {}, False),
        ({"max_tier": 1}, {}, True),
        ({"max_tier": 1}, {"highest_tier": 2}, False),
        ({"max_tier": 2}, {"highest_tier": None}, False),
        ({"customer_facing": True}, {}, True),
        ({"customer_facing": True}, {"customer_facing": False}, False),
        ({"customer_facing": False}, {"customer_facing": False}, True),
        ({"regulated": ["hipaa", "pci"]}, {}, True),
        ({"regulated": ["hipaa"]}, {}, False),
        ({"severity": ["critical", "page"]}, {}, True),
        ({"severity": ["page"]}, {}, False),
        ({"tenants": ["acme"]}, {}, True),
        ({"tenants": ["globex"]}, {}, False),
        ({"business_hours": True}, {}, True),
        ({"business_hours": True}, {"business_hours": False}, False),
        ({"business_hours": False}, {"business_hours": False}, True),
        ({"sustained_minutes": 5}, {}, True),
        ({"sustained_minutes": 10}, {}, False),
        ({"min_services": 2, "regulated": ["pci"], "max_tier": 1}, {}, True),
        ({"min_services": 2, "regulated": ["pci"], "max_tier": 1}, {"service_count": 1}, False),
    ],
)
def test_conditions(when: dict[str, Any], facts: dict[str, Any], fires: bool) -> None:
    outcome = evaluate(book(rule(when)), Facts(**{**BASE, **facts}), now=T0)
    assert (outcome.verdict is not None) is fires


def test_the_most_severe_matching_rule_wins_and_explains_itself() -> None:
    minor = rule({"min_services": 1}, name="minor", impact=3, urgency=3)
    major = rule({"min_services": 2, "customer_facing": True}, name="major", impact=1, urgency=2)
    outcome = evaluate(book(minor, major), Facts(**BASE), now=T0)
    assert outcome.verdict is not None
    assert outcome.verdict.rule == "major"
    assert outcome.verdict.matched_conditions == [
        "2 services alerting (at least 2)",
        "customer-facing services: checkout",
    ]


def test_a_rule_waiting_only_on_duration_says_when_to_look_again() -> None:
    outcome = evaluate(book(rule({"max_tier": 1, "sustained_minutes": 15})), Facts(**BASE), now=T0)
    assert outcome.verdict is None
    assert outcome.recheck_at == T0 + timedelta(minutes=10)
    quiet = evaluate(book(rule({"sustained_minutes": 15})), Facts(**{**BASE, "firing_count": 0}), now=T0)
    assert quiet.recheck_at is None


def test_templates_render_facts_and_mode_is_inherited() -> None:
    text = "{{ customer_facing_services | join(', ') }} down for {{ tenant }}; cause {{ probable_cause }}"
    shadow = evaluate(book(rule({}, business_impact=text), mode="shadow"), Facts(**BASE), now=T0)
    assert shadow.verdict is not None
    assert shadow.verdict.business_impact == "checkout down for acme; cause payments-api"
    assert shadow.verdict.mode == "shadow"
    live = evaluate(book(rule({}, mode="live"), mode="shadow"), Facts(**BASE), now=T0)
    assert live.verdict is not None
    assert live.verdict.mode == "live"


def test_templates_are_sandboxed() -> None:
    sneaky = rule({}, business_impact="{{ tenant.__class__.__mro__ }}")
    outcome = evaluate(book(sneaky), Facts(**BASE), now=T0)
    assert outcome.verdict is not None
    assert "is unsafe" in outcome.verdict.business_impact
    assert "<class" not in outcome.verdict.business_impact


BERLIN = Calendar(timezone="Europe/Berlin", hours=(8, 18), holidays=[date(2026, 1, 6)])


@pytest.mark.parametrize(
    ("at", "inside"),
    [
        (datetime(2026, 1, 5, 7, 0, tzinfo=UTC), True),  # Monday 08:00 in Berlin
        (datetime(2026, 1, 5, 6, 59, tzinfo=UTC), False),  # 07:59 local
        (datetime(2026, 1, 5, 16, 59, tzinfo=UTC), True),  # 17:59 local
        (datetime(2026, 1, 5, 17, 0, tzinfo=UTC), False),  # 18:00 local
        (datetime(2026, 1, 6, 10, 0, tzinfo=UTC), False),  # holiday
        (datetime(2026, 1, 10, 10, 0, tzinfo=UTC), False),  # Saturday
        (datetime(2026, 7, 6, 6, 30, tzinfo=UTC), True),  # summer time: 08:30 local
    ],
)
def test_business_hours_are_local_to_the_tenant(at: datetime, inside: bool) -> None:
    assert in_business_hours(BERLIN, at) is inside
