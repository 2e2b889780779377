"""Declarations owed: an accepted proposal whose major incident is not open yet, kept in the store until it is.

Accepting records the decision and, in the same transaction, an outbox item (topic `command`, action
`declare`) with the commander and the time of the decision, so neither is lost if the declaration fails or
micd stops before it. The decision path declares at once and marks the item done; whatever is left is
declared by the cadence ticker's sweep. `CommandService.declare` is idempotent per proposal, so the sweep
racing the decision path still opens one incident.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timedelta
from typing import Protocol

from daemon.kernel.clock import Clock
from daemon.kernel.errors import InvalidInput
from daemon.proposals.models import Proposal, ProposalState
from daemon.store import outbox
from daemon.store.database import Database
from daemon.store.outbox import Outbox, OutboxItem
from daemon.store.proposals import ProposalStore

TOPIC = "command"
MAX_RETRY_SECONDS = 3600.0
log = logging.getLogger("micd.command")


class IncidentDeclarer(Protocol):
    """Opens the major incident of an accepted proposal; idempotent per proposal. Returns the incident id.

    `CommandService` satisfies it.
    """

    async def declare(self, *, proposal: Proposal, commander: str, at: datetime) -> str: ...


def owe(conn: sqlite3.Connection, *, proposal: Proposal, commander: str, at: datetime, now: datetime) -> int:
    """Inside the `Database.write` that records the acceptance; returns the item id for `Outbox.delivered`."""
    return outbox.enqueue(
        conn,
        topic=TOPIC,
        tenant=proposal.tenant,
        key=proposal.id,
        action="declare",
        payload={"proposal_id": proposal.id, "commander": commander, "at": at.isoformat()},
        now=now,
    )


class DeclarationSweep:
    def __init__(self, *, db: Database, clock: Clock, declarer: IncidentDeclarer, retry_seconds: float) -> None:
        self._outbox = Outbox(db)
        self._proposals = ProposalStore(db)
        self._clock = clock
        self._declarer = declarer
        self._retry_seconds = retry_seconds

    async def sweep(self) -> list[str]:
        """Declare every owed incident that is due; a failure is retried later, backing off up to an hour."""
        declared: list[str] = []
        for item in await self._outbox.due(topic=TOPIC, now=self._clock.now()):
            ids = {"tenant": item.tenant, "proposal": item.key, "outbox_item": item.id}
            try:
                incident_id = await self._declare(item)
            except Exception as exc:
                delay = min(MAX_RETRY_SECONDS, self._retry_seconds * 2.0**item.attempts)
                retry_at = self._clock.now() + timedelta(seconds=delay)
                await self._outbox.failed(item.id, error=f"{type(exc).__name__}: {exc}", retry_at=retry_at)
                log.exception("declaring an accepted proposal failed; retried at %s", retry_at.isoformat(), extra=ids)
                continue
            await self._outbox.delivered(item.id, now=self._clock.now())
            log.info("owed major incident declared", extra={**ids, "incident": incident_id})
            declared.append(incident_id)
        return declared

    async def _declare(self, item: OutboxItem) -> str:
        proposal = await self._proposals.get(item.key)
        if proposal.state is not ProposalState.ACCEPTED:
            raise InvalidInput.field("proposal.state", f"{proposal.state.value}: only an accepted proposal is declared")
        commander, at = item.payload.get("commander"), item.payload.get("at")
        if not isinstance(commander, str) or not isinstance(at, str):
            raise InvalidInput.field("payload", "commander and at are required")
        return await self._declarer.declare(proposal=proposal, commander=commander, at=datetime.fromisoformat(at))
