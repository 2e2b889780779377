"""ProposalStore against a real SQLite file: the contract the ServiceNow and command helpers code against."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from daemon.kernel.errors import Conflict, NotFound
from daemon.proposals.models import Evidence, Proposal, ProposalState
from daemon.store import cursors, outbox
from daemon.store import proposals as store
from daemon.store.database import Database
from daemon.store.proposals import ProposalStore

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "micd.sqlite3")
    database.migrate([*store.MIGRATIONS, *cursors.MIGRATIONS, *outbox.MIGRATIONS])
    yield database
    database.close()


def make(n: int, *, tenant: str = "acme", at: datetime = T0, mode: str = "live") -> Proposal:
    return Proposal(
        id=f"p{n}",
        tenant=tenant,
        outage_id=f"o{n}",
        rule="r",
        mode="live" if mode == "live" else "shadow",
        impact=1,
        urgency=1,
        title="t",
        business_impact="b",
        evidence=Evidence(),
        first_alert_at=at,
        created_at=at,
        updated_at=at,
    )


async def test_insert_get_and_tenant_isolation(db: Database) -> None:
    await db.write(lambda c: store.insert(c, make(1)))
    repo = ProposalStore(db)
    assert (await repo.get("p1")).outage_id == "o1"
    assert (await repo.get("p1", tenant="acme")).id == "p1"
    with pytest.raises(NotFound):
        await repo.get("p1", tenant="globex")
    with pytest.raises(NotFound):
        await repo.get("nope")
    assert (await repo.by_outage("o1")) is not None
    assert (await repo.by_outage("o2")) is None


async def test_second_proposal_for_an_outage_is_a_conflict(db: Database) -> None:
    await db.write(lambda c: store.insert(c, make(1)))
    with pytest.raises(Conflict):
        await db.write(lambda c: store.insert(c, make(1).model_copy(update={"id": "other"})))


async def test_list_pages_newest_first_with_filters(db: Database) -> None:
    for n in range(5):
        proposal = make(n, at=T0 + timedelta(minutes=n))
        await db.write(lambda c: store.insert(c, proposal))  # noqa: B023 - awaited before the next loop turn
    await db.write(lambda c: store.insert(c, make(9, tenant="globex")))
    repo = ProposalStore(db)
    first = await repo.list(tenant="acme", limit=2)
    assert [p.id for p in first.items] == ["p4", "p3"]
    assert first.total == 5
    second = await repo.list(tenant="acme", limit=2, cursor=first.next)
    third = await repo.list(tenant="acme", limit=2, cursor=second.next)
    assert [p.id for p in second.items + third.items] == ["p2", "p1", "p0"]
    assert third.next is None
    assert (await repo.list(state=ProposalState.ACCEPTED)).total == 0
    assert (await repo.list()).total == 6


async def test_decision_once_then_conflict(db: Database) -> None:
    await db.write(lambda c: store.insert(c, make(1)))
    decided = await db.write(
        lambda c: store.set_decision(c, "p1", state=ProposalState.REJECTED, actor="ann", reason="noise", at=T0)
    )
    assert decided.state is ProposalState.REJECTED
    assert decided.decided_by == "ann"
    with pytest.raises(Conflict):
        await db.write(
            lambda c: store.set_decision(c, "p1", state=ProposalState.ACCEPTED, actor="bob", reason=None, at=T0)
        )
    assert (await ProposalStore(db).get("p1")).state is ProposalState.REJECTED
    rejected = await db.read(lambda c: store.rejected_since(c, tenant="acme", since=T0 - timedelta(hours=1)))
    assert [p.id for p in rejected] == ["p1"]


async def test_awaiting_decision_needs_live_delivered_undecided(db: Database) -> None:
    for n in range(3):
        proposal = make(n)
        await db.write(lambda c: store.insert(c, proposal))  # noqa: B023 - awaited before the next loop turn
    await db.write(lambda c: store.insert(c, make(7, mode="shadow")))
    await db.write(lambda c: store.set_external(c, "p0", external_id="sys0", external_number="INC0", now=T0))
    await db.write(lambda c: store.set_external(c, "p1", external_id="sys1", external_number="INC1", now=T0))
    await db.write(lambda c: store.set_decision(c, "p1", state=ProposalState.ACCEPTED, actor="a", reason=None, at=T0))
    waiting = await ProposalStore(db).awaiting_decision()
    assert [(p.id, p.external_number) for p in waiting] == [("p0", "INC0")]


async def test_update_evidence_replaces_the_document(db: Database) -> None:
    await db.write(lambda c: store.insert(c, make(1)))
    grown = make(1).model_copy(update={"evidence_version": 2, "title": "bigger"})
    await db.write(lambda c: store.update_evidence(c, grown))
    got = await ProposalStore(db).get("p1")
    assert (got.evidence_version, got.title) == (2, "bigger")


async def test_cursor_starts_at_zero_and_never_rewinds(db: Database) -> None:
    assert await db.read(lambda c: cursors.get(c, "correlator")) == 0
    await db.write(lambda c: cursors.set(c, "correlator", 10))
    await db.write(lambda c: cursors.set(c, "correlator", 4))
    assert await db.read(lambda c: cursors.get(c, "correlator")) == 10
