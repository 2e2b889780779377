"""A scripted major incident from proposal to closed review on a FakeClock, with a real SQLite store, the real
outbox, real webhook and SMTP receivers on loopback, and two tenants to prove nothing crosses between them."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta

import aiohttp
import pytest

from daemon.alerts.models import AlertStatus
from daemon.command.cadence import UpdateSpec
from daemon.command.decisions import DecisionSpec
from daemon.command.lifecycle import Command, TransitionRequest
from daemon.command.mitigation import ActionSpec, ActionStep, Risk
from daemon.command.models import Audience, IncidentState, Lane
from daemon.command.review import ReviewActionSpec
from daemon.config.command import CommandSettings
from daemon.config.tenants import Channel, TenantSettings
from daemon.correlation.models import Outage
from daemon.kernel.clock import FakeClock
from daemon.kernel.errors import Conflict, GateNotMet, InvalidInput
from daemon.notify.mail import EmailNotifier
from daemon.notify.models import Notifier
from daemon.notify.slack import slack_payload
from daemon.notify.teams import teams_payload
from daemon.notify.webhook import WebhookNotifier
from daemon.notify.worker import NotifyWorker
from daemon.runtime.command import ClosureInput, ReviewEdit, build
from daemon.runtime.command import Command as CommandRuntime
from daemon.store import alerts, outages, proposals
from daemon.store.database import Database
from daemon.store.outbox import Outbox
from daemon.telemetry.metrics import Metrics
from tests.command.conftest import T0, alert, proposal
from tests.notify.receivers import HttpSink, MailSink, http_sink, smtp_sink


@dataclass
class World:
    db: Database
    clock: FakeClock
    metrics: Metrics
    cmd: CommandRuntime
    worker: NotifyWorker
    http: HttpSink
    mail: MailSink

    async def drain(self) -> None:
        """Deliver every queued notification (bounded: one item per channel key per pass)."""
        for _ in range(100):
            if not await self.worker.run_once():
                return
        pytest.fail("notifications did not drain")

    async def value(self, name: str, **labels: str) -> float | None:
        await self.metrics.render()
        return self.metrics.registry.get_sample_value(name, labels)

    async def journal(self, key: str) -> list[dict[str, object]]:
        def query(conn: sqlite3.Connection) -> list[dict[str, object]]:
            rows = conn.execute(
                "SELECT action, payload FROM outbox WHERE topic = 'servicenow' AND key = ? ORDER BY id", (key,)
            )
            import orjson

            return [orjson.loads(r["payload"]) | {"action": r["action"]} for r in rows]

        return await self.db.read(query)


def tenants(http: HttpSink, mail: MailSink) -> dict[str, TenantSettings]:
    def hook(name: str, kind: str, path: str, audiences: list[str]) -> Channel:
        return Channel.model_validate({"name": name, "kind": kind, "url": http.url(path), "audiences": audiences})

    def email(name: str, to: str) -> Channel:
        return Channel(name=name, kind="email", to=[to], smtp_port=mail.port, audiences=["technical"])

    return {
        "acme": TenantSettings(
            timezone="Europe/Berlin",
            holidays=[date(2026, 1, 6)],
            channels=[
                hook("chat", "slack", "/acme/slack", ["technical", "executive"]),
                hook("board", "teams", "/acme/teams", ["executive"]),
                hook("status-page", "webhook", "/acme/status", ["customer"]),
                email("oncall", "ops@acme.example"),
            ],
        ),
        "globex": TenantSettings(
            cadence_minutes={"1": 15},
            channels=[
                hook("chat", "webhook", "/globex/hook", ["technical", "executive", "customer"]),
                email("oncall", "ops@globex.example"),
            ],
        ),
    }


@pytest.fixture
async def world(db: Database) -> AsyncIterator[World]:
    clock = FakeClock(T0)
    metrics = Metrics()
    async with aiohttp.ClientSession() as session, http_sink() as http:
        with smtp_sink() as mail:
            settings = tenants(http, mail)
            notifiers: dict[str, Notifier] = {
                "webhook": WebhookNotifier(session),
                "slack": WebhookNotifier(session, slack_payload),
                "teams": WebhookNotifier(session, teams_payload),
                "email": EmailNotifier(),
            }
            cmd = build(
                db=db, clock=clock, settings=CommandSettings(), tenants=settings, metrics=metrics, outages=outages
            )
            worker = NotifyWorker(
                outbox=Outbox(db), tenants=settings, notifiers=notifiers, metrics=metrics, clock=clock
            )
            yield World(db, clock, metrics, cmd, worker, http, mail)


def step(command: Command, note: str = "") -> TransitionRequest:
    return TransitionRequest(command=command, note=note)


async def refused(awaitable: object, *gates: str) -> GateNotMet:
    """Await and expect GateNotMet naming exactly these gates (prefix match keeps the counts in the text)."""
    with pytest.raises(GateNotMet) as caught:
        await awaitable  # type: ignore[misc]
    assert len(caught.value.missing) == len(gates), caught.value.missing
    for missing, expected in zip(caught.value.missing, gates, strict=True):
        assert missing.startswith(expected), (missing, expected)
    return caught.value


async def test_proposal_to_closed_review(world: World) -> None:
    w, svc, reader = world, world.cmd.service, world.cmd.reader
    p1 = proposal(1, fingerprints=("fp1",))
    await w.db.write(lambda c: proposals.insert(c, p1))
    outage = Outage(id=p1.outage_id, tenant="acme", started_at=T0, opened_at=T0, updated_at=T0, services=["payments"])
    await w.db.write(lambda c: outages.save(c, [outage], []))

    async def outage_link() -> tuple[str | None, bool]:
        return (await w.db.read(lambda c: outages.links(c, [p1.outage_id])))[p1.outage_id]

    await w.db.write(lambda c: alerts.apply(c, [alert("acme", "fp1", AlertStatus.FIRING)], received_at=T0))

    # declaration: commander assigned, P1 from impact 1 x urgency 1, first update due in 30 minutes
    mi = await svc.declare(proposal=p1, commander="alice", at=T0)
    assert await svc.declare(proposal=p1, commander="alice", at=T0) == mi  # the poller may hand it over twice
    view = await reader.view(incident_id=mi)
    assert (view.incident.state, view.incident.priority) == (IncidentState.DECLARED, 1)
    assert view.incident.next_update_due == T0 + timedelta(minutes=30)
    assert view.lanes[Lane.COMMANDER] == "alice"
    assert await outage_link() == (mi, True)  # the correlator proposes nothing new for it while open
    assert set(view.unowned_lanes) == {
        Lane.COMMUNICATIONS,
        Lane.TECHNICAL_LEAD,
        Lane.SERVICE_OWNER,
        Lane.EXECUTIVE_LIAISON,
    }
    with pytest.raises(InvalidInput):
        await svc.declare(proposal=proposal(9), commander=" ", at=T0)

    # declared -> mitigating needs a technical lead, a communications lead and a note
    await refused(
        svc.transition(incident_id=mi, request=step(Command.MITIGATE), actor="alice"),
        "lanes.technical_lead",
        "lanes.communications",
        "note",
    )
    await svc.assign_lane(incident_id=mi, lane=Lane.TECHNICAL_LEAD, owner="bob", note="", actor="alice")
    await svc.assign_lane(incident_id=mi, lane=Lane.COMMUNICATIONS, owner="erin", note="", actor="alice")
    await svc.assign_lane(incident_id=mi, lane=Lane.COMMUNICATIONS, owner="carol", note="erin off shift", actor="alice")
    with pytest.raises(Conflict):
        await svc.assign_lane(incident_id=mi, lane=Lane.COMMUNICATIONS, owner="carol", note="", actor="alice")
    moved = await svc.transition(incident_id=mi, request=step(Command.MITIGATE, "failover planned"), actor="alice")
    assert moved.state is IncidentState.MITIGATING
    with pytest.raises(Conflict, match="allowed: monitor, cancel"):
        await svc.transition(incident_id=mi, request=step(Command.RESOLVE), actor="alice")

    # decision log: append-only, a correction references the entry it corrects
    d1 = await svc.decide(
        incident_id=mi,
        actor="alice",
        spec=DecisionSpec(
            decision="Fail over the payments database",
            rationale="primary is corrupt",
            owner="alice",
            alternatives=["restore from backup"],
            evidence_links=["https://grafana.example/d/db"],
        ),
    )
    d2 = await svc.decide(
        incident_id=mi,
        actor="alice",
        spec=DecisionSpec(
            decision="Fail over to the standby region instead", rationale="replica lags", owner="alice", corrects=1
        ),
    )
    assert (d1.number, d2.number, d2.corrects) == (1, 2, 1)
    with pytest.raises(InvalidInput, match="corrects"):
        await svc.decide(
            incident_id=mi, actor="alice", spec=DecisionSpec(decision="x", rationale="y", owner="alice", corrects=7)
        )
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        await w.db.write(lambda c: c.execute("UPDATE incident_decisions SET doc = '{}'"))
    assert (await reader.view(incident_id=mi)).decisions_in_force == [2]

    # mitigation queue: DAG, cycles refused, rollback plans, approvals, blocked-by explanations
    a1 = await svc.add_action(
        incident_id=mi,
        actor="bob",
        spec=ActionSpec(
            title="Fail over database",
            owner="bob",
            priority=2,
            precheck="replica lag < 5s",
            risk=Risk.HIGH,
            rollback_plan="fail back to the primary",
        ),
    )
    a2 = await svc.add_action(
        incident_id=mi,
        actor="bob",
        spec=ActionSpec(
            title="Restart payment workers", owner="bob", priority=1, precheck="queue drained", depends_on=[a1.id]
        ),
    )
    with pytest.raises(InvalidInput, match="rollback_plan"):
        await svc.add_action(
            incident_id=mi,
            actor="bob",
            spec=ActionSpec(title="Flush cache", owner="bob", precheck="none", risk=Risk.RISKY),
        )
    with pytest.raises(InvalidInput, match=r"cycle: A1 -> A2 -> A1"):
        await svc.action_step(
            incident_id=mi, action_id=a1.id, actor="bob", step=ActionStep(step="relink", depends_on=[a2.id])
        )
    view = await reader.view(incident_id=mi)
    blocked = {v.action.id: v.blocked_by for v in view.actions}
    assert blocked["A1"] == ["pre-check not run: replica lag < 5s", "needs approval by an approver (high risk)"]
    assert blocked["A2"] == ["waits for A1 (pending)", "pre-check not run: queue drained"]
    await svc.action_step(incident_id=mi, action_id="A1", actor="bob", step=ActionStep(step="precheck", passed=True))
    await refused(
        svc.action_step(incident_id=mi, action_id="A1", actor="bob", step=ActionStep(step="start")), "needs approval"
    )
    with pytest.raises(Conflict, match="own high-risk"):
        await svc.action_step(incident_id=mi, action_id="A1", actor="bob", step=ActionStep(step="approve"))
    await svc.action_step(incident_id=mi, action_id="A1", actor="dave", step=ActionStep(step="approve"))
    assert (await reader.view(incident_id=mi)).ready_actions == ["A1"]
    await svc.action_step(incident_id=mi, action_id="A1", actor="bob", step=ActionStep(step="start"))
    await refused(
        svc.transition(incident_id=mi, request=step(Command.MONITOR, "watching"), actor="alice"),
        "mitigation.succeeded",
        "mitigation.none_running",
    )
    failed = await svc.action_step(
        incident_id=mi, action_id="A1", actor="bob", step=ActionStep(step="fail", note="replica diverged")
    )
    assert failed.rollback_offered
    await svc.action_step(
        incident_id=mi, action_id="A1", actor="bob", step=ActionStep(step="rollback", note="back on primary")
    )
    a3 = await svc.add_action(
        incident_id=mi,
        actor="bob",
        spec=ActionSpec(
            title="Fail over to standby region",
            owner="bob",
            precheck="standby healthy",
            risk=Risk.RISKY,
            rollback_plan="shift traffic back",
            links=["https://runbooks.example/payments/region-failover"],
        ),
    )
    for s in (ActionStep(step="precheck", passed=True), ActionStep(step="start"), ActionStep(step="succeed")):
        await svc.action_step(incident_id=mi, action_id=a3.id, actor="bob", step=s)
    assert (await w.value("micd_mitigation_actions", tenant="acme", state="rolled_back")) == 1
    assert (await w.value("micd_mitigation_actions", tenant="acme", state="succeeded")) == 1
    assert (await w.value("micd_mitigation_actions", tenant="acme", state="pending")) == 1
    await refused(svc.transition(incident_id=mi, request=step(Command.MONITOR), actor="alice"), "note")
    await svc.transition(incident_id=mi, request=step(Command.MONITOR, "error rate back to baseline"), actor="alice")

    # cadence: an on-time update at +20 min, customer text waits for a second person's approval
    w.clock.set(T0 + timedelta(minutes=20))
    u1 = await svc.publish_update(
        incident_id=mi,
        actor="carol",
        spec=UpdateSpec(
            summary="Traffic moved to the standby region",
            audiences=[Audience.TECHNICAL, Audience.EXECUTIVE, Audience.CUSTOMER],
            evidence_links=["https://grafana.example/d/payments"],
        ),
    )
    assert u1.on_time
    assert u1.next_due == T0 + timedelta(minutes=50)
    assert "Next update: 2026-01-05 09:50 UTC" in u1.bodies[Audience.TECHNICAL]
    assert "bob" not in u1.bodies[Audience.CUSTOMER]
    assert "grafana" not in u1.bodies[Audience.CUSTOMER]
    await w.drain()
    assert w.http.at("/acme/status") == []  # not approved yet
    with pytest.raises(Conflict, match="author"):
        await svc.approve_update(incident_id=mi, update_id=u1.id, approver="carol")
    await svc.approve_update(incident_id=mi, update_id=u1.id, approver="dave")
    with pytest.raises(Conflict):
        await svc.approve_update(incident_id=mi, update_id=u1.id, approver="dave")

    # the next one is due at +50 min: due is not overdue; one second later it is, and the lead is reminded once
    w.clock.set(T0 + timedelta(minutes=50))
    assert await w.cmd.ticker.tick() == []
    assert await w.value("micd_status_updates_overdue", tenant="acme") == 0
    w.clock.advance(1)
    assert await w.cmd.ticker.tick() == [mi]
    assert await w.cmd.ticker.tick() == []
    assert await w.value("micd_status_updates_overdue", tenant="acme") == 1
    view = await reader.view(incident_id=mi)
    assert view.update_overdue
    assert "Reminder for carol" in next(e for e in view.timeline if e.kind == "reminder").text
    w.clock.set(T0 + timedelta(minutes=55))
    late = await svc.publish_update(incident_id=mi, actor="carol", spec=UpdateSpec(summary="Still stable"))
    assert not late.on_time
    assert await w.value("micd_status_updates_total", tenant="acme", on_time="true") == 1
    assert await w.value("micd_status_updates_total", tenant="acme", on_time="false") == 1
    assert await w.value("micd_status_update_compliance_ratio", tenant="acme") == 0.5
    assert await w.value("micd_status_updates_overdue", tenant="acme") == 0

    # closure gates: every missing item listed at once, then met one by one
    w.clock.set(T0 + timedelta(hours=1))
    await refused(
        svc.transition(incident_id=mi, request=step(Command.RESOLVE), actor="alice"),
        "service_validation.alerts_resolved (1 alert",
        "service_validation.note",
        "customer_confirmation.who",
        "customer_confirmation.when",
        "residual_risk",
    )
    await svc.record_closure(incident_id=mi, actor="bob", evidence=ClosureInput(validation_note="synthetic checks ok"))
    with pytest.raises(InvalidInput, match="customer_confirmed_at"):
        await svc.record_closure(
            incident_id=mi, actor="carol", evidence=ClosureInput(customer_confirmed_at=T0 + timedelta(days=1))
        )
    await svc.record_closure(
        incident_id=mi,
        actor="carol",
        evidence=ClosureInput(
            customer_confirmed_by="Jane Roe (Acme support)",
            customer_confirmed_at=T0 + timedelta(minutes=58),
            residual_risk="standby region has no redundancy until the primary is rebuilt",
        ),
    )
    await refused(
        svc.transition(incident_id=mi, request=step(Command.RESOLVE), actor="alice"),
        "service_validation.alerts_resolved",
    )
    await w.db.write(lambda c: alerts.apply(c, [alert("acme", "fp1", AlertStatus.RESOLVED)], received_at=w.clock.now()))
    resolved = await svc.transition(incident_id=mi, request=step(Command.RESOLVE), actor="alice")
    assert resolved.resolved_at == T0 + timedelta(hours=1)
    assert resolved.next_update_due is None
    assert await w.value("micd_major_incident_mttr_seconds_sum", tenant="acme") == 3600
    assert await w.value("micd_major_incidents_active", tenant="acme") == 0
    assert await outage_link() == (mi, False)

    # review due 5 Berlin business days after Monday 5 Jan, skipping the 6 Jan holiday: Tuesday 13 Jan
    view = await reader.view(incident_id=mi)
    assert view.review is not None
    assert view.review.due_on == date(2026, 1, 13)
    await refused(svc.transition(incident_id=mi, request=step(Command.REVIEW), actor="alice"), "review.facilitator")
    await svc.edit_review(incident_id=mi, actor="alice", edit=ReviewEdit(facilitator="frank"))
    await svc.transition(incident_id=mi, request=step(Command.REVIEW), actor="alice")
    await svc.edit_review(incident_id=mi, actor="frank", edit=ReviewEdit(sections={"summary": "Payments down 1h"}))
    await refused(
        svc.transition(incident_id=mi, request=step(Command.CLOSE), actor="alice"),
        "review.sections.timeline",
        "review.sections.root_cause",
        "review.sections.went_well",
        "review.sections.went_badly",
    )
    with pytest.raises(InvalidInput, match=r"sections\.lessons"):
        await svc.edit_review(incident_id=mi, actor="frank", edit=ReviewEdit(sections={"lessons": "x"}))
    await svc.edit_review(
        incident_id=mi,
        actor="frank",
        edit=ReviewEdit(
            sections={
                "timeline": "see below",
                "root_cause": "disk firmware",
                "went_well": "fast failover",
                "went_badly": "first failover attempt failed",
            }
        ),
    )
    with pytest.raises(InvalidInput, match="due"):
        await svc.add_review_action(
            incident_id=mi, actor="frank", spec=ReviewActionSpec(title="x", owner="bob", due=date(2026, 1, 1))
        )
    await svc.add_review_action(
        incident_id=mi,
        actor="frank",
        spec=ReviewActionSpec(title="Replace disk firmware", owner="bob", due=date(2026, 1, 20)),
    )
    await svc.add_review_action(
        incident_id=mi,
        actor="frank",
        spec=ReviewActionSpec(title="Add replica lag alert", owner="erin", due=date(2026, 1, 9)),
    )
    closed = await svc.transition(incident_id=mi, request=step(Command.CLOSE, "review held"), actor="alice")
    assert closed.state is IncidentState.CLOSED
    with pytest.raises(Conflict, match="complete"):
        await svc.edit_review(incident_id=mi, edit=ReviewEdit(sections={"root_cause": "later rewrite"}), actor="x")
    with pytest.raises(Conflict, match="complete"):
        await svc.add_review_action(
            incident_id=mi, actor="frank", spec=ReviewActionSpec(title="late", owner="bob", due=date(2026, 1, 30))
        )
    assert await w.value("micd_mitigation_actions", tenant="acme", state="pending") == 0  # active incidents only
    timeline = [e.text for e in (await reader.view(incident_id=mi)).timeline if e.kind == "action"]
    assert "action A1 precheck: passed" in timeline
    w.clock.set(T0 + timedelta(days=7))
    assert await w.value("micd_pir_actions_open", tenant="acme") == 2
    assert await w.value("micd_pir_actions_overdue", tenant="acme") == 1
    await svc.close_review_action(incident_id=mi, action_id="R2", note="alert added", actor="erin")
    assert await w.value("micd_pir_actions_open", tenant="acme") == 1
    assert await w.value("micd_pir_actions_overdue", tenant="acme") == 0

    markdown = await reader.review_markdown(incident_id=mi)
    for expected in (
        "# Post-incident review: MI-000001",
        "## Root cause\n\ndisk firmware",
        "(corrects #1)",
        "| R1 | Replace disk firmware | bob | 2026-01-20 | open |",
        "Residual risk: standby region",
    ):
        assert expected in markdown

    # every transition is journaled to ServiceNow work notes, in order, keyed by the proposal
    journal = await w.journal(p1.id)
    transitions = [j["text"] for j in journal if str(j["text"]).startswith(f"[micd] {mi}:")]
    assert [str(t).split(": ")[1].split(" by ")[0] for t in transitions] == [
        "proposed -> declared",
        "declared -> mitigating",
        "mitigating -> monitoring",
        "monitoring -> resolved",
        "resolved -> review",
        "review -> closed",
    ]
    assert all(j["action"] == "journal" and j["proposal_id"] == p1.id for j in journal)
    assert [j["field"] for j in journal].count("comments") == 1  # the approved customer update

    # notifications: each audience reached only the acme channels that take it
    await w.drain()
    assert len(w.http.at("/acme/status")) == 1
    assert "Reference: MI-000001" in str(w.http.at("/acme/status")[0])
    assert len(w.http.at("/acme/teams")) == 2  # executive part of the two updates
    slack = w.http.at("/acme/slack")
    assert len(slack) == 5
    assert sum("[overdue]" in m["text"] for m in slack) == 1
    assert len(w.mail.to("ops@acme.example")) == 3  # two technical updates and the reminder
    assert await w.value("micd_notifications_total", tenant="acme", channel_kind="slack", outcome="delivered") == 5


async def test_tenants_never_share_channels_and_repeats_link_within_a_tenant(world: World) -> None:
    w, svc = world, world.cmd.service
    acme = await svc.declare(proposal=proposal(1), commander="alice", at=T0)
    globex = await svc.declare(proposal=proposal(2, tenant="globex"), commander="gina", at=T0)
    for mi, who in ((acme, "carol"), (globex, "gus")):
        await svc.publish_update(
            incident_id=mi,
            actor=who,
            spec=UpdateSpec(
                summary=f"working on {mi}", audiences=[Audience.TECHNICAL, Audience.EXECUTIVE, Audience.CUSTOMER]
            ),
        )
    await svc.approve_update(incident_id=globex, update_id=2, approver="gail")
    await w.drain()
    globex_bodies = str(w.http.at("/globex/hook"))
    assert len(w.http.at("/globex/hook")) == 3
    assert acme not in globex_bodies
    assert globex in globex_bodies
    assert all(globex not in str(body) for path, body in w.http.received if path.startswith("/acme/"))
    assert all("acme" not in str(m) and acme not in str(m) for m in w.mail.to("ops@globex.example"))
    assert {rcpt for rcpts, _ in w.mail.messages for rcpt in rcpts} == {"ops@acme.example", "ops@globex.example"}
    # globex's own cadence (15 min for P1) and acme's default (30)
    assert (await w.cmd.reader.view(incident_id=globex)).incident.next_update_due == T0 + timedelta(minutes=15)

    # a repeat links within the tenant only: same service in acme, never globex's incident
    w.clock.set(T0 + timedelta(days=3))
    again = await svc.declare(proposal=proposal(3, cause=None), commander="alice", at=w.clock.now())
    other = await svc.declare(
        proposal=proposal(4, tenant="acme", services=("search",), cause="Database failover"),
        commander="alice",
        at=w.clock.now(),
    )
    fresh = await svc.declare(
        proposal=proposal(5, services=("mail",), cause="dns"), commander="alice", at=w.clock.now()
    )
    view = w.cmd.reader.view
    assert (await view(incident_id=again)).incident.predecessor_id == acme
    # `again` names no cause and another service; the cause matches acme's, whatever its case
    assert (await view(incident_id=other)).incident.predecessor_id == acme
    assert (await view(incident_id=fresh)).incident.predecessor_id is None
    assert await w.value("micd_repeat_major_incidents_total", tenant="acme") == 2
    assert await w.value("micd_major_incidents_declared_total", tenant="acme") == 4
    assert await w.value("micd_major_incidents_active", tenant="acme") == 4
    assert await w.value("micd_major_incidents_active", tenant="globex") == 1


async def test_a_failing_channel_is_retried_without_resending_to_the_others(world: World) -> None:
    w, svc = world, world.cmd.service
    mi = await svc.declare(proposal=proposal(1), commander="alice", at=T0)
    w.http.fail_next = 1  # the first webhook call (the slack channel) answers 503
    await svc.publish_update(incident_id=mi, actor="carol", spec=UpdateSpec(summary="investigating"))
    await w.drain()
    # the slack channel's executive part waits behind its failed technical part: a channel's messages stay in order
    assert w.http.at("/acme/slack") == []
    assert len(w.http.at("/acme/teams")) == 1
    assert len(w.mail.to("ops@acme.example")) == 1
    assert await w.value("micd_notifications_total", tenant="acme", channel_kind="slack", outcome="retry") == 1
    w.clock.advance(timedelta(seconds=4))
    await w.drain()
    assert w.http.at("/acme/slack") == []  # backoff is 5 s after the first failure
    w.clock.advance(timedelta(seconds=1))
    await w.drain()
    slack = w.http.at("/acme/slack")
    assert len(slack) == 2
    assert "Update at" in slack[0]["text"]
    assert "Business impact" in slack[1]["text"]
    assert len(w.http.at("/acme/teams")) == 1
    assert len(w.mail.to("ops@acme.example")) == 1


async def test_ticker_state_survives_a_restart(world: World, db: Database) -> None:
    """A new service over the same database neither forgets an overdue update nor reminds twice."""
    mi = await world.cmd.service.declare(proposal=proposal(1), commander="alice", at=T0)
    world.clock.set(T0 + timedelta(minutes=31))
    assert await world.cmd.ticker.tick() == [mi]
    again = build(db=db, clock=world.clock, settings=CommandSettings(), tenants={}, metrics=Metrics())
    assert await again.ticker.tick() == []
    world.clock.set(T0 + timedelta(minutes=45))
    await again.service.publish_update(incident_id=mi, actor="carol", spec=UpdateSpec(summary="late"))
    world.clock.set(T0 + timedelta(minutes=76))
    assert await again.ticker.tick() == [mi]
