"""What micd writes into an incident, from a proposal."""

from __future__ import annotations

from daemon.config.tenants import TenantSettings
from daemon.kernel.clock import FakeClock
from daemon.servicenow import tickets
from tests.servicenow.conftest import make_proposal


def test_incident_fields_carry_the_proposal_and_the_tenant_mapping() -> None:
    proposal = make_proposal("P-42", FakeClock())
    mark = tickets.marker(proposal_id="P-42", item_id=7)
    fields = tickets.incident_fields(
        proposal, tenant=TenantSettings(company="ACME Corp", assignment_group="MIM"), link="L", mark=mark
    )
    assert fields["correlation_id"] == "P-42"
    assert fields["major_incident_state"] == "proposed"
    assert (fields["impact"], fields["urgency"]) == ("1", "1")
    assert fields["cmdb_ci"] == "Payments API"
    assert fields["business_service"] == "Card Payments"
    assert (fields["company"], fields["assignment_group"]) == ("ACME Corp", "MIM")
    assert "assigned_to" not in fields  # no commander configured: left to the group
    assert fields["work_notes"].endswith(mark)
    assert tickets.incident_fields(proposal, tenant=None, link="L", mark=mark).keys().isdisjoint({"company"})


def test_evidence_note_lists_at_most_twenty_alerts() -> None:
    proposal = make_proposal("P-43", FakeClock())
    many = proposal.evidence.model_copy(update={"alerts": proposal.evidence.alerts * 25})
    note = tickets.evidence_note(proposal.model_copy(update={"evidence": many}), link="L", mark="[m]")
    assert "Alerts (20 of 25):" in note
    assert note.count("HighErrorRate") == 20
