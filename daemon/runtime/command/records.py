"""What every command writes besides its own record: timeline entries, ServiceNow journal items, notifications.

All of it goes through the connection of the caller's transaction, so it commits with the step it describes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Protocol

from daemon.command import cadence, lanes, lifecycle
from daemon.command.models import Audience, Incident, Lane, TimelineEntry
from daemon.config.command import CommandSettings
from daemon.config.tenants import TenantSettings
from daemon.notify.models import Message, channels_for
from daemon.notify.worker import TOPIC as NOTIFY_TOPIC
from daemon.store import incidents as store
from daemon.store import outbox


class OutageLinks(Protocol):
    """Marks an outage as handled in a major incident; `daemon.store.outages` (the module) satisfies it."""

    def link_incident(
        self, conn: sqlite3.Connection, outage_id: str, /, *, incident_id: str | None, open_: bool
    ) -> None: ...


def ids(incident: Incident) -> dict[str, str]:
    """Log `extra` for one incident."""
    return {"tenant": incident.tenant, "incident": incident.id, "proposal": incident.proposal_id}


class Recorder:
    def __init__(self, *, settings: CommandSettings, tenants: Mapping[str, TenantSettings]) -> None:
        self.settings = settings
        self._tenants = tenants

    def tenant(self, tenant: str) -> TenantSettings:
        return self._tenants.get(tenant) or TenantSettings()

    def every(self, incident: Incident) -> timedelta:
        """The incident's update interval: tenant override over the global table."""
        return cadence.interval(
            priority=incident.priority,
            defaults=self.settings.cadence_minutes,
            override=self.tenant(incident.tenant).cadence_minutes,
        )

    def facts(
        self, conn: sqlite3.Connection, incident: Incident, current: Mapping[Lane, str], *, note: str
    ) -> lifecycle.GateFacts:
        return lifecycle.GateFacts(
            incident=incident,
            lanes=current,
            actions=store.actions(conn, incident.id),
            alerts_firing=store.firing_alerts(conn, incident),
            review=store.review(conn, incident.id),
            note=note,
        )

    def step(self, conn: sqlite3.Connection, incident: Incident, step: lifecycle.Transition) -> None:
        """A lifecycle step: stored, on the commander's lane, and journaled to ServiceNow work notes."""
        store.add_transition(conn, step, tenant=incident.tenant)
        text = f"{step.from_state.value} -> {step.to_state.value}" + (f": {step.note}" if step.note else "")
        self.note(conn, incident, Lane.COMMANDER, "transition", text, step.actor, step.at, links=step.evidence_links)
        self.journal(conn, incident, step.journal_text(), step.at)

    def handover(self, conn: sqlite3.Connection, incident: Incident, handover: lanes.Handover) -> None:
        store.add_handover(conn, handover, tenant=incident.tenant)
        text = f"{handover.lane.value}: {handover.previous or 'unowned'} -> {handover.owner}"
        if handover.note:
            text += f" ({handover.note})"
        self.note(conn, incident, handover.lane, "handover", text, handover.actor, handover.at)

    def note(
        self,
        conn: sqlite3.Connection,
        incident: Incident,
        lane: Lane,
        kind: str,
        text: str,
        actor: str,
        at: datetime,
        *,
        links: list[str] | None = None,
    ) -> TimelineEntry:
        entry = TimelineEntry(
            incident_id=incident.id, lane=lane, kind=kind, text=text, actor=actor, at=at, links=links or []
        )
        store.add_note(conn, entry, tenant=incident.tenant)
        return entry

    def journal(
        self, conn: sqlite3.Connection, incident: Incident, text: str, now: datetime, *, field: str = "work_notes"
    ) -> None:
        """ServiceNow journal entry, keyed by proposal so it follows the record's own deliveries in order."""
        outbox.enqueue(
            conn,
            topic="servicenow",
            tenant=incident.tenant,
            key=incident.proposal_id,
            action="journal",
            payload={"proposal_id": incident.proposal_id, "text": text, "field": field},
            now=now,
        )

    def notify(
        self,
        conn: sqlite3.Connection,
        incident: Incident,
        audience: Audience,
        text: str,
        now: datetime,
        *,
        subject: str | None = None,
    ) -> int:
        """One outbox item per channel of the incident's own tenant that takes this audience."""
        message = Message(
            tenant=incident.tenant,
            incident_id=incident.id,
            audience=audience.value,
            subject=subject or f"[P{incident.priority}] {incident.id} {incident.title}",
            text=text,
        )
        channels = channels_for(self._tenants.get(incident.tenant), audience.value)
        for channel in channels:
            outbox.enqueue(
                conn,
                topic=NOTIFY_TOPIC,
                tenant=incident.tenant,
                key=f"{incident.id}/{channel.name}",
                action="send",
                payload={"channel": channel.name, "message": message.model_dump()},
                now=now,
            )
        return len(channels)
