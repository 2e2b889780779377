"""The commander's decision both ways: taken in ServiceNow it flows into micd, taken in micd it flows to ServiceNow."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from daemon.api import decisions as decision_api
from daemon.api.auth import Authenticator, digest
from daemon.api.middleware import build_middlewares
from daemon.cli.main import main as cli
from daemon.command.models import Lane
from daemon.config.auth import AuthSettings
from daemon.config.command import CommandSettings
from daemon.kernel.errors import Conflict, InvalidInput
from daemon.proposals.models import Proposal, ProposalState
from daemon.runtime.command import build
from daemon.store import incidents
from daemon.store.proposals import ProposalStore
from tests.command.conftest import FailingDeclarer
from tests.servicenow.conftest import Rig
from tests.servicenow.test_emulator import client
from tools.servicenow_emulator.server import Emulator

pytestmark = pytest.mark.timeout(60)
COMMANDER_TOKEN = "micd_commander-token"
VIEWER_TOKEN = "micd_viewer-token"
OTHER_TENANT_TOKEN = "micd_other-tenant-token"


class RecordingDeclarer:
    """The command phase's port, recorded: the declaration itself is tested with the command phase."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def declare(self, *, proposal: Proposal, commander: str, at: datetime) -> str:
        self.calls.append((proposal.id, commander))
        return f"MI-{proposal.id}"


async def act_in_servicenow(emulator: Emulator, sys_id: str, action: str, **body: str) -> dict[str, Any]:
    """What a commander does in the Major Incident workbench, through the emulator's control API over HTTPS."""
    context = ssl.create_default_context(cafile=str(emulator.ca_path))
    async with aiohttp.ClientSession() as session:
        url = f"{emulator.url}/_emulator/incidents/{sys_id}/{action}"
        async with session.post(url, json=body, ssl=context) as answer:
            assert answer.status == 200, await answer.text()
            result: dict[str, Any] = (await answer.json())["result"]
            return result


async def delivered(rig: Rig, proposal_id: str) -> str:
    await rig.propose(proposal_id)
    await rig.drain(rig.worker())
    [incident] = rig.incidents(proposal_id)
    return incident["sys_id"]


def decisions_counted(rig: Rig, decision: str) -> float:
    labels = {"tenant": "acme", "decision": decision}
    return rig.metrics.registry.get_sample_value("micd_proposal_decisions_total", labels) or 0.0


async def test_accepted_in_servicenow_declares_with_the_promoter_as_commander(rig: Rig) -> None:
    sys_id = await delivered(rig, "D-1")
    declarer = RecordingDeclarer()
    poller = rig.poller(rig.decisions(declarer))
    assert await poller.poll_once() == 0  # still proposed

    shown = await act_in_servicenow(rig.emulator, sys_id, "accept", actor="jane.commander")
    assert shown["major_incident_state"]["value"] == "accepted"
    assert shown["promoted_by"]["display_value"] == "Jane Commander"
    assert await poller.poll_once() == 1

    proposal = await ProposalStore(rig.db).get("D-1")
    assert proposal.state is ProposalState.ACCEPTED
    assert proposal.decided_by == "jane.commander"
    assert declarer.calls == [("D-1", "jane.commander")]
    assert decisions_counted(rig, "accepted") == 1
    assert rig.metrics.registry.get_sample_value("micd_time_to_decide_seconds_count", {"tenant": "acme"}) == 1
    assert await rig.depth() == 0  # a decision taken in ServiceNow is not sent back to it
    assert await poller.poll_once() == 0


async def test_accepted_in_servicenow_while_declaring_fails_is_declared_by_the_next_tick(rig: Rig) -> None:
    sys_id = await delivered(rig, "D-8")
    cmd = build(db=rig.db, clock=rig.clock, settings=CommandSettings(), tenants={}, metrics=rig.metrics)
    poller = rig.poller(rig.decisions(FailingDeclarer(cmd.service, failures=1)))
    await act_in_servicenow(rig.emulator, sys_id, "accept", actor="jane.commander")
    assert await poller.poll_once() == 1  # the decision is recorded although declaring failed
    assert await poller.poll_once() == 0
    assert await rig.db.read(lambda c: incidents.by_proposal(c, "D-8")) is None

    await cmd.ticker.tick()
    incident = await rig.db.read(lambda c: incidents.by_proposal(c, "D-8"))
    assert incident is not None
    assert (await rig.db.read(lambda c: incidents.lanes(c, incident.id)))[Lane.COMMANDER] == "jane.commander"


async def test_rejected_in_servicenow_closes_the_proposal_with_the_work_note_reason(rig: Rig) -> None:
    sys_id = await delivered(rig, "D-2")
    declarer = RecordingDeclarer()
    reason = "Load test traffic, customers unaffected"
    await act_in_servicenow(rig.emulator, sys_id, "reject", actor="jane.commander", reason=reason)
    assert await rig.poller(rig.decisions(declarer)).poll_once() == 1
    proposal = await ProposalStore(rig.db).get("D-2")
    assert (proposal.state, proposal.decision_reason, proposal.decided_by) == (
        ProposalState.REJECTED,
        reason,
        "jane.commander",
    )
    assert declarer.calls == []
    assert decisions_counted(rig, "rejected") == 1


