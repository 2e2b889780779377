"""The correlation loop: alert events from the store, through the pure core, back into the store.

Each batch is one `Database.write`: outages, alert memberships, proposals, outbox items and the event
cursor commit together, so a crash replays at most the batch in flight, and replaying is harmless (the
correlator ignores episodes it already holds). If a batch fails, the in-memory state is rebuilt from the
store before the next try, so memory never runs ahead of what is committed.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import suppress
from datetime import datetime, timedelta

from daemon.alerts.models import AlertEvent
from daemon.config.correlation import CorrelationSettings
from daemon.config.tenants import TenantSettings
from daemon.correlation.engine import Changes, Correlator
from daemon.correlation.models import Outage, OutageAlert, OutageState
from daemon.impact.models import Calendar
from daemon.impact.ruleset import Ruleset
from daemon.kernel.clock import Clock
from daemon.proposals.models import Proposal
from daemon.proposals.policy import Decision
from daemon.proposals.replay import Tuning, correlator_for
from daemon.proposals.review import review
from daemon.runtime.rules import RulesHolder
from daemon.store import cursors, outages, outbox
from daemon.store import proposals as proposal_rows
from daemon.store.alerts import AlertStore
from daemon.store.database import Database
from daemon.telemetry.metrics import Metrics

log = logging.getLogger("micd.correlation")

CURSOR = "correlator"
RECURRENCE_HORIZON = timedelta(days=7)


def tuning(settings: CorrelationSettings) -> Tuning:
    return Tuning(
        service_labels=tuple(settings.service_labels),
        fuzzy_min_score=settings.fuzzy_min_score,
        window=timedelta(seconds=settings.window_seconds),
        max_hops=settings.max_hops,
        topology_labels=tuple(settings.topology_labels),
        close_grace=timedelta(seconds=settings.close_grace_seconds),
    )


def calendars(tenants: Mapping[str, TenantSettings]) -> dict[str, Calendar]:
    return {
        name: Calendar(timezone=t.timezone, hours=t.business_hours, holidays=list(t.holidays))
        for name, t in tenants.items()
    }


class _StoredBook:
    """The policy's view of existing proposals, inside the batch's transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def by_outage(self, outage_id: str) -> Proposal | None:
        return proposal_rows.fetch_by_outage(self._conn, outage_id)

    def rejected_since(self, tenant: str, since: datetime) -> Sequence[Proposal]:
        return proposal_rows.rejected_since(self._conn, tenant=tenant, since=since)


