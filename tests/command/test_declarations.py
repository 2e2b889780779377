"""A failed declaration after an accept heals itself: the owed declaration is in the store and the ticker sweeps it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from daemon.command.models import Lane
from daemon.config.command import CommandSettings
from daemon.kernel.clock import FakeClock
from daemon.proposals.models import Proposal, ProposalState
from daemon.runtime.command import Command, build
from daemon.runtime.command.declarations import TOPIC, DeclarationSweep
from daemon.runtime.decisions import DecisionService
from daemon.store import incidents, outages
from daemon.store import proposals as proposal_rows
from daemon.store.database import Database
from daemon.store.outbox import Outbox
from daemon.telemetry.metrics import Metrics
from tests.command.conftest import T0, FailingDeclarer, proposal


def command(db: Database, clock: FakeClock, metrics: Metrics) -> Command:
    return build(db=db, clock=clock, settings=CommandSettings(), tenants={}, metrics=metrics, outages=outages)


async def owed(db: Database) -> int:
    return await Outbox(db).depth(topic=TOPIC)


def declared_count(metrics: Metrics) -> float:
    return metrics.registry.get_sample_value("micd_major_incidents_declared_total", {"tenant": "acme"}) or 0.0


@pytest.fixture
async def accepted_once_failing(db: Database) -> tuple[FakeClock, Proposal]:
    """Proposal 1 accepted by alice with carol as commander, while declaring fails once."""
    clock = FakeClock(T0 + timedelta(minutes=3))
    await db.write(lambda c: proposal_rows.insert(c, proposal(1)))
    first = command(db, clock, Metrics())
    decisions = DecisionService(
        db=db, metrics=Metrics(), clock=clock, declarer=FailingDeclarer(first.service, failures=1)
    )
    decided = await decisions.decide(
        proposal_id="prop-1", decision=ProposalState.ACCEPTED, actor="alice", commander="carol"
    )
    return clock, decided


async def test_the_ticker_declares_what_a_failed_accept_left_owed(
    db: Database, accepted_once_failing: tuple[FakeClock, Proposal]
) -> None:
    clock, decided = accepted_once_failing
    assert decided.state is ProposalState.ACCEPTED  # the decision stands, the caller is not failed
    assert await db.read(lambda c: incidents.by_proposal(c, "prop-1")) is None
    assert await owed(db) == 1

    # a restarted micd: new objects, only the database carries over
    clock.advance(60)
    metrics = Metrics()
    restarted = command(db, clock, metrics)
    await restarted.ticker.tick()
    incident = await db.read(lambda c: incidents.by_proposal(c, "prop-1"))
    assert incident is not None
    assert incident.declared_at == decided.decided_at  # declared as of the decision, not the sweep
    assert (await db.read(lambda c: incidents.lanes(c, incident.id)))[Lane.COMMANDER] == "carol"
    assert await owed(db) == 0
    assert declared_count(metrics) == 1

    await restarted.ticker.tick()  # nothing owed any more: no second incident
    assert await db.read(lambda c: c.execute("SELECT COUNT(*) FROM incidents").fetchone()[0]) == 1
    assert declared_count(metrics) == 1


async def test_a_sweep_that_fails_again_backs_off_and_keeps_the_item(
    db: Database, accepted_once_failing: tuple[FakeClock, Proposal]
) -> None:
    clock, _ = accepted_once_failing
    cmd = command(db, clock, Metrics())
    sweep = DeclarationSweep(db=db, clock=clock, declarer=FailingDeclarer(cmd.service, failures=1), retry_seconds=30)
    assert await sweep.sweep() == []
    [item] = await Outbox(db).due(topic=TOPIC, now=clock.now() + timedelta(hours=1))
    assert (item.attempts, item.last_error) == (2, "Unavailable: database busy")
    assert await sweep.sweep() == []  # not due yet: 30 s doubled per earlier attempt
    clock.advance(59)
    assert await sweep.sweep() == []
    clock.advance(1)
    assert len(await sweep.sweep()) == 1
    assert await owed(db) == 0


async def test_a_successful_accept_owes_nothing(db: Database) -> None:
    clock = FakeClock(T0)
    await db.write(lambda c: proposal_rows.insert(c, proposal(2)))
    cmd = command(db, clock, Metrics())
    decisions = DecisionService(db=db, metrics=Metrics(), clock=clock, declarer=cmd.service)
    await decisions.decide(proposal_id="prop-2", decision=ProposalState.ACCEPTED, actor="alice")
    assert await owed(db) == 0
