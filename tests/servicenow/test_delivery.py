"""Real pysnc against the emulator over HTTPS: every proposal yields exactly one incident, whatever happens."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from daemon.kernel.errors import NotFound
from daemon.servicenow.service import ServiceNow
from daemon.store import proposals as proposal_rows
from daemon.store.outbox import Outbox
from daemon.store.proposals import ProposalStore
from tests.servicenow.conftest import Rig, settings_for
from tools.servicenow_emulator.faults import Fault

pytestmark = pytest.mark.timeout(60)


async def test_a_proposal_arrives_once_with_fields_and_evidence(rig: Rig) -> None:
    await rig.propose("P-1")
    worker = rig.worker()
    assert await worker.run_once() == 1
    assert await worker.run_once() == 0

    [incident] = rig.incidents("P-1")
    store = rig.emulator.store
    assert incident["short_description"] == "Card payments failing (P-1)"
    assert (incident["impact"], incident["urgency"], incident["priority"]) == ("1", "1", "1")
    assert incident["major_incident_state"] == "proposed"
    assert incident["business_impact"] == "Customers cannot pay by card in the web shop"
    assert store.display("core_company", incident["company"]) == "ACME Corp"
    assert store.display("sys_user_group", incident["assignment_group"]) == "MIM Team"
    assert store.display("sys_user", incident["assigned_to"]) == "Jane Commander"
    assert incident["cmdb_ci"] == "Payments API"  # no such CI on this instance: kept as given
    assert incident["business_service"] == "Card Payments"
    assert store.display("sys_user", incident["proposed_by"]) == "micd.integration"
    [note] = rig.journal(incident["sys_id"])
    assert "payments-api (tier 1, customer-facing, regulated: pci, CI Payments API)" in note
    assert "HighErrorRate [critical] on payments-api" in note
    assert "Probable cause: payments-db" in note
    assert "https://micd.example.test/api/v1/proposals/P-1" in note

    proposal = await ProposalStore(rig.db).get("P-1")
    assert (proposal.external_id, proposal.external_number) == (incident["sys_id"], incident["number"])
    assert rig.count("create", "ok") == 1


async def test_evidence_growth_is_appended_as_work_notes_once_each(rig: Rig) -> None:
    await rig.propose("P-2")
    await rig.drain(rig.worker())

    def escalate(conn: Any) -> None:
        grown = proposal_rows.fetch(conn, "P-2").model_copy(
            update={"title": "acme: payments-db outage affecting 5 service(s)", "impact": 1, "urgency": 1}
        )
        proposal_rows.update_evidence(conn, grown)

    await rig.db.write(escalate)
    await rig.enqueue("P-2", "evidence")
    await rig.enqueue("P-2", "journal", text="Status: payments degraded", field="comments")
    await rig.drain(rig.worker())
    [incident] = rig.incidents("P-2")
    assert len(rig.journal(incident["sys_id"])) == 2  # the proposal's evidence, then the grown evidence
    assert incident["short_description"] == "acme: payments-db outage affecting 5 service(s)"  # told again
    [comment] = rig.journal(incident["sys_id"], "comments")
    assert comment.startswith("Status: payments degraded")


async def test_a_lost_answer_on_create_or_append_is_not_repeated(rig: Rig) -> None:
    """ServiceNow stores the record but the answer comes after micd gave up: the retry must find, not add."""
    rig.settings = settings_for(rig.emulator, timeout=0.3)
    rig.emulator.state.faults.add(Fault(kind="slow", delay=0.8, count=1, methods=["POST"]))
    await rig.propose("P-3")
    await rig.drain(rig.worker())
    assert len(rig.incidents("P-3")) == 1
    assert rig.count("create", "timeout") == 1

    rig.emulator.state.faults.add(Fault(kind="slow", delay=0.8, count=1, methods=["PATCH"]))
    await rig.enqueue("P-3", "evidence")
    await rig.drain(rig.worker())
    [incident] = rig.incidents("P-3")
    assert len(rig.journal(incident["sys_id"])) == 2


@pytest.mark.parametrize("form", ["seconds", "date"])
async def test_a_429_storm_honours_retry_after_and_yields_one_incident(rig: Rig, form: str) -> None:
    """Retry-After in both forms RFC 9110 allows: delay-seconds, or an HTTP-date read against micd's clock."""
    wait = {"retry_after": 7} if form == "seconds" else {"retry_at": rig.clock.now() + timedelta(seconds=7)}
    rig.emulator.state.faults.add(Fault(kind="throttle", count=7, **wait))
    await rig.propose("P-4")
    worker = rig.worker()
    await worker.run_once()
    assert rig.incidents("P-4") == []
    assert rig.waits == [7.0, 7.0]  # three tries, two waits between them, each what Retry-After asked
    assert rig.count("find", "throttled") == 3
    [item] = await Outbox(rig.db).due(topic="servicenow", now=rig.clock.now() + timedelta(hours=1))
    assert item.attempts == 1  # back in the outbox, not lost, and not due before Retry-After
    assert await Outbox(rig.db).due(topic="servicenow", now=rig.clock.now() + timedelta(seconds=6)) == []
    await rig.drain(worker)
    assert len(rig.incidents("P-4")) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_yield_one_incident(rig: Rig, status: int) -> None:
    # 500 answers ServiceNow's JSON error, 502/503 a load balancer's HTML page.
    rig.emulator.state.faults.add(Fault(kind="error", status=status, count=4, methods=["POST"]))
    await rig.propose("P-5")
    await rig.drain(rig.worker())
    assert len(rig.incidents("P-5")) == 1
    assert rig.count("create", "error") == 4


