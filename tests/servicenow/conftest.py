"""The emulator over HTTPS with its own CA, a micd database, and a delivery setup with fast, recorded backoff."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from daemon.config.settings import Settings
from daemon.kernel.clock import FakeClock
from daemon.proposals.models import AlertRef, Evidence, Proposal, ServiceEvidence
from daemon.runtime.decisions import DecisionService
from daemon.servicenow.connection import Connection
from daemon.servicenow.delivery import DeliveryWorker
from daemon.servicenow.desk import IncidentDesk
from daemon.servicenow.policy import CircuitBreaker
from daemon.servicenow.poller import DecisionPoller
from daemon.store import outbox, schema
from daemon.store import proposals as proposal_rows
from daemon.store.database import Database, Migration
from daemon.store.proposals import ProposalStore
from daemon.telemetry.metrics import Metrics
from tools.servicenow_emulator.query import parse
from tools.servicenow_emulator.rest import Account
from tools.servicenow_emulator.server import Emulator
from tools.servicenow_emulator.tables import Row

pytestmark = pytest.mark.timeout(60)
MICD = Account("micd.integration", "s3cret-pass")


@pytest.fixture
async def emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Emulator]:
    em = Emulator(
        cert_dir=tmp_path / "ca",
        accounts=[MICD, Account("admin", "admin"), Account("auditor", "auditor", read_only=True)],
    )
    await em.start()
    # pysnc lets REQUESTS_CA_BUNDLE override `verify`: trust the emulator's CA the way an operator would.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(em.ca_path))
    em.store.insert("core_company", {"name": "ACME Corp"}, user="admin")
    em.store.insert("sys_user_group", {"name": "MIM Team"}, user="admin")
    em.store.insert("sys_user", {"user_name": "jane.commander", "name": "Jane Commander"}, user="admin")
    yield em
    await em.stop()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "micd.sqlite3")
    steps: dict[tuple[str, int], Migration] = {
        (m.domain, m.version): m for m in [*schema.MIGRATIONS, *proposal_rows.MIGRATIONS]
    }
    database.migrate(list(steps.values()))
    yield database
    database.close()


def settings_for(emulator: Emulator, *, commander: str = "jane.commander", **servicenow: Any) -> Settings:
    return Settings(
        public_url="https://micd.example.test",
        tenants={
            "acme": {
                "company": "ACME Corp",
                "assignment_group": "MIM Team",
                "commander": commander,
            }
        },
        servicenow={
            "instance": emulator.url,
            "username": MICD.user_name,
            "password": MICD.password,
            "timeout": 2.0,
            "attempts": 3,
            "backoff_initial": 0.5,
            "backoff_max": 60.0,
            "breaker_failures": 3,
            "breaker_reset": 30.0,
            "delivery_interval": 0.02,
            "poll_interval": 0.05,
            **servicenow,
        },
    )


def make_proposal(proposal_id: str, clock: FakeClock, *, tenant: str = "acme") -> Proposal:
    now = clock.now()
    return Proposal(
        id=proposal_id,
        tenant=tenant,
        outage_id=f"outage-{proposal_id}",
        rule="tier1-customer-facing",
        impact=1,
        urgency=1,
        title=f"Card payments failing ({proposal_id})",
        business_impact="Customers cannot pay by card in the web shop",
        description="payments-api and checkout error rates above 20% for 5 minutes",
        evidence=Evidence(
            services=[
                ServiceEvidence(
                    name="payments-api",
                    tier=1,
                    customer_facing=True,
                    regulated=["pci"],
                    cmdb_ci="Payments API",
                    business_service="Card Payments",
                ),
                ServiceEvidence(name="checkout", tier=2, alerts=1),
            ],
            alerts=[
                AlertRef(
                    fingerprint="a1b2c3",
                    alertname="HighErrorRate",
                    service="payments-api",
                    match="label service=payments-api",
                    severity="critical",
                    starts_at=now - timedelta(minutes=6),
                )
            ],
            matched_conditions=["tier <= 1", "customer_facing"],
            probable_cause="payments-db",
            probable_cause_reasoning="every alerting service depends on it",
        ),
        first_alert_at=now - timedelta(minutes=6),
        created_at=now,
        updated_at=now,
    )


@dataclass
class Rig:
    """One micd's ServiceNow side, built the way service.py builds it, with recorded (not slept) backoff."""

    emulator: Emulator
    db: Database
    clock: FakeClock
    settings: Settings
    metrics: Metrics = field(default_factory=Metrics)
    waits: list[float] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)

    def desk(self) -> IncidentDesk:
        connection = Connection(self.settings.servicenow, metrics=self.metrics, clock=self.clock)
        self.connections.append(connection)
        return IncidentDesk(connection)

    def worker(self, follower: Any = None) -> DeliveryWorker:
        sn = self.settings.servicenow
        return DeliveryWorker(
            follower=follower,
            settings=self.settings,
            db=self.db,
            desk=self.desk(),
            proposals=ProposalStore(self.db),
            clock=self.clock,
            breaker=CircuitBreaker(failures=sn.breaker_failures, reset=timedelta(seconds=sn.breaker_reset)),
            sleep=self.sleep,
        )

    def decisions(self, declarer: Any = None) -> DecisionService:
        return DecisionService(db=self.db, metrics=self.metrics, clock=self.clock, declarer=declarer)

    def poller(self, decisions: DecisionService) -> DecisionPoller:
        return DecisionPoller(
            desk=self.desk(),
            proposals=ProposalStore(self.db),
            sink=decisions,
            interval=self.settings.servicenow.poll_interval,
        )

    async def propose(self, proposal_id: str) -> Proposal:
        proposal = make_proposal(proposal_id, self.clock)
        now = self.clock.now()

        def write(conn: Any) -> None:
            proposal_rows.insert(conn, proposal)
            outbox.enqueue(
                conn,
                topic="servicenow",
                tenant=proposal.tenant,
                key=proposal.id,
                action="propose",
                payload={"proposal_id": proposal.id},
                now=now,
            )

        await self.db.write(write)
        return proposal

    async def enqueue(self, proposal_id: str, action: str, **payload: Any) -> None:
        now = self.clock.now()
        await self.db.write(
            lambda c: outbox.enqueue(
                c,
                topic="servicenow",
                tenant="acme",
                key=proposal_id,
                action=action,
                payload={"proposal_id": proposal_id, **payload},
                now=now,
            )
        )

    def incidents(self, proposal_id: str) -> list[Row]:
        return self.emulator.store.select("incident", parse(f"correlation_id={proposal_id}"))

    def journal(self, sys_id: str, element: str = "work_notes") -> list[str]:
        rows = self.emulator.store.select("sys_journal_field", parse(f"element_id={sys_id}^element={element}"))
        return [r["value"] for r in rows]

    async def depth(self) -> int:
        return await outbox.Outbox(self.db).depth(topic="servicenow")

    def count(self, operation: str, outcome: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "micd_servicenow_requests_total", {"operation": operation, "outcome": outcome}
        )
        return value or 0.0

    async def drain(self, worker: DeliveryWorker, *, step: float = 61.0, rounds: int = 20) -> None:
        """Run the worker, moving the fake clock past every backoff, until the outbox is empty (bounded)."""
        for _ in range(rounds):
            await worker.run_once()
            if await self.depth() == 0:
                return
            self.clock.advance(step)
        raise AssertionError(f"outbox not drained after {rounds} rounds: {await self.depth()} left")

    def close(self) -> None:
        for connection in self.connections:
            connection.close()


@pytest.fixture
async def rig(emulator: Emulator, db: Database) -> AsyncIterator[Rig]:
    made = Rig(emulator=emulator, db=db, clock=FakeClock(), settings=settings_for(emulator))
    yield made
    made.close()
