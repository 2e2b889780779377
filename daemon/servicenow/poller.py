"""Watches the incidents of open proposals for the commander's decision taken in ServiceNow.

Accepted (promoted_by, promoted_on) declares the major incident in micd with the promoter as commander;
rejected or canceled closes the proposal with the reason from the latest work note. The decision itself is
recorded by a consumer-owned port, so this adapter does not depend on the runtime that implements it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Literal, Protocol

from daemon.kernel.errors import Conflict, MicdError
from daemon.proposals.models import Proposal, ProposalState
from daemon.servicenow.desk import IncidentDesk
from daemon.store.proposals import ProposalStore

log = logging.getLogger("micd.servicenow")
DecisionSource = Literal["micd", "servicenow"]


class DecisionSink(Protocol):
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
    ) -> Proposal: ...


class DecisionFollower(Protocol):
    """Takes ServiceNow's decision when micd's arrived there second (runtime.decisions implements it)."""

    async def follow_servicenow(
        self, *, proposal_id: str, decision: ProposalState, actor: str, reason: str, at: datetime
    ) -> Proposal | None: ...


class Decisions(DecisionSink, DecisionFollower, Protocol):
    """Both ways a decision taken in ServiceNow reaches micd: polled, or found when micd's arrived second."""


class DecisionPoller:
    def __init__(self, *, desk: IncidentDesk, proposals: ProposalStore, sink: DecisionSink, interval: float) -> None:
        self._desk = desk
        self._proposals = proposals
        self._sink = sink
        self._interval = interval

    async def run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except MicdError as exc:
                log.warning("servicenow decision poll failed: %s", exc.message)
            except Exception:
                log.exception("servicenow decision poll failed")
            await asyncio.sleep(self._interval)

    async def poll_once(self) -> int:
        """Record every decision ServiceNow holds on an open proposal; returns how many were recorded."""
        waiting = {p.external_id: p for p in await self._proposals.awaiting_decision() if p.external_id}
        if not waiting:
            return 0
        recorded = 0
        for decision in await self._desk.decisions(sys_ids=list(waiting)):
            proposal = waiting[decision.sys_id]
            ids = {"tenant": proposal.tenant, "proposal": proposal.id, "incident": proposal.external_number}
            try:
                await self._sink.decide(
                    proposal_id=proposal.id,
                    decision=decision.state,
                    actor=decision.actor,
                    reason=decision.reason or _unexplained(decision.state, decision.actor),
                    commander=decision.actor if decision.state is ProposalState.ACCEPTED else None,
                    at=decision.at,
                    source="servicenow",
                )
            except Conflict as exc:
                log.info("decision from ServiceNow already recorded: %s", exc.message, extra=ids)
                continue
            except MicdError as exc:  # one bad record must not hold back the decisions after it
                log.warning("decision from ServiceNow not recorded: %s", exc.message, extra=ids)
                continue
            recorded += 1
            log.info("decision from ServiceNow: %s by %s", decision.state.value, decision.actor, extra=ids)
        return recorded


def _unexplained(state: ProposalState, actor: str) -> str | None:
    """A rejection or cancel set in ServiceNow without a work note (a list edit, an API call) still stands:
    the record says so rather than inventing a reason."""
    if state is ProposalState.ACCEPTED:
        return None
    return f"{state.value} in ServiceNow by {actor}; no reason was given in the work notes"