async def test_a_rejection_set_without_a_work_note_is_recorded_and_holds_back_nothing(rig: Rig) -> None:
    """A list edit or an API call sets the state with no reason; the poll after it records every decision."""
    quiet = await delivered(rig, "D-9")
    accepted = await delivered(rig, "D-10")

    def set_state() -> None:
        gr = client(rig.emulator).GlideRecord("incident")
        assert gr.get(quiet)
        gr.major_incident_state = "rejected"
        gr.update()

    await asyncio.to_thread(set_state)
    await act_in_servicenow(rig.emulator, accepted, "accept", actor="jane.commander")
    declarer = RecordingDeclarer()
    assert await rig.poller(rig.decisions(declarer)).poll_once() == 2
    rejected = await ProposalStore(rig.db).get("D-9")
    assert rejected.state is ProposalState.REJECTED
    assert rejected.decision_reason == (
        f"rejected in ServiceNow by {rejected.decided_by}; no reason was given in the work notes"
    )
    assert declarer.calls == [("D-10", "jane.commander")]


async def test_canceled_after_acceptance_in_servicenow_is_not_recorded_twice(rig: Rig) -> None:
    sys_id = await delivered(rig, "D-3")
    await act_in_servicenow(rig.emulator, sys_id, "cancel", actor="jane.commander", reason="Duplicate of INC0099")
    poller = rig.poller(rig.decisions(RecordingDeclarer()))
    assert await poller.poll_once() == 1
    proposal = await ProposalStore(rig.db).get("D-3")
    assert (proposal.state, proposal.decision_reason) == (ProposalState.CANCELED, "Duplicate of INC0099")
    assert await poller.poll_once() == 0


async def test_accepted_in_micd_is_written_to_servicenow_once(rig: Rig) -> None:
    sys_id = await delivered(rig, "D-4")
    declarer = RecordingDeclarer()
    decisions = rig.decisions(declarer)
    await decisions.decide(proposal_id="D-4", decision=ProposalState.ACCEPTED, actor="jane.commander")
    assert declarer.calls == [("D-4", "jane.commander")]
    with pytest.raises(Conflict, match="already accepted"):
        await decisions.decide(proposal_id="D-4", decision=ProposalState.REJECTED, actor="bob", reason="no")

    await rig.drain(rig.worker())
    incident = rig.emulator.store.get("incident", sys_id)
    assert incident is not None
    assert incident["major_incident_state"] == "accepted"
    assert rig.emulator.store.display("sys_user", incident["promoted_by"]) == "Jane Commander"
    assert incident["promoted_on"]
    notes = [n for n in rig.journal(sys_id) if "accepted in micd" in n]
    assert len(notes) == 1
    assert await rig.poller(decisions).poll_once() == 0  # decided: not watched any more


@pytest.mark.parametrize(
    ("actor", "stored", "warned"),
    [
        ("john.smith", "john", False),  # the user_name micd knows, written as the sys_id
        ("John Smith", "john", True),  # not a user_name: written as given, ServiceNow matches the display name
        ("bob", "bob", True),  # no such user: written as given, the record keeps the name
    ],
)
async def test_the_promoter_is_written_by_sys_id_or_as_given_with_a_work_note(
    rig: Rig, actor: str, stored: str, warned: bool
) -> None:
    sys_id = await delivered(rig, "D-9")
    await rig.decisions(RecordingDeclarer()).decide(proposal_id="D-9", decision=ProposalState.ACCEPTED, actor=actor)
    await rig.drain(rig.worker())
    incident = rig.emulator.store.get("incident", sys_id)
    assert incident is not None
    assert incident["promoted_by"] == (rig.emulator.store.user_id("john.smith") if stored == "john" else stored)
    [note] = [n for n in rig.journal(sys_id) if "accepted in micd" in n]
    warning = f"no ServiceNow user has user_name {actor!r}; promoted_by was set to {actor!r} as given"
    assert (warning in note) is warned


async def test_micd_does_not_overwrite_a_decision_already_taken_in_servicenow(rig: Rig) -> None:
    """Both decided before either saw the other: ServiceNow's accepted record stands, and micd declares it."""
    sys_id = await delivered(rig, "D-5")
    await act_in_servicenow(rig.emulator, sys_id, "accept", actor="jane.commander")
    declarer = RecordingDeclarer()
    decisions = rig.decisions(declarer)
    await decisions.decide(proposal_id="D-5", decision=ProposalState.REJECTED, actor="bob", reason="noise")
    await rig.drain(rig.worker(follower=decisions))
    incident = rig.emulator.store.get("incident", sys_id)
    assert incident is not None
    assert incident["major_incident_state"] == "accepted"
    proposal = await ProposalStore(rig.db).get("D-5")
    assert (proposal.state, proposal.decided_by) == (ProposalState.ACCEPTED, "jane.commander")
    assert proposal.decision_reason is not None
    assert "before micd's rejected by bob reached it" in proposal.decision_reason
    assert declarer.calls == [("D-5", "jane.commander")]