class CorrelationLoop:
    """Wire with `ingest.subscribe(loop.wake)` and `app.cleanup_ctx.append(loop.context)`."""

    def __init__(
        self,
        *,
        db: Database,
        alerts: AlertStore,
        rules: RulesHolder,
        settings: CorrelationSettings,
        tenants: Mapping[str, TenantSettings],
        metrics: Metrics,
        clock: Clock,
        batch_size: int = 500,
    ) -> None:
        self._db = db
        self._alerts = alerts
        self._rules = rules
        self._tuning = tuning(settings)
        self._calendars = calendars(tenants)
        self._metrics = metrics
        self._clock = clock
        self._batch_size = batch_size
        self._wake = asyncio.Event()
        self._cursor = 0
        self._recheck: dict[str, datetime] = {}
        self._pending: Ruleset | None = None
        self.correlator: Correlator = correlator_for(rules.current, self._tuning)
        rules.subscribe(self._use_rules)

    def wake(self, _events: Sequence[AlertEvent] = ()) -> None:
        """An IngestService listener: new events are in the store."""
        self._wake.set()

    def _use_rules(self, ruleset: Ruleset) -> None:
        """Called on reload; taken up between batches, never while one runs on the writer thread."""
        self._pending = ruleset

    async def restore(self) -> None:
        """Rebuild indexes from the store; every open outage is reviewed again at the next tick."""
        now = self._clock.now()

        def load(conn: sqlite3.Connection) -> tuple[int, list[Outage], list[OutageAlert]]:
            found, members = outages.load_state(conn, closed_since=now - RECURRENCE_HORIZON)
            return cursors.get(conn, CURSOR), found, members

        self._cursor, found, members = await self._db.read(load)
        self.correlator = correlator_for(self._rules.current, self._tuning)
        self.correlator.restore(found, members)
        self._recheck = {o.id: now for o in found if o.state is OutageState.OPEN}

    async def run_once(self) -> int:
        """Consume one batch of events; returns how many there were."""
        events = await self._alerts.events_after(self._cursor, self._batch_size)
        if not events:
            return 0
        now = self._clock.now()
        await self._commit(lambda: self.correlator.apply(events, now=now), now, last_event=events[-1].id)
        done = self._clock.now()
        for event in events:
            self._metrics.correlation_seconds.observe(max(0.0, (done - event.received_at).total_seconds()))
        return len(events)

    async def tick(self) -> None:
        """Close quiet outages and re-review outages whose sustained-duration rules are due."""
        now = self._clock.now()
        due = sorted(i for i, at in self._recheck.items() if at <= now)
        for outage_id in due:
            del self._recheck[outage_id]

        def step() -> Changes:
            changes = self.correlator.tick(now=now)
            extra = tuple(self.correlator.outages[i] for i in due if i in self.correlator.outages)
            return Changes(changes.outages + extra, changes.alerts, changes.unmatched)

        await self._commit(step, now, last_event=None)

    async def _commit(self, compute: Callable[[], Changes], now: datetime, *, last_event: int | None) -> None:
        if self._pending is not None:
            fresh, self._pending = correlator_for(self._pending, self._tuning), None
            self.correlator.use_rules(graph=fresh.graph, matcher=fresh.matcher)
        ruleset = self._rules.current

        def transaction(conn: sqlite3.Connection) -> tuple[Changes, list[Decision], dict[str, datetime]]:
            changes = compute()
            open_ids = list(dict.fromkeys(o.id for o in changes.outages if o.id in self.correlator.outages))
            for outage_id, (incident, is_open) in outages.links(conn, open_ids).items():
                self.correlator.set_incident(outage_id, incident=incident, open_=is_open)
            self._relapses(conn, open_ids)
            ended = [o for o in changes.outages if o.state is OutageState.CLOSED]
            result = review(
                outages=[*(self.correlator.outages[i] for i in open_ids), *ended],
                alerts_of=self.correlator.members,
                ruleset=ruleset,
                calendars=self._calendars,
                book=_StoredBook(conn),
                now=now,
            )
            for decision in result.decisions:
                self._record(conn, decision, now)
            snapshots = [self.correlator.outages.get(o.id, o) for o in changes.outages]
            outages.save(conn, snapshots, changes.alerts)
            if last_event is not None:
                cursors.set(conn, CURSOR, last_event)
            return changes, list(result.decisions), result.recheck_at

        try:
            changes, decisions, recheck = await self._db.write(transaction)
        except Exception:
            log.exception("correlation batch failed; state rebuilt from the store, will retry")
            await self.restore()
            raise
        if last_event is not None:
            self._cursor = last_event
        self._recheck.update(recheck)
        for tenant in changes.unmatched:
            self._metrics.alerts_unmatched.labels(tenant=tenant).inc()
        for decision in decisions:
            self._observe(decision, now)

    def _relapses(self, conn: sqlite3.Connection, open_ids: Sequence[str]) -> None:
        """A recurrence while the previous outage's major incident is still open is that incident relapsing:
        it is handled there (linked, saved with the outage), never proposed as a second major incident."""
        held = self.correlator.outages
        previous: dict[str, str] = {}
        for i in open_ids:
            earlier = held[i].previous_outage
            if held[i].linked_incident is None and earlier is not None:
                previous[i] = earlier
        if not previous:
            return
        found = outages.links(conn, sorted(set(previous.values())))
        for outage_id, earlier in previous.items():
            incident, is_open = found.get(earlier, (None, False))
            if incident is not None and is_open:
                self.correlator.set_incident(outage_id, incident=incident, open_=True)
                log.info(
                    "outage recurs while %s is open: handled there",
                    incident,
                    extra={"tenant": held[outage_id].tenant, "outage": outage_id, "incident": incident},
                )

    def _record(self, conn: sqlite3.Connection, decision: Decision, now: datetime) -> None:
        proposal = decision.proposal
        if proposal_rows.fetch_by_outage(conn, proposal.outage_id) is None:
            proposal_rows.insert(conn, proposal)
        else:
            proposal_rows.update_evidence(conn, proposal)
        self.correlator.mark_proposed(proposal.outage_id, proposal.id)
        if proposal.mode == "live":
            outbox.enqueue(
                conn,
                topic="servicenow",
                tenant=proposal.tenant,
                key=proposal.id,
                action=decision.action,
                payload={"proposal_id": proposal.id, "evidence_version": proposal.evidence_version},
                now=now,
            )

    def _observe(self, decision: Decision, now: datetime) -> None:
        proposal = decision.proposal
        extra = {"tenant": proposal.tenant, "proposal": proposal.id, "outage": proposal.outage_id}
        if decision.action == "propose" and proposal.evidence_version == 1:
            self._metrics.proposals.labels(tenant=proposal.tenant, rule=proposal.rule, mode=proposal.mode).inc()
            self._metrics.time_to_propose.labels(tenant=proposal.tenant).observe(
                max(0.0, (now - proposal.first_alert_at).total_seconds())
            )
        log.info("proposal %s (%s): %s", decision.action, proposal.mode, decision.reason, extra=extra)

    async def refresh_gauges(self) -> None:
        """Scrape refresher for micd_outages_active{tenant}."""
        self._metrics.mirror(self._metrics.outages_active, await self._db.read(outages.active_counts))

    def _next_wait(self) -> float:
        due = [*self._recheck.values()]
        quiet = self.correlator.next_close()
        if quiet is not None:
            due.append(quiet)
        if not due:
            return 30.0
        return min(30.0, max(0.05, (min(due) - self._clock.now()).total_seconds()))

    async def _loop(self) -> None:
        while True:
            try:
                while await self.run_once():
                    pass
                await self.tick()
            except Exception:  # logged in _commit; back off and retry from the committed cursor
                await asyncio.sleep(1.0)
                continue
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._next_wait())
            self._wake.clear()

    async def context(self, _app: object = None) -> AsyncIterator[None]:
        """An aiohttp cleanup_ctx: restore, then run the loop until shutdown."""
        await self.restore()
        self._metrics.on_scrape(self.refresh_gauges)
        task = asyncio.create_task(self._loop(), name="micd-correlation")
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
