"""Read side of the command phase: one incident as a whole, and its review as Markdown."""

from __future__ import annotations

import sqlite3

from pydantic import BaseModel

from daemon.command import cadence, lifecycle, mitigation
from daemon.command import decisions as decision_log
from daemon.command import lanes as role_lanes
from daemon.command import review as pir
from daemon.command.models import Incident, Lane, TimelineEntry
from daemon.kernel.clock import Clock
from daemon.kernel.errors import NotFound
from daemon.runtime.command.records import Recorder
from daemon.store import incidents as store
from daemon.store.database import Database


class ActionView(BaseModel):
    action: mitigation.Action
    blocked_by: list[str]
    rollback_offered: bool


class IncidentView(BaseModel):
    """Everything about one incident, for `show` and the API; `gates` is the commander's checklist."""

    incident: Incident
    lanes: dict[Lane, str | None]
    unowned_lanes: list[Lane]
    handovers: list[role_lanes.Handover]
    transitions: list[lifecycle.Transition]
    timeline: list[TimelineEntry]
    decisions: list[decision_log.Decision]
    decisions_in_force: list[int]
    updates: list[cadence.StatusUpdate]
    update_overdue: bool
    actions: list[ActionView]
    ready_actions: list[str]
    review: pir.Review | None
    review_actions: list[pir.ReviewAction]
    gates: dict[str, list[str]]


class IncidentReader:
    def __init__(self, *, db: Database, clock: Clock, recorder: Recorder) -> None:
        self._db = db
        self._clock = clock
        self._rec = recorder

    async def tenant_of(self, incident_id: str) -> str:
        """For the API's permission check before anything else is read or done."""
        return (await self._db.read(lambda conn: store.fetch(conn, incident_id))).tenant

    async def view(self, *, incident_id: str) -> IncidentView:
        now = self._clock.now()

        def query(conn: sqlite3.Connection) -> IncidentView:
            incident = store.fetch(conn, incident_id)
            current = store.lanes(conn, incident_id)
            acts = store.actions(conn, incident_id)
            entries = store.decisions(conn, incident_id)
            # Gates that need a note are shown as met: the note arrives with the command itself.
            facts = self._rec.facts(conn, incident, current, note="(given with the command)")
            return IncidentView(
                incident=incident,
                lanes=role_lanes.board(current),
                unowned_lanes=role_lanes.unowned(current),
                handovers=store.handovers(conn, incident_id),
                transitions=store.transitions(conn, incident_id),
                timeline=store.timeline(conn, incident_id),
                decisions=entries,
                decisions_in_force=[d.number for d in decision_log.in_force(entries)],
                updates=store.updates(conn, incident_id),
                update_overdue=cadence.is_overdue(incident, now=now),
                actions=[
                    ActionView(
                        action=a,
                        blocked_by=mitigation.blockers(action=a, actions=acts)
                        if a.state is mitigation.ActionState.PENDING
                        else [],
                        rollback_offered=a.rollback_offered,
                    )
                    for a in acts
                ],
                ready_actions=[a.id for a in mitigation.queue(acts).ready],
                review=store.review(conn, incident_id),
                review_actions=store.review_actions(conn, incident_id),
                gates=lifecycle.pending_gates(facts),
            )

        return await self._db.read(query)

    async def review_markdown(self, *, incident_id: str) -> str:
        def query(conn: sqlite3.Connection) -> str:
            incident = store.fetch(conn, incident_id)
            found = store.review(conn, incident_id)
            if found is None:
                raise NotFound(f"incident {incident_id} has no review yet: it is scheduled when resolved")
            return pir.to_markdown(
                incident=incident,
                review=found,
                timeline=store.timeline(conn, incident_id),
                decisions=store.decisions(conn, incident_id),
                actions=store.review_actions(conn, incident_id),
            )

        return await self._db.read(query)
