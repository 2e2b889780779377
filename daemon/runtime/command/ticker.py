"""The cadence ticker and the command gauges. Both ask the store each time: nothing lives only in memory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Iterable
from datetime import datetime

from daemon.command import cadence, mitigation
from daemon.command.models import Audience, Lane
from daemon.kernel.clock import Clock
from daemon.runtime.command.declarations import DeclarationSweep
from daemon.runtime.command.records import Recorder
from daemon.store import incidents as store
from daemon.store.database import Database
from daemon.telemetry.metrics import Metrics

log = logging.getLogger("micd.command")


class CadenceTicker:
    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        recorder: Recorder,
        metrics: Metrics,
        declarations: DeclarationSweep,
        tenants: Iterable[str] = (),
    ) -> None:
        self._db = db
        self._clock = clock
        self._rec = recorder
        self._metrics = metrics
        self._declarations = declarations
        self._tenants = frozenset(tenants)
        metrics.on_scrape(self.refresh_metrics)

    async def tick(self) -> list[str]:
        """One pass: declare the incidents still owed for accepted proposals, then remind the communications
        lead of each overdue update, once per missed due time. Returns the reminded incidents."""
        await self._declarations.sweep()
        now = self._clock.now()
        reminded = await self._db.write(lambda conn: self._remind(conn, now))
        for incident_id in reminded:
            log.warning("status update overdue; communications lead reminded", extra={"incident": incident_id})
        return reminded

    def _remind(self, conn: sqlite3.Connection, now: datetime) -> list[str]:
        reminded: list[str] = []
        for incident in store.reminders_due(conn, now=now):
            due = incident.next_update_due
            if due is None or not cadence.needs_reminder(incident, now=now):
                continue
            owners = store.lanes(conn, incident.id)
            lead = owners.get(Lane.COMMUNICATIONS)
            who = lead or f"{owners.get(Lane.COMMANDER)} (communications lane is UNOWNED)"
            late = int((now - due).total_seconds() // 60)
            text = (
                f"Reminder for {who}: the status update of {incident.id} was due at {due:%Y-%m-%d %H:%M} UTC "
                f"({late} min overdue)."
            )
            store.save(conn, incident.model_copy(update={"reminded_for": due}))
            self._rec.note(conn, incident, Lane.COMMUNICATIONS, "reminder", text, "micd", now)
            self._rec.notify(conn, incident, Audience.TECHNICAL, text, now, subject=f"[overdue] {incident.id} update")
            reminded.append(incident.id)
        return reminded

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("cadence tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._rec.settings.tick_seconds)

    async def refresh_metrics(self) -> None:
        """Gauges mirror the store; a tenant that drops to zero shows zero, not its last value."""
        now = self._clock.now()
        stats = await self._db.read(lambda conn: store.stats(conn, now=now, today=now.date()))
        m = self._metrics
        tenants = set(self._tenants) | set(stats.active) | set(stats.updates) | set(stats.pir_open)
        tenants |= {tenant for tenant, _ in stats.actions}
        for tenant in sorted(tenants):
            m.major_incidents_active.labels(tenant=tenant).set(stats.active.get(tenant, 0))
            on_time, total = stats.updates.get(tenant, (0, 0))
            m.status_update_compliance.labels(tenant=tenant).set(cadence.compliance(on_time=on_time, total=total))
            m.status_updates_overdue.labels(tenant=tenant).set(stats.overdue.get(tenant, 0))
            m.pir_actions_open.labels(tenant=tenant).set(stats.pir_open.get(tenant, 0))
            m.pir_actions_overdue.labels(tenant=tenant).set(stats.pir_overdue.get(tenant, 0))
            for state in mitigation.ActionState:
                count = stats.actions.get((tenant, state.value), 0)
                m.mitigation_actions.labels(tenant=tenant, state=state.value).set(count)
