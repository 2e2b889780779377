"""The ServiceNow side of micd as one resource with start() and stop(), for app.py to wire.

Without `servicenow.instance` nothing talks to ServiceNow: items wait in the outbox (the depth gauge shows
them) and are delivered once an instance is configured and micd restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from daemon.config.settings import Settings
from daemon.kernel.clock import Clock
from daemon.servicenow.connection import Connection
from daemon.servicenow.delivery import TOPIC, DeliveryWorker, Sleep
from daemon.servicenow.desk import IncidentDesk
from daemon.servicenow.policy import CircuitBreaker
from daemon.servicenow.poller import DecisionPoller, Decisions
from daemon.store.database import Database
from daemon.store.outbox import Outbox
from daemon.store.proposals import ProposalStore
from daemon.telemetry.metrics import Metrics

log = logging.getLogger("micd.servicenow")


class ServiceNow:
    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        metrics: Metrics,
        clock: Clock,
        decisions: Decisions,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._settings = settings
        self._db = db
        self._metrics = metrics
        self._clock = clock
        self._decisions = decisions
        self._sleep = sleep
        self._outbox = Outbox(db)
        self._connection: Connection | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.worker: DeliveryWorker | None = None
        self.poller: DecisionPoller | None = None
        metrics.on_scrape(self.refresh_depth)

    async def refresh_depth(self) -> None:
        self._metrics.servicenow_outbox_depth.set(await self._outbox.depth(topic=TOPIC))

    async def start(self) -> None:
        sn = self._settings.servicenow
        if not sn.enabled:
            log.info("servicenow.instance not set: proposals stay in micd and its outbox")
            return
        self._connection = Connection(sn, metrics=self._metrics, clock=self._clock)
        desk = IncidentDesk(self._connection)
        proposals = ProposalStore(self._db)
        breaker = CircuitBreaker(failures=sn.breaker_failures, reset=timedelta(seconds=sn.breaker_reset))
        self.worker = DeliveryWorker(
            settings=self._settings,
            db=self._db,
            desk=desk,
            proposals=proposals,
            clock=self._clock,
            breaker=breaker,
            sleep=self._sleep,
            follower=self._decisions,
        )
        self.poller = DecisionPoller(desk=desk, proposals=proposals, sink=self._decisions, interval=sn.poll_interval)
        self._tasks = [
            asyncio.create_task(self.worker.run(), name="servicenow-delivery"),
            asyncio.create_task(self.poller.run(), name="servicenow-poller"),
        ]
        log.info("servicenow delivery and decision polling started", extra={"instance": sn.instance})

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ServiceNow]:
        """`async with service.running():` — for an aiohttp cleanup_ctx or a test."""
        await self.start()
        try:
            yield self
        finally:
            await self.stop()
