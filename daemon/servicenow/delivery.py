"""The outbox worker for topic "servicenow": every proposal, evidence update, decision and journal entry arrives
exactly once, whatever ServiceNow does meanwhile.

Exactly once rests on three things: the item stays in the outbox until ServiceNow confirmed it; an incident is
looked up by correlation_id (the proposal id) before one is created; and journal entries carry a marker that is
looked up before writing. Retries happen at two scales: a few quick tries per item (tenacity: exponential
backoff with jitter, at least what Retry-After asks), then the item goes back to the outbox with a longer
backoff. A circuit breaker stops all tries while the instance looks dead, and lets one probe through now and then.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from daemon.config.settings import Settings
from daemon.kernel.clock import Clock
from daemon.kernel.errors import InvalidInput, MicdError
from daemon.proposals.models import Proposal
from daemon.servicenow import tickets
from daemon.servicenow.connection import ServiceNowUnavailable
from daemon.servicenow.desk import IncidentDesk, IncidentRef
from daemon.servicenow.policy import Circuit, CircuitBreaker, backoff
from daemon.servicenow.poller import DecisionFollower
from daemon.store import proposals as proposal_rows
from daemon.store.database import Database
from daemon.store.outbox import Outbox, OutboxItem
from daemon.store.proposals import ProposalStore

TOPIC = "servicenow"
JOURNAL_FIELDS = ("work_notes", "comments")
log = logging.getLogger("micd.servicenow")
Sleep = Callable[[float], Awaitable[None]]


class CircuitOpen(ServiceNowUnavailable):
    """No try went out: the breaker holds calls back while ServiceNow looks down."""

    def __init__(self) -> None:
        super().__init__("ServiceNow circuit open: not calling", outcome="circuit_open")


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, MicdError) and exc.retryable and not isinstance(exc, CircuitOpen)


class DeliveryWorker:
    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        desk: IncidentDesk,
        proposals: ProposalStore,
        clock: Clock,
        breaker: CircuitBreaker,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        follower: DecisionFollower | None = None,
    ) -> None:
        self._follower = follower
        self._settings = settings
        self._sn = settings.servicenow
        self._db = db
        self._outbox = Outbox(db)
        self._desk = desk
        self._proposals = proposals
        self._clock = clock
        self.breaker = breaker
        self._sleep = sleep
        self._rng = rng or random.Random()

    async def run(self) -> None:
        """Deliver forever; a failure of the loop itself is logged and the loop goes on."""
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("servicenow delivery loop failed; retrying")
            await asyncio.sleep(self._sn.delivery_interval)

    async def run_once(self) -> int:
        """Try every due item once (with its quick retries); returns how many were delivered."""
        delivered = 0
        for item in await self._outbox.due(topic=TOPIC, now=self._clock.now()):
            if self.breaker.state(self._clock.now()) is Circuit.OPEN:
                break  # items stay due; the breaker's probe decides when calls resume
            delivered += await self._attempt(item)
        return delivered

    async def _attempt(self, item: OutboxItem) -> int:
        ids = {"tenant": item.tenant, "proposal": item.key, "outbox_item": item.id, "action": item.action}
        try:
            await self._with_retries(item)
        except Exception as exc:
            error = exc if isinstance(exc, MicdError) else None
            retry_at = self._retry_at(item, error)
            reason = f"{error.code}: {error.message}" if error else f"bug: {exc!r}"
            await self._outbox.failed(item.id, error=reason, retry_at=retry_at)
            level = logging.WARNING if error is not None and error.retryable else logging.ERROR
            log.log(level, "servicenow delivery deferred: %s", reason, extra={**ids, "retry_at": retry_at.isoformat()})
            return 0
        await self._outbox.delivered(item.id, now=self._clock.now())
        log.info("servicenow delivery done", extra=ids)
        return 1

    async def _with_retries(self, item: OutboxItem) -> None:
        wait_base = wait_exponential_jitter(multiplier=self._sn.backoff_initial, max=self._sn.backoff_max)

        def wait(state: RetryCallState) -> float:
            seconds = wait_base(state)
            error = state.outcome.exception() if state.outcome else None
            if isinstance(error, ServiceNowUnavailable) and error.retry_after is not None:
                seconds = max(seconds, min(error.retry_after, self._sn.backoff_max))
            return seconds

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._sn.attempts),
            wait=wait,
            retry=retry_if_exception(_retryable),
            sleep=self._sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                await self._guarded(item)

    async def _guarded(self, item: OutboxItem) -> None:
        """One try, through the breaker. Only ServiceNow being unavailable counts against it."""
        if not self.breaker.allows(self._clock.now()):
            raise CircuitOpen()
        try:
            await self._deliver(item)
        except MicdError as error:
            if error.retryable:
                self.breaker.failed(self._clock.now())
            else:
                self.breaker.succeeded()
            raise
        self.breaker.succeeded()

    def _retry_at(self, item: OutboxItem, error: MicdError | None) -> datetime:
        now = self._clock.now()
        if error is None or not error.retryable:
            # Wrong data or credentials will not heal by themselves; keep the item, try seldom, and log.
            return now + timedelta(seconds=self._sn.backoff_max)
        delay = backoff(
            attempts=item.attempts + 1,
            initial=self._sn.backoff_initial,
            maximum=self._sn.backoff_max,
            jitter=self._rng.random(),
        )
        if isinstance(error, ServiceNowUnavailable) and error.retry_after is not None:
            delay = max(delay, min(error.retry_after, self._sn.backoff_max))
        retry_at = now + timedelta(seconds=delay)
        reopens = self.breaker.reopens_at()
        return max(retry_at, reopens) if reopens is not None else retry_at

    async def _deliver(self, item: OutboxItem) -> None:
        proposal_id = item.payload.get("proposal_id")
        if not isinstance(proposal_id, str):
            raise InvalidInput.field("payload.proposal_id", "required, a proposal id")
        proposal = await self._proposals.get(proposal_id)
        if proposal.mode != "live":
            log.info("shadow proposal not sent to ServiceNow", extra={"proposal": proposal.id})
            return
        ref = await self._ensure(proposal, item)
        mark = tickets.marker(proposal_id=proposal.id, item_id=item.id)
        if item.action == "propose":
            return
        if item.action == "evidence":
            link = tickets.proposal_link(base_url=self._settings.base_url, proposal_id=proposal.id)
            note = tickets.evidence_note(proposal, link=link, mark=mark)
            retold = tickets.story_fields(proposal)
            await self._desk.append(sys_id=ref.sys_id, field="work_notes", text=note, mark=mark, fields=retold)
        elif item.action == "journal":
            await self._journal(item, ref, mark)
        elif item.action == "decision":
            commander = item.payload.get("commander")
            await self._decision(proposal, ref, mark, commander=commander if isinstance(commander, str) else None)
        else:
            raise InvalidInput.field("action", f"{item.action!r} is not propose, evidence, decision or journal")

    async def _ensure(self, proposal: Proposal, item: OutboxItem) -> IncidentRef:
        """The proposal's incident: known, found by correlation_id, or created now (exactly one of them)."""
        if proposal.external_id:
            return IncidentRef(proposal.external_id, proposal.external_number or "")
        ref = await self._desk.find(correlation_id=proposal.id)
        if ref is None:
            link = tickets.proposal_link(base_url=self._settings.base_url, proposal_id=proposal.id)
            fields = tickets.incident_fields(
                proposal,
                tenant=self._settings.tenants.get(proposal.tenant),
                link=link,
                mark=tickets.marker(proposal_id=proposal.id, item_id=item.id),
            )
            ref = await self._desk.create(fields=fields)
            log.info(
                "major incident proposed in ServiceNow",
                extra={"tenant": proposal.tenant, "proposal": proposal.id, "incident": ref.number},
            )
        now = self._clock.now()
        await self._db.write(
            lambda c: proposal_rows.set_external(
                c, proposal.id, external_id=ref.sys_id, external_number=ref.number, now=now
            )
        )
        return ref

    async def _journal(self, item: OutboxItem, ref: IncidentRef, mark: str) -> None:
        field = item.payload.get("field", "work_notes")
        text = item.payload.get("text")
        if field not in JOURNAL_FIELDS:
            raise InvalidInput.field("payload.field", "must be work_notes or comments")
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput.field("payload.text", "required, the entry's text")
        await self._desk.append(sys_id=ref.sys_id, field=field, text=tickets.journal_note(text, mark=mark), mark=mark)

    async def _decision(self, proposal: Proposal, ref: IncidentRef, mark: str, *, commander: str | None) -> None:
        if proposal.decided_at is None:
            raise InvalidInput.field("proposal.state", f"{proposal.state.value}: no decision to deliver")
        final = await self._desk.decide(
            sys_id=ref.sys_id,
            state=proposal.state,
            actor=proposal.decided_by or "",
            commander=commander,
            at=proposal.decided_at,
            note=tickets.decision_note(proposal, mark=mark),
            mark=mark,
        )
        if final is proposal.state:
            return
        log.warning(
            "ServiceNow already held another decision; micd's was not written over it",
            extra={"tenant": proposal.tenant, "proposal": proposal.id, "incident": ref.number},
        )
        if self._follower is None:
            return
        for held in await self._desk.decisions(sys_ids=[ref.sys_id]):
            await self._follower.follow_servicenow(
                proposal_id=proposal.id,
                decision=held.state,
                actor=held.actor,
                reason=held.reason,
                at=held.at or self._clock.now(),
            )