async def test_an_outage_opens_the_circuit_and_delivery_resumes_on_the_same_port(rig: Rig) -> None:
    port = rig.emulator.port
    await rig.emulator.down()
    for i in range(3):
        await rig.propose(f"P-6{i}")
    worker = rig.worker()
    await worker.run_once()
    failed = rig.count("find", "unreachable")
    assert failed == 3  # breaker_failures: then the circuit opens
    rig.clock.advance(10)
    await worker.run_once()
    assert rig.count("find", "unreachable") == failed  # open circuit: nobody hammers the dead instance
    assert await rig.depth() == 3

    await rig.emulator.up()
    assert rig.emulator.port == port
    await rig.drain(worker)
    assert [len(rig.incidents(f"P-6{i}")) for i in range(3)] == [1, 1, 1]


async def test_a_restarted_daemon_with_a_full_outbox_makes_one_incident_each(rig: Rig) -> None:
    """Stop the delivery loop mid-flight (creates answered late), start a new one: no proposal doubles."""
    rig.settings = settings_for(rig.emulator, timeout=0.3)
    ids = [f"P-7{i}" for i in range(6)]
    for proposal_id in ids:
        await rig.propose(proposal_id)
    rig.emulator.state.faults.add(Fault(kind="slow", delay=0.5, count=3, methods=["POST"]))

    async def created() -> int:
        return sum(1 for p in ids if rig.incidents(p))

    first = ServiceNow(
        settings=rig.settings,
        db=rig.db,
        metrics=rig.metrics,
        clock=rig.clock,
        decisions=rig.decisions(),
        sleep=rig.sleep,
    )
    await first.start()
    for _ in range(200):
        if await created() >= 2:
            break
        await asyncio.sleep(0.02)
    await first.stop()
    assert await rig.depth() > 0

    second = ServiceNow(
        settings=rig.settings,
        db=rig.db,
        metrics=rig.metrics,
        clock=rig.clock,
        decisions=rig.decisions(),
        sleep=rig.sleep,
    )
    async with second.running():
        for _ in range(500):
            if await rig.depth() == 0:
                break
            rig.clock.advance(61)
            await asyncio.sleep(0.02)
    assert await rig.depth() == 0
    assert [len(rig.incidents(p)) for p in ids] == [1] * len(ids)


async def test_without_an_instance_items_wait_in_the_outbox(rig: Rig) -> None:
    settings = rig.settings.model_copy(
        update={"servicenow": rig.settings.servicenow.model_copy(update={"instance": None})}
    )
    await rig.propose("P-8")
    service = ServiceNow(settings=settings, db=rig.db, metrics=rig.metrics, clock=rig.clock, decisions=rig.decisions())
    async with service.running():
        assert service.worker is None
        await rig.metrics.render()
    assert rig.metrics.registry.get_sample_value("micd_servicenow_outbox_depth") == 1
    assert rig.emulator.state.requests == []


async def test_refused_credentials_keep_the_item_and_retry_seldom(rig: Rig) -> None:
    rig.settings = settings_for(rig.emulator, password="wrong")
    await rig.propose("P-9")
    worker = rig.worker()
    assert await worker.run_once() == 0
    assert rig.count("find", "denied") == 1  # not retried in a loop: a 401 does not heal by itself
    assert rig.waits == []
    rig.clock.advance(59)
    assert await worker.run_once() == 0
    assert rig.count("find", "denied") == 1  # rescheduled backoff_max (60 s) later
    assert await rig.depth() == 1


async def test_unknown_proposal_is_kept_not_dropped(rig: Rig) -> None:
    await rig.enqueue("P-missing", "propose")
    worker = rig.worker()
    assert await worker.run_once() == 0
    assert await rig.depth() == 1
    with pytest.raises(NotFound):
        await ProposalStore(rig.db).get("P-missing")


def user_lookups(rig: Rig) -> int:
    return sum(1 for r in rig.emulator.state.requests if r["path"] == "/api/now/table/sys_user")


async def test_the_commander_is_assigned_by_sys_id_looked_up_once_per_process(rig: Rig) -> None:
    rig.settings = settings_for(rig.emulator, commander="jane.doe")
    jane = rig.emulator.store.user_id("jane.doe")
    worker = rig.worker()
    for proposal_id in ("U-1", "U-2"):
        await rig.propose(proposal_id)
        await rig.drain(worker)
        [incident] = rig.incidents(proposal_id)
        assert incident["assigned_to"] == jane  # a user_name alone would have matched nobody on an instance
        assert rig.emulator.store.display("sys_user", incident["assigned_to"]) == "Jane Doe"
        [note] = rig.journal(incident["sys_id"])
        assert "no ServiceNow user" not in note
    assert user_lookups(rig) == 1


async def test_an_unknown_commander_is_written_as_given_with_a_work_note(rig: Rig) -> None:
    rig.settings = settings_for(rig.emulator, commander="ghost.user")
    worker = rig.worker()
    for proposal_id in ("U-3", "U-4"):
        await rig.propose(proposal_id)
        await rig.drain(worker)
    [incident] = rig.incidents("U-3")
    assert incident["assigned_to"] == "ghost.user"
    [note] = rig.journal(incident["sys_id"])  # one entry: the warning rides with the evidence
    assert note.startswith("micd: no ServiceNow user has user_name 'ghost.user'; assigned_to was set")
    assert "Probable cause: payments-db" in note
    assert user_lookups(rig) == 2  # a miss is asked again: the user may have been created meanwhile
