"""The correlation loop against a real SQLite store: one transaction per batch, outbox, restart, shadow mode."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from daemon.alerts.models import Alert, AlertStatus
from daemon.config.correlation import CorrelationSettings
from daemon.correlation.models import OutageState
from daemon.kernel.clock import FakeClock
from daemon.runtime.correlator import CURSOR, CorrelationLoop
from daemon.runtime.rules import RulesHolder
from daemon.store import alerts as alert_rows
from daemon.store import cursors, outages, outbox
from daemon.store import proposals as proposal_rows
from daemon.store.alerts import AlertStore
from daemon.store.database import Database
from daemon.store.outages import OutageStore
from daemon.store.outbox import Outbox
from daemon.store.proposals import ProposalStore
from daemon.telemetry.metrics import Metrics
from tests.correlation.factory import RULES_DIR, T0, make_alert

MIGRATIONS = [
    *alert_rows.MIGRATIONS,
    *outbox.MIGRATIONS,
    *outages.MIGRATIONS,
    *proposal_rows.MIGRATIONS,
    *cursors.MIGRATIONS,
]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "micd.sqlite3")
    database.migrate(MIGRATIONS)
    yield database
    database.close()


class Rig:
    def __init__(self, db: Database, rules_dir: Path, clock: FakeClock) -> None:
        self.db, self.clock, self.metrics = db, clock, Metrics()
        self.alerts = AlertStore(db)
        holder = RulesHolder(directory=rules_dir, metrics=self.metrics)
        holder.start()
        self.loop = CorrelationLoop(
            db=db,
            alerts=self.alerts,
            rules=holder,
            settings=CorrelationSettings(),
            tenants={},
            metrics=self.metrics,
            clock=clock,
        )

    async def send(self, *alerts: Alert) -> None:
        await self.alerts.apply(list(alerts), received_at=self.clock.now())
        while await self.loop.run_once():
            pass

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0


OUTAGE = (
    make_alert("acme", "PayErr", service="payments-api"),
    make_alert("acme", "ShopDown", service="web-shop"),
)


async def test_a_new_live_proposal_commits_with_its_outbox_item(db: Database) -> None:
    rig = Rig(db, RULES_DIR, FakeClock(T0 + timedelta(seconds=30)))
    await rig.loop.restore()
    await rig.send(*OUTAGE)
    page = await ProposalStore(db).list(tenant="acme")
    (proposal,) = page.items
    assert proposal.rule == "customer-facing-outage"
    due = await Outbox(db).due(topic="servicenow", now=rig.clock.now())
    assert [(i.action, i.key, i.payload["proposal_id"]) for i in due] == [("propose", proposal.id, proposal.id)]
    assert rig.sample("micd_proposals_total", tenant="acme", rule=proposal.rule, mode="live") == 1
    assert rig.sample("micd_time_to_propose_seconds_count", tenant="acme") == 1
    assert rig.sample("micd_correlation_seconds_count") == 2
    assert await db.read(lambda c: cursors.get(c, CURSOR)) == 2
    detail = await OutageStore(db).get(proposal.outage_id, tenants=["acme"])
    assert {a.alertname for a in detail.alerts} == {"PayErr", "ShopDown"}


async def test_after_a_restart_growth_updates_the_same_proposal(db: Database) -> None:
    clock = FakeClock(T0)
    first = Rig(db, RULES_DIR, clock)
    await first.loop.restore()
    await first.send(*OUTAGE)
    clock.advance(60)
    second = Rig(db, RULES_DIR, clock)
    await second.loop.restore()
    await second.send(make_alert("acme", "ChkErr", app="checkout", start=T0 + timedelta(minutes=1)))
    page = await ProposalStore(db).list(tenant="acme")
    assert page.total == 1
    assert page.items[0].evidence_version == 2
    due_all = await db.read(lambda c: [r["action"] for r in c.execute("SELECT action FROM outbox ORDER BY id")])
    assert due_all == ["propose", "evidence"]
    outage_page = await OutageStore(db).list(tenants=["acme"], state=OutageState.OPEN, limit=10, cursor=None)
    assert outage_page.items[0].services == ["checkout", "payments-api", "web-shop"]


async def test_shadow_mode_records_but_never_sends(db: Database, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules)
    impact = rules / "impact" / "rules.yaml"
    impact.write_text(impact.read_text().replace("mode: live ", "mode: shadow "))
    rig = Rig(db, rules, FakeClock(T0))
    await rig.loop.restore()
    await rig.send(*OUTAGE)
    (proposal,) = (await ProposalStore(db).list(tenant="acme")).items
    assert proposal.mode == "shadow"
    assert await Outbox(db).depth(topic="servicenow") == 0
    assert rig.sample("micd_proposals_total", tenant="acme", rule=proposal.rule, mode="shadow") == 1
    assert await ProposalStore(db).awaiting_decision() == []


async def test_an_outage_linked_to_an_open_incident_is_not_proposed(db: Database) -> None:
    rig = Rig(db, RULES_DIR, FakeClock(T0))
    await rig.loop.restore()
    await rig.send(OUTAGE[0])
    (outage_id,) = rig.loop.correlator.outages
    await db.write(lambda c: outages.link_incident(c, outage_id, incident_id="MI-7", open_=True))
    await rig.send(OUTAGE[1])
    assert (await ProposalStore(db).list()).total == 0
    detail = await OutageStore(db).get(outage_id, tenants=None)
    assert (detail.outage.linked_incident, detail.outage.incident_open) == ("MI-7", True)


async def recurrence(db: Database, *, incident_open: bool) -> tuple[str, str]:
    """An outage handled in MI-7 (open or not) resolves and closes; its alerts fire again a minute later."""
    clock = FakeClock(T0)
    rig = Rig(db, RULES_DIR, clock)
    await rig.loop.restore()
    await rig.send(*OUTAGE)
    (first,) = rig.loop.correlator.outages
    await db.write(lambda c: outages.link_incident(c, first, incident_id="MI-7", open_=incident_open))
    clock.advance(120)
    await rig.send(*(a.model_copy(update={"status": AlertStatus.RESOLVED, "ends_at": clock.now()}) for a in OUTAGE))
    clock.advance(301)
    await rig.loop.tick()
    clock.advance(60)
    await rig.send(*(a.model_copy(update={"starts_at": clock.now()}) for a in OUTAGE))
    (again,) = rig.loop.correlator.outages
    return first, again


async def test_a_recurrence_while_the_incident_is_open_is_a_relapse_not_a_second_proposal(db: Database) -> None:
    first, again = await recurrence(db, incident_open=True)
    store = OutageStore(db)
    relapse = (await store.get(again, tenants=None)).outage
    assert relapse.previous_outage == first
    assert (relapse.linked_incident, relapse.incident_open) == ("MI-7", True)
    assert (await ProposalStore(db).list()).total == 1
    await db.write(lambda c: outages.link_incident(c, first, incident_id="MI-7", open_=False))
    assert (await store.get(again, tenants=None)).outage.incident_open is False


async def test_a_recurrence_after_the_incident_closed_is_proposed_again(db: Database) -> None:
    _, again = await recurrence(db, incident_open=False)
    assert (await OutageStore(db).get(again, tenants=None)).outage.linked_incident is None
    assert (await ProposalStore(db).list()).total == 2


async def test_unmatched_alerts_are_counted_and_listed(db: Database) -> None:
    rig = Rig(db, RULES_DIR, FakeClock(T0))
    await rig.loop.restore()
    await rig.send(make_alert("globex", "Odd", job="kube-state-metrics"))
    assert rig.sample("micd_alerts_unmatched_total", tenant="globex") == 1
    page = await OutageStore(db).unmatched(tenants=["globex"], limit=10, cursor=None)
    assert [a.alertname for a in page.items] == ["Odd"]
    assert (await OutageStore(db).unmatched(tenants=["acme"], limit=10, cursor=None)).total == 0


async def test_resolved_outages_close_after_the_grace_and_leave_the_gauge(db: Database) -> None:
    clock = FakeClock(T0)
    rig = Rig(db, RULES_DIR, clock)
    await rig.loop.restore()
    await rig.send(*OUTAGE)
    await rig.loop.refresh_gauges()
    assert rig.sample("micd_outages_active", tenant="acme") == 1
    clock.advance(120)
    await rig.send(*(a.model_copy(update={"status": AlertStatus.RESOLVED, "ends_at": clock.now()}) for a in OUTAGE))
    clock.advance(301)
    await rig.loop.tick()
    await rig.loop.refresh_gauges()
    # the series reads 0, it does not vanish (Grafana would show "no data")
    assert rig.metrics.registry.get_sample_value("micd_outages_active", {"tenant": "acme"}) == 0.0
    page = await OutageStore(db).list(tenants=None, state=OutageState.CLOSED, limit=10, cursor=None)
    assert page.total == 1


async def test_the_running_loop_wakes_on_new_events(db: Database) -> None:
    rig = Rig(db, RULES_DIR, FakeClock(T0))
    running = rig.loop.context()
    await running.__anext__()
    try:
        await rig.alerts.apply(list(OUTAGE), received_at=T0)
        rig.loop.wake()
        for _ in range(100):  # bounded poll, up to ~10 s
            if (await ProposalStore(db).list()).total:
                break
            await asyncio.sleep(0.1)
        assert (await ProposalStore(db).list()).total == 1
    finally:
        with contextlib.suppress(StopAsyncIteration):
            await running.__anext__()


async def test_an_outage_closing_while_its_proposal_waits_sends_evidence(db: Database) -> None:
    clock = FakeClock(T0)
    rig = Rig(db, RULES_DIR, clock)
    await rig.loop.restore()
    await rig.send(*OUTAGE)
    clock.advance(120)
    await rig.send(*(a.model_copy(update={"status": AlertStatus.RESOLVED, "ends_at": clock.now()}) for a in OUTAGE))
    clock.advance(301)
    await rig.loop.tick()
    (proposal,) = (await ProposalStore(db).list(tenant="acme")).items
    assert proposal.state.value == "proposed"
    assert proposal.evidence.facts["outage_closed_at"] == clock.now().isoformat()
    actions = await db.read(lambda c: [r["action"] for r in c.execute("SELECT action FROM outbox ORDER BY id")])
    assert actions == ["propose", "evidence"]
