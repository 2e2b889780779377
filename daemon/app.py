"""Wiring: the one place that chooses implementations and orders startup and shutdown.

Each resource is one cleanup context (acquire, yield, release), entered in order and left in reverse.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from daemon.api import alerts as alerts_api
from daemon.api import health
from daemon.api.auth import Authenticator
from daemon.api.middleware import build_middlewares
from daemon.api.openapi import document
from daemon.api.routing import Routes
from daemon.config.settings import Settings
from daemon.ingest.service import IngestService
from daemon.kernel.clock import Clock, SystemClock
from daemon.store.alerts import AlertStore
from daemon.store.database import Database
from daemon.store.schema import MIGRATIONS
from daemon.telemetry.metrics import Metrics

log = logging.getLogger("micd.app")

DATABASE: web.AppKey[Database] = web.AppKey("database", Database)
SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
RELOADERS: web.AppKey[list[Callable[[], None]]] = web.AppKey("reloaders", list)

ROUTE_TABLES: list[Routes] = [health.routes, alerts_api.routes]


def build_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    clock = clock or SystemClock()
    app = web.Application(
        client_max_size=settings.limits.max_body_bytes,
        middlewares=build_middlewares(Authenticator(settings.auth)),
    )
    metrics = Metrics()
    db = Database(settings.sqlite_path)
    alert_store = AlertStore(db)
    ingest = IngestService(store=alert_store, metrics=metrics, clock=clock)

    app[SETTINGS] = settings
    app[DATABASE] = db
    app[RELOADERS] = []
    app[health.METRICS] = metrics
    app[health.CHECKS] = []
    app[alerts_api.INGEST] = ingest
    app[alerts_api.ALERTS] = alert_store
    app[alerts_api.TENANT_LABEL] = settings.tenant_label
    app[alerts_api.MAX_ALERTS] = settings.limits.max_alerts_per_request
    app[alerts_api.INGEST_METRICS] = metrics

    async def database(app: web.Application) -> AsyncIterator[None]:
        applied = db.migrate(MIGRATIONS)
        log.info("database open", extra={"count": len(applied)})
        app[health.CHECKS].append(health.Check("store", lambda: (True, settings.database)))
        yield
        db.close()

    async def active_alerts() -> None:
        counts = await alert_store.firing_by_tenant()
        metrics.alerts_active.clear()
        for tenant, n in counts.items():
            metrics.alerts_active.labels(tenant=tenant).set(n)

    metrics.on_scrape(active_alerts)
    app.cleanup_ctx.append(database)

    for table in ROUTE_TABLES:
        table.install(app)
    app[health.OPENAPI] = document(ROUTE_TABLES)
    return app
