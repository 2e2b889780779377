"""Proposal policy through the whole pure pipeline: one per outage, growth, cooldown, escalation, links."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from daemon.alerts.models import AlertEvent, TransitionKind
from daemon.cli.fire import to_webhook
from daemon.correlation.models import OutageState
from daemon.ingest.alertmanager import parse_webhook
from daemon.proposals.models import ProposalState
from daemon.proposals.policy import OUTAGE_CLOSED
from daemon.proposals.replay import Replay
from tests.correlation.factory import RULES_DIR, T0, Feed, make_alert, minutes, shipped

RULES = shipped()


@pytest.mark.parametrize(("example", "proposals"), [("outage", 1), ("noise", 0)])
def test_shipped_examples(example: str, proposals: int) -> None:
    alerts = json.loads((RULES_DIR / "examples" / f"{example}.json").read_text())
    raw = json.dumps(to_webhook(alerts, now=T0)).encode()
    parsed = parse_webhook(raw, tenant_label="tenant", bound_tenant=None, max_alerts=100)
    replay = Replay(RULES)
    events = [AlertEvent(id=i, kind=TransitionKind.FIRED, alert=a, received_at=T0) for i, a in enumerate(parsed, 1)]
    replay.step(events, now=T0)
    for minute in range(1, 60):
        replay.tick(now=minutes(minute))
    assert len(replay.book.proposals) == proposals
    assert all(d.action == "propose" for d in replay.decisions)


def test_growth_updates_evidence_and_never_makes_a_second_proposal() -> None:
    replay, feed = Replay(RULES), Feed()
    first = replay.step(
        [
            feed.fire(make_alert("acme", "PayErr", service="payments-api")),
            feed.fire(make_alert("acme", "ShopDown", service="web-shop")),
        ],
        now=T0,
    )
    assert [d.action for d in first] == ["propose"]
    proposal = first[0].proposal
    assert proposal.rule == "customer-facing-outage"
    assert proposal.evidence.probable_cause == "payments-api"
    assert {s.name for s in proposal.evidence.services} == {"payments-api", "web-shop"}
    grown = replay.step([feed.fire(make_alert("acme", "ChkErr", app="checkout", start=minutes(2)))], now=minutes(2))
    assert [d.action for d in grown] == ["evidence"]
    assert grown[0].proposal.id == proposal.id
    assert grown[0].proposal.evidence_version == 2
    assert "3 service(s)" in grown[0].proposal.title  # the rule's texts told again on the grown outage
    assert "2 service(s)" in proposal.title
    assert replay.tick(now=minutes(3)) == []
    assert len(replay.book.proposals) == 1


def regulated_outage(replay: Replay, feed: Feed, start: float) -> str:
    """Two PCI services, warnings only: the regulated rule (impact 2), not the customer-facing one."""
    alerts = [
        make_alert("acme", "PayWarn", service="payments-api", severity="warning", start=minutes(start)),
        make_alert("acme", "ChkWarn", service="checkout", severity="warning", start=minutes(start)),
    ]
    decisions = replay.step([feed.fire(a) for a in alerts], now=minutes(start))
    assert [(d.action, d.proposal.rule) for d in decisions] == [("propose", "regulated-outage")]
    replay.decide(decisions[0].proposal.outage_id, state=ProposalState.REJECTED, at=minutes(start + 1))
    end = minutes(start + 5)
    replay.step([feed.resolve(a, end) for a in alerts], now=end)
    replay.tick(now=end + timedelta(minutes=6))
    assert decisions[0].proposal.outage_id not in replay.correlator.outages
    return decisions[0].proposal.outage_id


def test_a_rejected_outage_is_proposed_again_only_when_impact_escalates() -> None:
    replay, feed = Replay(RULES), Feed()
    alerts = [
        make_alert("acme", "PayWarn", service="payments-api", severity="warning"),
        make_alert("acme", "ChkWarn", service="checkout", severity="warning"),
    ]
    (proposed,) = replay.step([feed.fire(a) for a in alerts], now=T0)
    replay.decide(proposed.proposal.outage_id, state=ProposalState.REJECTED, at=minutes(1))
    more = replay.step(
        [feed.fire(make_alert("acme", "CartWarn", service="cart", severity="warning", start=minutes(2)))],
        now=minutes(2),
    )
    assert more == []
    worse = replay.step(
        [feed.fire(make_alert("acme", "ShopDown", service="web-shop", start=minutes(3)))], now=minutes(3)
    )
    assert [(d.action, d.proposal.rule, d.proposal.state) for d in worse] == [
        ("propose", "customer-facing-outage", ProposalState.PROPOSED)
    ]
    assert worse[0].proposal.evidence_version == 2


def test_cooldown_after_rejection_holds_back_the_next_outage_on_the_same_services() -> None:
    replay, feed = Replay(RULES), Feed()
    regulated_outage(replay, feed, 0)
    held = replay.step(
        [
            feed.fire(make_alert("acme", "PayWarn2", service="payments-api", severity="warning", start=minutes(20))),
            feed.fire(make_alert("acme", "ChkWarn2", service="checkout", severity="warning", start=minutes(20))),
        ],
        now=minutes(20),
    )
    assert held == []
    escalated = replay.step(
        [feed.fire(make_alert("acme", "ShopDown", service="web-shop", start=minutes(21)))], now=minutes(21)
    )
    assert [d.proposal.rule for d in escalated] == ["customer-facing-outage"]


def test_after_the_cooldown_the_same_impact_is_proposed_again() -> None:
    replay, feed = Replay(RULES), Feed()
    regulated_outage(replay, feed, 0)
    regulated_outage(replay, feed, 200)


def test_no_proposal_for_an_outage_handled_in_an_open_major_incident() -> None:
    replay, feed = Replay(RULES), Feed()
    replay.step([feed.fire(make_alert("acme", "PayErr", service="payments-api"))], now=T0)
    (outage,) = replay.correlator.outages
    replay.correlator.set_incident(outage, incident="MI-1", open_=True)
    grown = replay.step([feed.fire(make_alert("acme", "ShopDown", service="web-shop"))], now=minutes(1))
    assert grown == []
    replay.correlator.set_incident(outage, incident="MI-1", open_=False)
    later = replay.step([feed.fire(make_alert("acme", "ChkErr", service="checkout"))], now=minutes(2))
    assert [d.action for d in later] == ["propose"]


def test_a_sustained_rule_fires_on_a_tick_without_new_alerts() -> None:
    replay, feed = Replay(RULES), Feed()
    assert replay.step([feed.fire(make_alert("acme", "PayErr", service="payments-api"))], now=T0) == []
    assert replay.next_due() == T0 + timedelta(minutes=15)
    assert replay.tick(now=minutes(14)) == []
    decisions = replay.tick(now=minutes(15))
    assert [d.proposal.rule for d in decisions] == ["sustained-critical-tier1"]
    assert decisions[0].proposal.first_alert_at == T0


@pytest.mark.parametrize(
    ("state", "already", "expect"),
    [
        (ProposalState.PROPOSED, False, True),
        (ProposalState.PROPOSED, True, False),  # said once, not again
        (ProposalState.ACCEPTED, False, False),
        (ProposalState.REJECTED, False, False),
        (ProposalState.CANCELED, False, False),
    ],
)
def test_an_outage_closing_before_a_decision_is_told_not_decided(
    state: ProposalState, already: bool, expect: bool
) -> None:
    replay, feed = Replay(RULES), Feed()
    alerts = [make_alert("acme", "PayErr", service="payments-api"), make_alert("acme", "ShopDown", service="web-shop")]
    (proposed,) = replay.step([feed.fire(a) for a in alerts], now=T0)
    outage_id = proposed.proposal.outage_id
    current = replay.book.proposals[outage_id]
    facts = {**current.evidence.facts, **({OUTAGE_CLOSED: "earlier"} if already else {})}
    replay.book.proposals[outage_id] = current.model_copy(
        update={"state": state, "evidence": current.evidence.model_copy(update={"facts": facts})}
    )
    replay.step([feed.resolve(a, minutes(5)) for a in alerts], now=minutes(5))
    decisions = replay.tick(now=minutes(11))
    assert replay.outages[outage_id].state is OutageState.CLOSED
    if not expect:
        assert decisions == []
        return
    (told,) = decisions
    assert told.action == "evidence"
    assert told.proposal.state is ProposalState.PROPOSED  # the commander decides, not micd
    assert told.proposal.evidence.facts[OUTAGE_CLOSED] == minutes(11).isoformat()
    assert told.proposal.evidence_version == current.evidence_version + 1
    assert replay.tick(now=minutes(12)) == []
