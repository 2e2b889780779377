"""A database filled the way the daemon fills it: proposals decided through `DecisionService`, incidents run by
the real `CommandService` on a FakeClock from declaration to resolution, status updates against the cadence.

The command tests' `db` fixture and proposal builder are reused; `Rollout` scripts two periods of four weeks,
before and after the rollout, so the report has a baseline to compare with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from daemon.command.cadence import UpdateSpec
from daemon.command.lifecycle import Command
from daemon.command.mitigation import ActionSpec, ActionStep
from daemon.command.models import Lane
from daemon.config.command import CommandSettings
from daemon.kernel.clock import FakeClock
from daemon.proposals.models import ProposalState
from daemon.runtime.command import ClosureInput, build
from daemon.runtime.decisions import DecisionService
from daemon.store import incidents, proposals
from daemon.store.database import Database
from daemon.telemetry.metrics import Metrics
from tests.command.conftest import T0, db, proposal  # noqa: F401 - db is the shared database fixture
from tests.command.test_scripted_incident import step

BASELINE_END = T0 + timedelta(weeks=4)
REPORT_END = T0 + timedelta(weeks=8)


@dataclass(frozen=True)
class Run:
    """One major incident: declared at `at`, resolved `minutes` later, updates published at these minutes."""

    n: int
    at: datetime
    minutes: int
    updates: tuple[int, ...] = ()
    tenant: str = "acme"
    service: str = "payments"


# acme before the rollout (cadence 30 min for P1): MTTR 60, 90, 120, 240 min; updates at +20 (on time, the next
# is due at +50) and +55 (late) or +40 (on time); incident 2 repeats incident 1 on payments. Incidents 2, 3 and 4
# resolve with an update slot passed unsent (due +85, +70, +65): each counts as a missed update, so 4 of 10.
BEFORE = (
    Run(1, T0 + timedelta(days=1), 60, (20, 55), service="payments"),
    Run(2, T0 + timedelta(days=8), 90, (20, 55), service="payments"),
    Run(3, T0 + timedelta(days=15), 120, (20, 40), service="search"),
    Run(4, T0 + timedelta(days=22), 240, (35,), service="mail"),
)
# acme after: MTTR 45, 60, 75 min, every update on time, no repeats (distinct services, no shared cause);
# globex has its first incident.
AFTER = (
    Run(5, BASELINE_END + timedelta(days=2), 45, (20,), service="dns"),
    Run(6, BASELINE_END + timedelta(days=9), 60, (20, 40), service="ledger"),
    Run(7, BASELINE_END + timedelta(days=23), 75, (25, 50), service="cdn"),
    Run(8, BASELINE_END + timedelta(days=10), 30, (10,), tenant="globex", service="portal"),
)
# Proposals turned down (precision's denominator) and one canceled (no verdict on micd), per period.
REJECTED_BEFORE = ((11, T0 + timedelta(days=3)), (12, T0 + timedelta(days=20)))
CANCELED_BEFORE = ((13, T0 + timedelta(days=5)),)


class Rollout:
    def __init__(self, database: Database) -> None:
        self.db = database
        self.clock = FakeClock(T0)
        metrics = Metrics()
        self.cmd = build(db=database, clock=self.clock, settings=CommandSettings(), tenants={}, metrics=metrics)
        self.decisions = DecisionService(db=database, metrics=metrics, clock=self.clock, declarer=self.cmd.service)

    async def _propose(self, n: int, at: datetime, *, tenant: str = "acme", service: str = "payments") -> str:
        self.clock.set(at)
        p = proposal(n, tenant=tenant, services=(service,), fingerprints=(f"fp{n}",), cause=None, at=at)
        await self.db.write(lambda c: proposals.insert(c, p))
        return p.id

    async def turn_down(self, n: int, at: datetime, state: ProposalState) -> None:
        pid = await self._propose(n, at)
        await self.decisions.decide(proposal_id=pid, decision=state, actor="alice", reason="not major")

    async def incident(self, run: Run) -> str:
        """Accept the proposal, run the incident through every gate, publish its updates, resolve it."""
        pid = await self._propose(run.n, run.at, tenant=run.tenant, service=run.service)
        await self.decisions.decide(proposal_id=pid, decision=ProposalState.ACCEPTED, actor="alice")
        declared = await self.db.read(lambda c: incidents.by_proposal(c, pid))
        assert declared is not None
        mi, svc = declared.id, self.cmd.service
        await svc.assign_lane(incident_id=mi, lane=Lane.TECHNICAL_LEAD, owner="bob", note="", actor="alice")
        await svc.assign_lane(incident_id=mi, lane=Lane.COMMUNICATIONS, owner="carol", note="", actor="alice")
        await svc.transition(incident_id=mi, request=step(Command.MITIGATE, "restart"), actor="alice")
        action = await svc.add_action(
            incident_id=mi, actor="bob", spec=ActionSpec(title="Restart", owner="bob", precheck="queue drained")
        )
        for s in (ActionStep(step="precheck", passed=True), ActionStep(step="start"), ActionStep(step="succeed")):
            await svc.action_step(incident_id=mi, action_id=action.id, actor="bob", step=s)
        await svc.transition(incident_id=mi, request=step(Command.MONITOR, "stable"), actor="alice")
        for minute in run.updates:
            self.clock.set(run.at + timedelta(minutes=minute))
            await svc.publish_update(incident_id=mi, actor="carol", spec=UpdateSpec(summary=f"update at +{minute}"))
        self.clock.set(run.at + timedelta(minutes=run.minutes))
        await svc.record_closure(
            incident_id=mi,
            actor="carol",
            evidence=ClosureInput(
                validation_note="checks green",
                customer_confirmed_by="support",
                customer_confirmed_at=self.clock.now(),
                residual_risk="none",
            ),
        )
        await svc.transition(incident_id=mi, request=step(Command.RESOLVE), actor="alice")
        return mi

    async def before(self) -> None:
        for run in BEFORE:
            await self.incident(run)
        for n, at in REJECTED_BEFORE:
            await self.turn_down(n, at, ProposalState.REJECTED)
        for n, at in CANCELED_BEFORE:
            await self.turn_down(n, at, ProposalState.CANCELED)

    async def after(self) -> None:
        for run in sorted(AFTER, key=lambda r: r.at):
            await self.incident(run)


@pytest.fixture
def config(db: Database, tmp_path: Path) -> Path:  # noqa: F811 - uses the shared fixture
    """Settings naming the test database and three tenants (initech never has an incident)."""
    path = tmp_path / "micd.yaml"
    settings = {"database": f"sqlite:///{db.path}", "tenants": {"acme": {}, "globex": {}, "initech": {}}}
    path.write_text(yaml.safe_dump(settings))
    return path
