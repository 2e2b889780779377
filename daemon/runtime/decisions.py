"""The commander's decision on a proposal, wherever it was taken: the micd API, the CLI, or ServiceNow.

One path for all three so that a decision is recorded once, counted once and declared once: the state change
and its outbox delivery commit together; a decision taken in ServiceNow is not sent back to it; accepting
declares the major incident through the command phase's port.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime
from typing import Literal, Protocol

from daemon.kernel.clock import Clock
from daemon.kernel.errors import Conflict, InvalidInput
from daemon.proposals.models import Proposal, ProposalState
from daemon.store import outbox
from daemon.store import proposals as proposal_rows
from daemon.store.database import Database
from daemon.store.proposals import ProposalStore
from daemon.telemetry.metrics import Metrics

log = logging.getLogger("micd.proposals")
DecisionSource = Literal["micd", "servicenow"]
DECISIONS = (ProposalState.ACCEPTED, ProposalState.REJECTED, ProposalState.CANCELED)


class IncidentDeclarer(Protocol):
    """Opens the major incident of an accepted proposal; idempotent per proposal. Returns the incident id."""

    async def declare(self, *, proposal: Proposal, commander: str, at: datetime) -> str: ...


class DecisionService:
    def __init__(
        self,
        *,
        db: Database,
        metrics: Metrics,
        clock: Clock,
        declarer: IncidentDeclarer | None = None,
    ) -> None:
        self._db = db
        self._proposals = ProposalStore(db)
        self._metrics = metrics
        self._clock = clock
        self.declarer = declarer

    async def decide(
        self,
        *,
        proposal_id: str,
        decision: ProposalState,
        actor: str,
        reason: str | None = None,
        commander: str | None = None,
        at: datetime | None = None,
        source: DecisionSource = "micd",
        tenant: str | None = None,
    ) -> Proposal:
        """Record the decision. Conflict (409) when the proposal was decided already, naming that state.

        `tenant` scopes the lookup (NotFound across tenants); `at` is when it was decided (ServiceNow's
        promoted_on), now by default; `commander` defaults to the actor.
        """
        if decision not in DECISIONS:
            raise InvalidInput.field("decision", "must be accepted, rejected or canceled")
        if decision is not ProposalState.ACCEPTED and not (reason or "").strip():
            raise InvalidInput.field("reason", f"required to mark a proposal {decision.value}")
        if not actor.strip():
            raise InvalidInput.field("actor", "who decided is required")
        current = await self._proposals.get(proposal_id, tenant=tenant)
        if current.state is not ProposalState.PROPOSED:
            raise Conflict(f"proposal {proposal_id} is already {current.state.value} (by {current.decided_by})")
        now = self._clock.now()
        when = min(at, now) if at is not None else now

        def record(conn: sqlite3.Connection) -> Proposal:
            decided = proposal_rows.set_decision(conn, proposal_id, state=decision, actor=actor, reason=reason, at=when)
            if source == "micd" and decided.mode == "live":
                outbox.enqueue(
                    conn,
                    topic="servicenow",
                    tenant=decided.tenant,
                    key=decided.id,
                    action="decision",
                    payload={"proposal_id": decided.id},
                    now=now,
                )
            return decided

        decided = await self._db.write(record)
        self._metrics.proposal_decisions.labels(decided.tenant, decision.value).inc()
        self._metrics.time_to_decide.labels(decided.tenant).observe(
            max(0.0, (when - decided.created_at).total_seconds())
        )
        ids = {"tenant": decided.tenant, "proposal": decided.id}
        log.info("proposal %s by %s via %s", decision.value, actor, source, extra=ids)
        if decision is ProposalState.ACCEPTED:
            await self._declare(decided, commander=commander or actor, at=when)
        return decided

    async def _declare(self, proposal: Proposal, *, commander: str, at: datetime) -> None:
        if self.declarer is None:
            log.warning("no incident declarer wired: accepted proposal not declared", extra={"proposal": proposal.id})
            return
        incident_id = await self.declarer.declare(proposal=proposal, commander=commander, at=at)
        log.info(
            "major incident declared, commander %s",
            commander,
            extra={"tenant": proposal.tenant, "proposal": proposal.id, "incident": incident_id},
        )
