"""The commander's decision on a proposal, wherever it was taken: the micd API, the CLI, or ServiceNow.

One path for all three so that a decision is recorded once, counted once and declared once: the state change
and its outbox delivery commit together; a decision taken in ServiceNow is not sent back to it; accepting
declares the major incident through the command phase's port. The declaration is owed in the store from the
same transaction, so when it fails here the cadence ticker declares it later (`runtime.command.declarations`).
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime
from typing import Literal

from daemon.kernel.clock import Clock
from daemon.kernel.errors import Conflict, InvalidInput
from daemon.proposals.models import Proposal, ProposalState
from daemon.runtime.command.declarations import IncidentDeclarer, owe
from daemon.store import outbox
from daemon.store import proposals as proposal_rows
from daemon.store.database import Database
from daemon.store.outbox import Outbox
from daemon.store.proposals import ProposalStore
from daemon.telemetry.metrics import Metrics

log = logging.getLogger("micd.proposals")
DecisionSource = Literal["micd", "servicenow"]
DECISIONS = (ProposalState.ACCEPTED, ProposalState.REJECTED, ProposalState.CANCELED)


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
        self._outbox = Outbox(db)
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
        lead = commander or actor
        accepting = decision is ProposalState.ACCEPTED

        def record(conn: sqlite3.Connection) -> tuple[Proposal, int | None]:
            decided = proposal_rows.set_decision(conn, proposal_id, state=decision, actor=actor, reason=reason, at=when)
            owed = owe(conn, proposal=decided, commander=lead, at=when, now=now) if accepting else None
            if source == "micd" and decided.mode == "live":
                outbox.enqueue(
                    conn,
                    topic="servicenow",
                    tenant=decided.tenant,
                    key=decided.id,
                    action="decision",
                    payload={"proposal_id": decided.id, "commander": lead},
                    now=now,
                )
            return decided, owed

        decided, owed = await self._db.write(record)
        self._metrics.proposal_decisions.labels(decided.tenant, decision.value).inc()
        self._metrics.time_to_decide.labels(decided.tenant).observe(
            max(0.0, (when - decided.created_at).total_seconds())
        )
        ids = {"tenant": decided.tenant, "proposal": decided.id}
        log.info("proposal %s by %s via %s", decision.value, actor, source, extra=ids)
        if owed is not None:
            await self._declare(decided, owed, commander=lead, at=when)
        return decided

    async def follow_servicenow(
        self, *, proposal_id: str, decision: ProposalState, actor: str, reason: str, at: datetime
    ) -> Proposal | None:
        """micd's decision reached ServiceNow after another was taken there: ServiceNow's record stands.

        A micd rejection or cancel gives way (an accepted major incident exists in ServiceNow, so micd declares
        it and runs its command phase); a micd acceptance does not, since an incident is already being commanded
        here: that conflict is logged for the commander to settle. Returns the proposal when it changed."""
        current = await self._proposals.get(proposal_id)
        ids = {"tenant": current.tenant, "proposal": current.id}
        if current.state is decision or current.state is ProposalState.PROPOSED:
            return None
        if current.state is ProposalState.ACCEPTED:
            log.warning(
                "ServiceNow holds %s by %s, micd accepted (by %s) and declared: the commander decides whether to "
                "cancel",
                decision.value,
                actor,
                current.decided_by,
                extra=ids,
            )
            return None
        now = self._clock.now()
        when = min(at, now)
        why = (
            f"{decision.value} in ServiceNow by {actor} before micd's {current.state.value} by {current.decided_by} "
            f"reached it; ServiceNow's record stands" + (f": {reason}" if reason else "")
        )
        accepting = decision is ProposalState.ACCEPTED

        def record(conn: sqlite3.Connection) -> tuple[Proposal, int | None]:
            changed = proposal_rows.supersede_decision(
                conn, proposal_id, state=decision, actor=actor, reason=why, at=when, now=now
            )
            owed = owe(conn, proposal=changed, commander=actor, at=when, now=now) if accepting else None
            return changed, owed

        changed, owed = await self._db.write(record)
        self._metrics.proposal_decisions.labels(changed.tenant, decision.value).inc()
        log.warning("decision superseded by ServiceNow's: %s", why, extra=ids)
        if owed is not None:
            await self._declare(changed, owed, commander=actor, at=when)
        return changed

    async def _declare(self, proposal: Proposal, owed: int, *, commander: str, at: datetime) -> None:
        """Declare now; on failure the decision stands and the owed item waits for the ticker's sweep."""
        ids = {"tenant": proposal.tenant, "proposal": proposal.id}
        if self.declarer is None:
            log.warning("no incident declarer wired: the declaration waits in the store", extra=ids)
            return
        try:
            incident_id = await self.declarer.declare(proposal=proposal, commander=commander, at=at)
        except Exception as exc:
            await self._outbox.failed(owed, error=f"{type(exc).__name__}: {exc}", retry_at=self._clock.now())
            log.exception("declaring the accepted proposal failed; the cadence ticker retries it", extra=ids)
            return
        await self._outbox.delivered(owed, now=self._clock.now())
        log.info("major incident declared, commander %s", commander, extra={**ids, "incident": incident_id})
