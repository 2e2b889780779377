"""When an outage gets a proposal, when its proposal is updated, and when micd keeps quiet.

- One proposal per outage: growth updates its evidence (evidence_version + 1), never makes a second.
- No new proposal for an outage handled in an open major incident, or with no alert still firing.
- After a rejection, outages on the same services (or the recurrence of the rejected one) stay unproposed
  for the cooldown, unless their impact is more severe than the rejected proposal's. The rejected outage
  itself is proposed again only if its impact escalates.
- An outage that closes while its proposal awaits a decision says so in the evidence, once; cancelling is
  the commander's call, never micd's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from daemon.correlation.models import Outage
from daemon.impact.models import Verdict
from daemon.proposals.evidence import same_story
from daemon.proposals.models import Evidence, Proposal, ProposalState


@dataclass(frozen=True)
class Decision:
    action: Literal["propose", "evidence"]  # the outbox action that delivers it
    proposal: Proposal
    reason: str


OUTAGE_CLOSED = "outage_closed_at"  # the evidence fact set when the outage closes before a decision


def proposal_id(outage_id: str) -> str:
    return "prop-" + outage_id.removeprefix("out-")


def decide(
    *,
    outage: Outage,
    verdict: Verdict | None,
    evidence: Evidence,
    existing: Proposal | None,
    rejections: Sequence[Proposal],
    cooldown: timedelta,
    now: datetime,
) -> Decision | None:
    handled = outage.linked_incident is not None and outage.incident_open
    if existing is None:
        if verdict is None or handled or outage.firing_count == 0:
            return None
        if _cooling(outage, verdict, rejections, cooldown, now):
            return None
        return Decision("propose", _new(outage, verdict, evidence, now), f"rule {verdict.rule} matched")
    if existing.state is ProposalState.REJECTED:
        if verdict is None or handled or verdict.impact >= existing.impact or outage.firing_count == 0:
            return None
        again = _escalated(existing, verdict, evidence, now).model_copy(
            update={"state": ProposalState.PROPOSED, "decided_at": None, "decided_by": None, "decision_reason": None}
        )
        return Decision("propose", again, f"impact escalated from {existing.impact} to {verdict.impact}")
    if existing.state is ProposalState.CANCELED:
        return None
    escalates = verdict is not None and verdict.impact < existing.impact
    if not escalates and same_story(existing.evidence, evidence):
        return None
    grown = (
        _escalated(existing, verdict, evidence, now)
        if escalates and verdict is not None
        else existing.model_copy(
            update={
                "evidence": evidence,
                "evidence_version": existing.evidence_version + 1,
                "updated_at": now,
                **_retold(existing, verdict),
            }
        )
    )
    return Decision("evidence", grown, "impact escalated" if escalates else "the outage changed")


def closed(*, outage: Outage, existing: Proposal | None, now: datetime) -> Decision | None:
    """The evidence update for a proposal still undecided when its outage closed, or None."""
    if existing is None or existing.state is not ProposalState.PROPOSED or outage.closed_at is None:
        return None
    if OUTAGE_CLOSED in existing.evidence.facts:
        return None
    at = outage.closed_at.isoformat()
    facts = {**existing.evidence.facts, OUTAGE_CLOSED: at}
    grown = existing.model_copy(
        update={
            "evidence": existing.evidence.model_copy(update={"facts": facts}),
            "evidence_version": existing.evidence_version + 1,
            "updated_at": now,
        }
    )
    return Decision("evidence", grown, f"the outage closed at {at} while its proposal awaits a decision")


def _cooling(
    outage: Outage, verdict: Verdict, rejections: Sequence[Proposal], cooldown: timedelta, now: datetime
) -> bool:
    services = set(outage.services)
    for rejected in rejections:
        if rejected.decided_at is None or now - rejected.decided_at > cooldown or rejected.tenant != outage.tenant:
            continue
        shared = services & {s.name for s in rejected.evidence.services}
        if (shared or rejected.outage_id == outage.previous_outage) and verdict.impact >= rejected.impact:
            return True
    return False


def _new(outage: Outage, verdict: Verdict, evidence: Evidence, now: datetime) -> Proposal:
    return Proposal(
        id=proposal_id(outage.id),
        tenant=outage.tenant,
        outage_id=outage.id,
        rule=verdict.rule,
        mode=verdict.mode,
        impact=verdict.impact,
        urgency=verdict.urgency,
        title=verdict.title,
        business_impact=verdict.business_impact,
        description=_description(outage, verdict),
        evidence=evidence,
        first_alert_at=outage.started_at,
        created_at=now,
        updated_at=now,
    )


def _escalated(existing: Proposal, verdict: Verdict, evidence: Evidence, now: datetime) -> Proposal:
    return existing.model_copy(
        update={
            "rule": verdict.rule,
            "impact": verdict.impact,
            "urgency": verdict.urgency,
            "title": verdict.title,
            "business_impact": verdict.business_impact,
            "evidence": evidence,
            "evidence_version": existing.evidence_version + 1,
            "updated_at": now,
        }
    )


def _retold(existing: Proposal, verdict: Verdict | None) -> dict[str, str]:
    """The same rule's texts rendered on the grown outage ("affecting 5 services", not the 3 it first saw)."""
    if verdict is None or verdict.rule != existing.rule:
        return {}
    return {"title": verdict.title, "business_impact": verdict.business_impact}


def _description(outage: Outage, verdict: Verdict) -> str:
    lines = [f"Rule {verdict.rule} matched: " + "; ".join(verdict.matched_conditions) + "."]
    lines.append(f"Services alerting: {', '.join(outage.services)} ({outage.alert_count} alerts).")
    if outage.probable_cause:
        lines.append(f"Probable cause (hint): {outage.probable_cause}: {outage.probable_cause_reasoning}.")
    if outage.previous_outage:
        lines.append(f"Recurs outage {outage.previous_outage}.")
    if outage.platform_outages:
        lines.append(f"Rides on platform outage(s): {', '.join(outage.platform_outages)}.")
    return "\n".join(lines)
