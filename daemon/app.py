"""Wiring: the one place that chooses implementations and orders startup and shutdown.

Each resource is one cleanup context (acquire, yield, release), entered in order and left in reverse:
database, rules watcher, correlation loop, ServiceNow, notifications, cadence ticker, Kafka.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import aiohttp
from aiohttp import web

from daemon.api import alerts as alerts_api
from daemon.api import decisions as decisions_api
from daemon.api import health
from daemon.api import incidents as incidents_api
from daemon.api import outages as outages_api
from daemon.api import proposals as proposals_api
from daemon.api.auth import Authenticator
from daemon.api.middleware import build_middlewares
from daemon.api.openapi import document
from daemon.api.routing import Routes
from daemon.config.settings import Settings
from daemon.ingest.service import IngestService
from daemon.kafka.ingestor import KafkaIngestor
from daemon.kernel.clock import Clock, SystemClock
from daemon.notify.mail import EmailNotifier
from daemon.notify.slack import slack_payload
from daemon.notify.teams import teams_payload
from daemon.notify.webhook import WebhookNotifier
from daemon.notify.worker import NotifyWorker
from daemon.runtime import command
from daemon.runtime.correlator import CorrelationLoop
from daemon.runtime.decisions import DecisionService
from daemon.runtime.rules import RulesHolder
from daemon.servicenow.service import ServiceNow
from daemon.store import outages
from daemon.store.alerts import AlertStore
from daemon.store.database import Database
from daemon.store.incidents import IncidentStore
from daemon.store.outages import OutageStore
from daemon.store.outbox import Outbox
from daemon.store.proposals import ProposalStore
from daemon.store.schema import MIGRATIONS
from daemon.telemetry.metrics import Metrics

log = logging.getLogger("micd.app")

DATABASE: web.AppKey[Database] = web.AppKey("database", Database)
SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
RELOADERS: web.AppKey[list[Callable[[], object]]] = web.AppKey("reloaders", list)

ROUTE_TABLES: list[Routes] = [
    health.routes,
    alerts_api.routes,
    outages_api.routes,
    proposals_api.routes,
    decisions_api.routes,
    incidents_api.routes,
]

Loop = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def background(name: str, run: Loop) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context that runs `run(stop)` until shutdown, then waits for it to finish its step."""

    async def context(_app: web.Application) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(run(stop), name=name)
        yield
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=15)
        except TimeoutError:
            log.warning("background task did not stop in time", extra={"operation": name})
            task.cancel()

    return context


def build_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    """Raises ConfigError when the rules are invalid: the daemon must not start on rules it cannot read."""
    clock = clock or SystemClock()
    metrics = Metrics()
    app = web.Application(
        client_max_size=settings.limits.max_body_bytes,
        middlewares=build_middlewares(Authenticator(settings.auth), alerts_api.count_rejections(metrics)),
    )
    for tenant in settings.tenants:
        metrics.init_tenant(tenant)
    db = Database(settings.sqlite_path)
    alert_store = AlertStore(db)
    ingest = IngestService(store=alert_store, metrics=metrics, clock=clock)
    rules = RulesHolder(directory=settings.rules_dir, metrics=metrics)
    rules.start()
    correlation = CorrelationLoop(
        db=db,
        alerts=alert_store,
        rules=rules,
        settings=settings.correlation,
        tenants=settings.tenants,
        metrics=metrics,
        clock=clock,
    )
    ingest.subscribe(correlation.wake)
    cmd = command.build(
        db=db,
        clock=clock,
        settings=settings.command,
        tenants=settings.tenants,
        metrics=metrics,
        outages=outages,
        runbooks=command.CatalogLinks(rules),
    )
    decisions = DecisionService(db=db, metrics=metrics, clock=clock, declarer=cmd.service)
    servicenow = ServiceNow(settings=settings, db=db, metrics=metrics, clock=clock, decisions=decisions)
    kafka = (
        KafkaIngestor(settings=settings, ingest=ingest, metrics=metrics, clock=clock)
        if settings.kafka.enabled
        else None
    )
    proposals = ProposalStore(db)

    app[SETTINGS] = settings
    app[DATABASE] = db
    reloaders: list[Callable[[], object]] = [rules.reload]
    app[RELOADERS] = reloaders
    app[health.METRICS] = metrics
    app[health.CHECKS] = [health.Check("rules", rules.readiness)]
    app[alerts_api.INGEST] = ingest
    app[alerts_api.ALERTS] = alert_store
    app[alerts_api.TENANT_LABEL] = settings.tenant_label
    app[alerts_api.MAX_ALERTS] = settings.limits.max_alerts_per_request
    app[outages_api.OUTAGES] = OutageStore(db)
    app[proposals_api.PROPOSALS] = proposals
    app[decisions_api.DECIDER] = decisions
    app[decisions_api.PROPOSAL_STORE] = proposals
    app[incidents_api.COMMAND] = cmd.service
    app[incidents_api.READER] = cmd.reader
    app[incidents_api.INCIDENTS] = IncidentStore(db)

    async def database(app: web.Application) -> AsyncIterator[None]:
        applied = db.migrate(MIGRATIONS)
        log.info("database open", extra={"count": len(applied)})
        app[health.CHECKS].append(health.Check("store", db.readiness))
        yield
        db.close()

    async def active_alerts() -> None:
        metrics.mirror(metrics.alerts_active, await alert_store.firing_by_tenant())

    async def servicenow_ctx(_app: web.Application) -> AsyncIterator[None]:
        async with servicenow.running():
            yield

    async def notifications(stop: asyncio.Event) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
            worker = NotifyWorker(
                outbox=Outbox(db),
                tenants=settings.tenants,
                notifiers={
                    "webhook": WebhookNotifier(session),
                    "slack": WebhookNotifier(session, slack_payload),
                    "teams": WebhookNotifier(session, teams_payload),
                    "email": EmailNotifier(),
                },
                metrics=metrics,
                clock=clock,
            )
            await worker.run(stop)

    async def kafka_ctx(app: web.Application) -> AsyncIterator[None]:
        assert kafka is not None
        app[health.CHECKS].append(health.Check("kafka", kafka.readiness, critical=False))
        await kafka.start()
        yield
        await kafka.stop()

    metrics.on_scrape(active_alerts)
    app.cleanup_ctx.extend(
        [
            database,
            rules.watching,
            correlation.context,
            servicenow_ctx,
            background("notifications", notifications),
            background("cadence", cmd.ticker.run),
        ]
    )
    if kafka is not None:
        app.cleanup_ctx.append(kafka_ctx)

    for table in ROUTE_TABLES:
        table.install(app)
    app[health.OPENAPI] = document(ROUTE_TABLES)
    return app
