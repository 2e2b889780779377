"""The command service: each command runs the pure core inside one transaction and records the outcome.

Each command reads what it needs, asks the core, then stores the result with its timeline entry, its
ServiceNow journal item and its notifications in the same `Database.write`, so nothing is half-done.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from daemon.command import cadence, closure, decisions, lanes, lifecycle, mitigation, repeat, review
from daemon.command.models import ACTIVE_STATES, Audience, Incident, IncidentState, Lane, TimelineEntry, priority
from daemon.command.render import Renderer
from daemon.kernel.clock import Clock
from daemon.kernel.errors import Conflict, InvalidInput, NotFound
from daemon.proposals.models import Proposal
from daemon.runtime.command.records import OutageLinks, Recorder, ids
from daemon.runtime.command.runbooks import ServiceLinks
from daemon.store import incidents as store
from daemon.store.database import Database
from daemon.telemetry.metrics import Metrics

log = logging.getLogger("micd.command")
T = TypeVar("T")


class ClosureInput(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    validation_note: str | None = None
    customer_confirmed_by: str | None = None
    customer_confirmed_at: AwareDatetime | None = Field(
        None, description="when the customer confirmed, with its UTC offset (a bare local time is ambiguous)"
    )
    residual_risk: str | None = None


class ReviewEdit(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    facilitator: str | None = None
    sections: dict[str, str] = Field(default_factory=dict)


class CommandService:
    """Satisfies `declarations.IncidentDeclarer` through `declare`."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        recorder: Recorder,
        metrics: Metrics,
        renderer: Renderer,
        outages: OutageLinks | None = None,
        runbooks: ServiceLinks | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._rec = recorder
        self._metrics = metrics
        self._renderer = renderer
        self._outages = outages
        self._runbooks = runbooks

    # declaration

    async def declare(self, *, proposal: Proposal, commander: str, at: datetime) -> str:
        """A commander accepted the proposal: open the incident, declared. Idempotent per proposal."""
        if not commander.strip():
            raise InvalidInput.field("commander", "a declared incident needs a commander")

        def run(conn: sqlite3.Connection) -> tuple[Incident, repeat.RepeatLink | None, bool]:
            existing = store.by_proposal(conn, proposal.id)
            if existing is not None:
                return existing, None, False
            seq, incident_id = store.next_id(conn)
            p = priority(impact=proposal.impact, urgency=proposal.urgency)
            incident = Incident(
                id=incident_id,
                tenant=proposal.tenant,
                proposal_id=proposal.id,
                outage_id=proposal.outage_id,
                title=proposal.title,
                business_impact=proposal.business_impact,
                impact=proposal.impact,
                urgency=proposal.urgency,
                priority=p,
                state=IncidentState.PROPOSED,
                services=sorted({s.name for s in proposal.evidence.services}),
                alert_fingerprints=sorted({a.fingerprint for a in proposal.evidence.alerts}),
                probable_cause=proposal.evidence.probable_cause,
                external_number=proposal.external_number,
                declared_at=at,
                updated_at=at,
            )
            handover = lanes.assign(
                incident_id=incident_id,
                current={},
                lane=Lane.COMMANDER,
                owner=commander,
                actor=commander,
                note="accepted the proposal",
                now=at,
            )
            facts = self._rec.facts(conn, incident, {Lane.COMMANDER: handover.owner}, note="")
            request = lifecycle.TransitionRequest(command=lifecycle.Command.DECLARE, note=f"proposal {proposal.id}")
            declared, step = lifecycle.transition(request=request, facts=facts, actor=commander, now=at)
            window = timedelta(days=self._rec.settings.repeat_window_days)
            link = repeat.predecessor(
                new=repeat.Footprint(
                    incident_id=incident_id,
                    services=frozenset(declared.services),
                    probable_cause=declared.probable_cause,
                    declared_at=at,
                ),
                earlier=store.footprints(conn, tenant=declared.tenant, since=at - window),
                window=window,
            )
            declared = declared.model_copy(
                update={
                    "next_update_due": cadence.first_due(declared_at=at, every=self._rec.every(declared)),
                    "predecessor_id": link.predecessor_id if link else None,
                }
            )
            store.insert(conn, declared, seq=seq)
            self._rec.handover(conn, declared, handover)
            self._rec.step(conn, declared, step)
            if link:
                self._rec.note(
                    conn,
                    declared,
                    Lane.COMMANDER,
                    "repeat",
                    f"repeat of {link.predecessor_id}: {link.reason}",
                    commander,
                    at,
                )
            self._link_outage(conn, declared, open_=True)
            return declared, link, True

        incident, link, created = await self._db.write(run)
        if created:
            self._metrics.major_incidents_declared.labels(tenant=incident.tenant).inc()
            if link:
                self._metrics.repeat_major_incidents.labels(tenant=incident.tenant).inc()
            log.info("major incident declared", extra=ids(incident))
        return incident.id

    # lifecycle

    async def transition(self, *, incident_id: str, request: lifecycle.TransitionRequest, actor: str) -> Incident:
        def run(conn: sqlite3.Connection) -> tuple[Incident, bool]:
            incident = store.fetch(conn, incident_id)
            facts = self._rec.facts(conn, incident, store.lanes(conn, incident_id), note=request.note)
            now = self._clock.now()
            moved, step = lifecycle.transition(request=request, facts=facts, actor=actor, now=now)
            due = cadence.missed_slot(before=incident, after=moved, now=now)
            missed = due is not None and store.add_missed_update(conn, moved, due=due, now=now)
            if moved.state is IncidentState.RESOLVED:
                tenant = self._rec.tenant(moved.tenant)
                scheduled = review.schedule(
                    incident_id=moved.id,
                    resolved_at=now,
                    tz=ZoneInfo(tenant.timezone),
                    holidays=tenant.holidays,
                    business_days=tenant.review_business_days or self._rec.settings.review_business_days,
                    now=now,
                )
                store.put_review(conn, scheduled, tenant=moved.tenant)
            if moved.state is IncidentState.CLOSED:
                finished = store.review(conn, moved.id)
                if finished is not None:
                    store.put_review(conn, review.complete(review=finished, now=now), tenant=moved.tenant)
            store.save(conn, moved)
            self._rec.step(conn, moved, step)
            if moved.state not in ACTIVE_STATES:
                self._link_outage(conn, moved, open_=False)
            return moved, missed

        moved, missed = await self._db.write(run)
        if missed:
            self._metrics.status_updates.labels(tenant=moved.tenant, on_time="false").inc()
        if moved.state is IncidentState.RESOLVED and moved.resolved_at is not None:
            mttr = (moved.resolved_at - moved.declared_at).total_seconds()
            self._metrics.major_incident_mttr.labels(tenant=moved.tenant).observe(mttr)
        log.info("incident %s", moved.state.value, extra=ids(moved))
        return moved

    async def record_closure(self, *, incident_id: str, evidence: ClosureInput, actor: str) -> Incident:
        def change(conn: sqlite3.Connection, incident: Incident, now: datetime) -> Incident:
            merged = closure.record(current=incident.closure, actor=actor, now=now, **evidence.model_dump())
            updated = incident.model_copy(update={"closure": merged, "updated_at": now})
            store.save(conn, updated)
            self._rec.note(
                conn,
                updated,
                Lane.SERVICE_OWNER,
                "closure",
                "closure evidence: " + ", ".join(k for k, v in evidence.model_dump().items() if v is not None),
                actor,
                now,
            )
            return updated

        return await self._with_incident(incident_id, change)

    # lanes, notes, decisions

    async def assign_lane(self, *, incident_id: str, lane: Lane, owner: str, note: str, actor: str) -> lanes.Handover:
        def change(conn: sqlite3.Connection, incident: Incident, now: datetime) -> lanes.Handover:
            handover = lanes.assign(
                incident_id=incident_id,
                current=store.lanes(conn, incident_id),
                lane=lane,
                owner=owner,
                actor=actor,
                note=note,
                now=now,
            )
            self._rec.handover(conn, incident, handover)
            return handover

        return await self._with_incident(incident_id, change)

    async def add_note(self, *, incident_id: str, lane: Lane, text: str, links: list[str], actor: str) -> TimelineEntry:
        if not text.strip():
            raise InvalidInput.field("text", "must not be blank")

        def change(conn: sqlite3.Connection, incident: Incident, now: datetime) -> TimelineEntry:
            entry = TimelineEntry(
                incident_id=incident_id, lane=lane, kind="note", text=text.strip(), actor=actor, at=now, links=links
            )
            store.add_note(conn, entry, tenant=incident.tenant)
            return entry

        return await self._with_incident(incident_id, change)

    async def decide(self, *, incident_id: str, spec: decisions.DecisionSpec, actor: str) -> decisions.Decision:
        def change(conn: sqlite3.Connection, incident: Incident, now: datetime) -> decisions.Decision:
            entry = decisions.record(
                spec=spec, incident_id=incident_id, log=store.decisions(conn, incident_id), actor=actor, now=now
            )
            store.add_decision(conn, entry, tenant=incident.tenant)
            fix = f" (corrects #{entry.corrects})" if entry.corrects is not None else ""
            text = f"decision #{entry.number}{fix} by {entry.owner}: {entry.decision} - because {entry.rationale}"
            self._rec.note(conn, incident, Lane.COMMANDER, "decision", text, actor, now)
            self._rec.journal(conn, incident, f"[micd] {incident.id} {text}", now)
            return entry

        return await self._with_incident(incident_id, change)

    # status updates

    async def publish_update(self, *, incident_id: str, spec: cadence.UpdateSpec, actor: str) -> cadence.StatusUpdate:
        """Render per audience and send now, except the customer text, which waits for an approver."""

        def change(conn: sqlite3.Connection, incident: Incident, now: datetime) -> cadence.StatusUpdate:
            every = self._rec.every(incident)
            board = lanes.board(store.lanes(conn, incident_id))
            acts = store.actions(conn, incident_id)
            bodies: dict[Audience, str] = {}
            for audience in dict.fromkeys(spec.audiences):
                brief = cadence.briefing(
                    incident=incident, audience=audience, spec=spec, actions=acts, lanes=board, every=every, now=now
                )
                bodies[audience] = self._renderer.render(brief)
            update, moved = cadence.publish(
                incident=incident, spec=spec, bodies=bodies, every=every, actor=actor, now=now
            )
            update = store.add_update(conn, update)
            store.save(conn, moved)
            for audience in (Audience.TECHNICAL, Audience.EXECUTIVE):
                if audience in bodies:
                    self._rec.notify(conn, moved, audience, bodies[audience], now)
            if Audience.TECHNICAL in bodies:
                self._rec.journal(conn, moved, bodies[Audience.TECHNICAL], now)
            lateness = "on time" if update.on_time else "LATE"
            self._rec.note(
                conn,
                moved,
                Lane.COMMUNICATIONS,
                "update",
                f"status update #{update.id} ({lateness}): {update.summary}",
                actor,
                now,
            )
            return update

        update = await self._with_incident(incident_id, change)
        self._metrics.status_updates.labels(tenant=update.tenant, on_time=str(update.on_time).lower()).inc()
        return update

    async def approve_update(self, *, incident_id: str, update_id: int, approver: str) -> cadence.StatusUpdate:
        def change(conn: sqlite3.Connection, incident: Incident, now: datetime) -> cadence.StatusUpdate:
            found = next((u for u in store.updates(conn, incident_id) if u.id == update_id), None)
            if found is None:
                raise NotFound(f"no update {update_id} in incident {incident_id}")
            approved = cadence.approve_customer(incident=incident, update=found, approver=approver, now=now)
            store.save_update(conn, approved)
            text = approved.bodies[Audience.CUSTOMER]
            self._rec.notify(conn, incident, Audience.CUSTOMER, text, now)
            self._rec.journal(conn, incident, text, now, field="comments")
            self._rec.note(
                conn, incident, Lane.COMMUNICATIONS, "update", f"customer update #{update_id} approved", approver, now
            )
            return approved

        return await self._with_incident(incident_id, change)

    # mitigation

    async def add_action(self, *, incident_id: str, spec: mitigation.ActionSpec, actor: str) -> mitigation.Action:
        def change(conn: sqlite3.Connection, incident: Incident, now: datetime) -> mitigation.Action:
            existing = store.actions(conn, incident_id)
            action = mitigation.create(
                spec=spec,
                action_id=f"A{len(existing) + 1}",
                incident_id=incident_id,
                existing=existing,
                service_links=self._service_links(incident, spec),
                actor=actor,
                now=now,
            )
            store.put_action(conn, action, tenant=incident.tenant)
            linked = sorted({link.service for link in action.service_links})
            self._rec.note(
                conn,
                incident,
                Lane.TECHNICAL_LEAD,
                "action",
                f"action {action.id} queued: {action.title} "
                f"(P{action.priority}, {action.risk.value} risk, owner {action.owner})"
                + (f"; runbooks of {', '.join(linked)} attached" if linked else ""),
                actor,
                now,
            )
            return action

        return await self._with_incident(incident_id, change)

    def _service_links(self, incident: Incident, spec: mitigation.ActionSpec) -> list[mitigation.ServiceLink]:
        """Catalogue links for the action; a service it names that the catalogue does not know is refused."""
        if self._runbooks is None:
            return []
        wanted = mitigation.linked_services(spec=spec, incident=incident)
        found = self._runbooks.links(tenant=incident.tenant, services=wanted)
        for index, name in enumerate(spec.services):
            if name.strip() not in found:
                raise InvalidInput.field(
                    f"services[{index}]", f"no service {name.strip()!r} in the catalogue of tenant {incident.tenant}"
                )
        return [link for name in wanted for link in found.get(name, [])]

    async def action_step(
        self, *, incident_id: str, action_id: str, step: mitigation.ActionStep, actor: str
    ) -> mitigation.Action:
        def change(conn: sqlite3.Connection, incident: Incident, now: datetime) -> mitigation.Action:
            existing = store.actions(conn, incident_id)
            action = next((a for a in existing if a.id == action_id), None)
            if action is None:
                raise NotFound(f"no action {action_id} in incident {incident_id}")
            done = mitigation.apply(step=step, action=action, existing=existing, actor=actor, now=now)
            store.put_action(conn, done, tenant=incident.tenant)
            outcome = ("passed" if done.precheck_passed else "FAILED") if step.step == "precheck" else done.state.value
            text = f"action {done.id} {step.step}: {outcome}" + (f" - {step.note}" if step.note else "")
            if done.rollback_offered:
                text += f" (rollback offered: {done.rollback_plan})"
            self._rec.note(conn, incident, Lane.TECHNICAL_LEAD, "action", text, actor, now)
            return done

        return await self._with_incident(incident_id, change)

    # review

    async def edit_review(self, *, incident_id: str, edit: ReviewEdit, actor: str) -> review.Review:
        def change(conn: sqlite3.Connection, incident: Incident, now: datetime) -> review.Review:
            current = store.review(conn, incident_id)
            if current is None:
                raise NotFound(f"incident {incident_id} has no review yet: it is scheduled when resolved")
            edited = review.edit(review=current, facilitator=edit.facilitator, sections=edit.sections)
            store.put_review(conn, edited, tenant=incident.tenant)
            return edited

        return await self._with_incident(incident_id, change)

    async def add_review_action(
        self, *, incident_id: str, spec: review.ReviewActionSpec, actor: str
    ) -> review.ReviewAction:
        def change(conn: sqlite3.Connection, incident: Incident, now: datetime) -> review.ReviewAction:
            current = store.review(conn, incident_id)
            if current is None:
                raise NotFound(f"incident {incident_id} has no review yet: it is scheduled when resolved")
            if current.completed_at is not None:
                raise Conflict(f"the review of {incident_id} is complete: its action items are fixed; close them")
            count = len(store.review_actions(conn, incident_id))
            today = now.astimezone(ZoneInfo(self._rec.tenant(incident.tenant).timezone)).date()
            item = review.add_action(
                spec=spec, action_id=f"R{count + 1}", incident_id=incident_id, today=today, now=now
            )
            store.put_review_action(conn, item, tenant=incident.tenant)
            text = f"review action {item.id} for {item.owner}, due {item.due}: {item.title}"
            self._rec.note(conn, incident, Lane.COMMANDER, "review", text, actor, now)
            return item

        return await self._with_incident(incident_id, change)

    async def close_review_action(
        self, *, incident_id: str, action_id: str, note: str, actor: str
    ) -> review.ReviewAction:
        def change(conn: sqlite3.Connection, incident: Incident, now: datetime) -> review.ReviewAction:
            item = next((a for a in store.review_actions(conn, incident_id) if a.id == action_id), None)
            if item is None:
                raise NotFound(f"no review action {action_id} in incident {incident_id}")
            closed = review.close_action(action=item, actor=actor, note=note, now=now)
            store.put_review_action(conn, closed, tenant=incident.tenant)
            text = f"review action {closed.id} done" + (f": {note.strip()}" if note.strip() else "")
            self._rec.note(conn, incident, Lane.COMMANDER, "review", text, actor, now)
            return closed

        return await self._with_incident(incident_id, change)

    def _link_outage(self, conn: sqlite3.Connection, incident: Incident, *, open_: bool) -> None:
        """While the incident is open the correlator proposes nothing new for its outage; after, it may again."""
        if self._outages is None:
            return
        try:
            self._outages.link_incident(conn, incident.outage_id, incident_id=incident.id, open_=open_)
        except NotFound:
            log.warning("outage %s of the incident is not stored; not linked", incident.outage_id, extra=ids(incident))

    async def _with_incident(self, incident_id: str, fn: Callable[[sqlite3.Connection, Incident, datetime], T]) -> T:
        now = self._clock.now()
        return await self._db.write(lambda conn: fn(conn, store.fetch(conn, incident_id), now))
