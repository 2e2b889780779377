"""What micd writes into ServiceNow: incident fields and journal texts, from a proposal. Pure.

Every journal entry micd writes ends with a marker naming the outbox item that wrote it. A retry after a lost
answer looks for the marker first, so an entry is never written twice; the decision poller skips marked
entries when it looks for the commander's reason.
"""

from __future__ import annotations

from daemon.config.tenants import TenantSettings
from daemon.proposals.models import Proposal, ProposalState, ServiceEvidence

MARKER_PREFIX = "[micd "
MAX_ALERTS_LISTED = 20
SHORT_DESCRIPTION_MAX = 160


def marker(*, proposal_id: str, item_id: int) -> str:
    return f"{MARKER_PREFIX}{proposal_id}#{item_id}]"


def proposal_link(*, base_url: str, proposal_id: str) -> str:
    return f"{base_url.rstrip('/')}/api/v1/proposals/{proposal_id}"


def evidence_note(proposal: Proposal, *, link: str, mark: str) -> str:
    """The evidence a commander needs to decide, in the order they read it."""
    e = proposal.evidence
    lines = [
        f"micd proposes a major incident (rule {proposal.rule}, impact {proposal.impact}, urgency {proposal.urgency},"
        f" evidence v{proposal.evidence_version}).",
        f"Business impact: {proposal.business_impact}",
    ]
    if e.services:
        lines.append("Services:")
        for s in e.services:
            traits = [f"tier {s.tier}" if s.tier is not None else "", "customer-facing" if s.customer_facing else ""]
            traits += [
                f"regulated: {', '.join(s.regulated)}" if s.regulated else "",
                f"CI {s.cmdb_ci}" if s.cmdb_ci else "",
            ]
            described = ", ".join(t for t in traits if t)
            lines.append(f"- {s.name}" + (f" ({described})" if described else "") + f": {s.alerts} alert(s)")
    if e.alerts:
        shown = e.alerts[:MAX_ALERTS_LISTED]
        lines.append(f"Alerts ({len(shown)} of {len(e.alerts)}):")
        for a in shown:
            severity = f" [{a.severity}]" if a.severity else ""
            lines.append(
                f"- {a.alertname}{severity} on {a.service or 'unmatched'} since {a.starts_at.isoformat()}"
                f" (matched by {a.match})"
            )
    if e.matched_conditions:
        lines.append("Rule conditions met: " + "; ".join(e.matched_conditions))
    if e.probable_cause:
        reasoning = f" ({e.probable_cause_reasoning})" if e.probable_cause_reasoning else ""
        lines.append(f"Probable cause: {e.probable_cause}{reasoning}")
    lines += [f"Details in micd: {link}", mark]
    return "\n".join(lines)


def story_fields(proposal: Proposal) -> dict[str, str]:
    """What the record says the outage is; told again as the outage grows or escalates."""
    return {
        "short_description": proposal.title[:SHORT_DESCRIPTION_MAX],
        "impact": str(proposal.impact),
        "urgency": str(proposal.urgency),
        "business_impact": proposal.business_impact,
    }


def incident_fields(proposal: Proposal, *, tenant: TenantSettings | None, link: str, mark: str) -> dict[str, str]:
    """A new major-incident candidate: correlation_id is the proposal id, which makes delivery idempotent."""
    fields = {
        **story_fields(proposal),
        "description": proposal.description or proposal.business_impact,
        "work_notes": evidence_note(proposal, link=link, mark=mark),
        "correlation_id": proposal.id,
        "correlation_display": "micd",
        "major_incident_state": ProposalState.PROPOSED.value,
    }
    ranked = sorted(proposal.evidence.services, key=_criticality)
    for name in ("cmdb_ci", "business_service"):
        value = next((v for s in ranked if (v := getattr(s, name))), None)
        if value:
            fields[name] = value
    if tenant is not None:
        optional = {
            "company": tenant.company,
            "assignment_group": tenant.assignment_group,
            "assigned_to": tenant.commander,
        }
        fields.update({k: v for k, v in optional.items() if v})
    return fields


def _criticality(service: ServiceEvidence) -> tuple[int, int]:
    """Customer-facing first, then by tier: the CI a commander would name."""
    return (0 if service.customer_facing else 1, service.tier if service.tier is not None else 99)


def decision_note(proposal: Proposal, *, mark: str) -> str:
    who = proposal.decided_by or "micd"
    reason = f": {proposal.decision_reason}" if proposal.decision_reason else ""
    return f"Proposal {proposal.state.value} in micd by {who}{reason}\n{mark}"


def journal_note(text: str, *, mark: str) -> str:
    return f"{text}\n{mark}"


def unknown_user_note(*, field: str, user: str) -> str:
    """Why a user field may be empty on the record: ServiceNow matched the name micd wrote to no user."""
    return (
        f"micd: no ServiceNow user has user_name {user!r}; {field} was set to {user!r} as given, which "
        "ServiceNow resolves only by a user's display name. Check the user name in micd's configuration."
    )