async def test_a_micd_acceptance_is_not_undone_by_a_rejection_in_servicenow(rig: Rig) -> None:
    """An incident micd declared is being commanded: a rejection that raced it in ServiceNow is only logged."""
    sys_id = await delivered(rig, "D-11")
    await act_in_servicenow(rig.emulator, sys_id, "reject", actor="jane.commander", reason="looks like noise")
    declarer = RecordingDeclarer()
    decisions = rig.decisions(declarer)
    await decisions.decide(proposal_id="D-11", decision=ProposalState.ACCEPTED, actor="bob")
    await rig.drain(rig.worker(follower=decisions))
    assert (await ProposalStore(rig.db).get("D-11")).state is ProposalState.ACCEPTED
    assert declarer.calls == [("D-11", "bob")]


async def test_reject_needs_a_reason(rig: Rig) -> None:
    await rig.propose("D-6")
    with pytest.raises(InvalidInput) as caught:
        await rig.decisions().decide(proposal_id="D-6", decision=ProposalState.REJECTED, actor="bob", reason=" ")
    assert caught.value.problems[0].field == "reason"


@pytest.fixture
async def api(rig: Rig) -> AsyncIterator[tuple[TestClient[Any, Any], RecordingDeclarer]]:
    auth = AuthSettings.model_validate(
        {
            "api_tokens": [
                {"name": "alice", "sha256": digest(COMMANDER_TOKEN), "role": "commander", "tenants": ["acme"]},
                {"name": "victor", "sha256": digest(VIEWER_TOKEN), "role": "viewer"},
                {"name": "olga", "sha256": digest(OTHER_TENANT_TOKEN), "role": "commander", "tenants": ["globex"]},
            ]
        }
    )
    app = web.Application(middlewares=build_middlewares(Authenticator(auth)))
    decision_api.routes.install(app)
    declarer = RecordingDeclarer()
    app[decision_api.DECIDER] = rig.decisions(declarer)
    app[decision_api.PROPOSAL_STORE] = ProposalStore(rig.db)
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    yield client, declarer
    await client.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_accept_through_the_api_flows_to_servicenow(
    rig: Rig, api: tuple[TestClient[Any, Any], RecordingDeclarer]
) -> None:
    client, declarer = api
    sys_id = await delivered(rig, "D-7")
    url = "/api/v1/proposals/D-7/accept"
    for token, status in ((VIEWER_TOKEN, 403), (OTHER_TENANT_TOKEN, 404)):
        answer = await client.post(url, json={}, headers=bearer(token))
        assert answer.status == status, await answer.text()
    answer = await client.post(url, json={"commander": "jane.commander"}, headers=bearer(COMMANDER_TOKEN))
    assert answer.status == 200, await answer.text()
    assert (await answer.json())["state"] == "accepted"
    assert declarer.calls == [("D-7", "jane.commander")]
    again = await client.post(url, json={}, headers=bearer(COMMANDER_TOKEN))
    assert again.status == 409
    assert "already accepted" in (await again.json())["error"]["message"]

    assert (await ProposalStore(rig.db).get("D-7")).decided_by == "alice"  # who decided, not who commands

    await rig.drain(rig.worker())
    incident = rig.emulator.store.get("incident", sys_id)
    assert incident is not None
    assert incident["major_incident_state"] == "accepted"
    assert incident["promoted_by"] == "alice"  # no such sys_user: written as given
    assert rig.emulator.store.display("sys_user", incident["assigned_to"]) == "Jane Commander"


async def test_reject_through_the_api_and_the_cli(
    rig: Rig, api: tuple[TestClient[Any, Any], RecordingDeclarer]
) -> None:
    client, _ = api
    await rig.propose("D-8")
    await rig.propose("D-9")
    missing = await client.post("/api/v1/proposals/D-8/reject", json={}, headers=bearer(COMMANDER_TOKEN))
    assert missing.status == 422
    assert (await missing.json())["error"]["problems"][0]["field"] == "reason"

    base = str(client.make_url("/"))
    argv = ["proposals", "reject", "D-8", "--reason", "Planned maintenance", "--url", base, "--token", COMMANDER_TOKEN]
    assert await asyncio.to_thread(cli, argv) == 0
    assert await asyncio.to_thread(cli, argv) == 1  # already rejected: 409
    proposal = await ProposalStore(rig.db).get("D-8")
    assert (proposal.state, proposal.decided_by, proposal.decision_reason) == (
        ProposalState.REJECTED,
        "alice",
        "Planned maintenance",
    )
    accept = ["proposals", "accept", "D-9", "--url", base, "--token", VIEWER_TOKEN]
    assert await asyncio.to_thread(cli, accept) == 1  # a viewer may not decide
