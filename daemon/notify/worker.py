"""Delivers queued notifications from the outbox (topic `notify`), one channel per item, with backoff.

One item per channel means a retry never repeats a message to channels that already have it. The
channel is looked up by name among the item's own tenant's channels only: a message cannot cross tenants.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import timedelta

from daemon.config.tenants import TenantSettings
from daemon.kernel.clock import Clock
from daemon.notify.models import Message, Notifier, NotifyError
from daemon.store.outbox import Outbox, OutboxItem
from daemon.telemetry.metrics import Metrics

TOPIC = "notify"

log = logging.getLogger("micd.notify")


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(600, 5 * 2**attempts))


class NotifyWorker:
    def __init__(
        self,
        *,
        outbox: Outbox,
        tenants: Mapping[str, TenantSettings],
        notifiers: Mapping[str, Notifier],
        metrics: Metrics,
        clock: Clock,
    ) -> None:
        self._outbox = outbox
        self._tenants = tenants
        self._notifiers = notifiers
        self._metrics = metrics
        self._clock = clock

    async def run_once(self) -> int:
        """Deliver what is due now; returns how many items were settled (delivered or dropped)."""
        settled = 0
        for item in await self._outbox.due(topic=TOPIC, now=self._clock.now()):
            settled += await self._deliver(item)
        return settled

    async def run(self, stop: asyncio.Event, *, interval: float = 1.0) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("notification pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)

    async def _deliver(self, item: OutboxItem) -> int:
        message = Message.model_validate(item.payload["message"])
        name = str(item.payload["channel"])
        extra = {"tenant": item.tenant, "incident": message.incident_id, "channel": name}
        tenant = self._tenants.get(item.tenant)
        channel = next((c for c in (tenant.channels if tenant else []) if c.name == name), None)
        notifier = self._notifiers.get(channel.kind) if channel else None
        if message.tenant != item.tenant or channel is None or notifier is None:
            log.warning("notification dropped: channel not configured for this tenant", extra=extra)
            self._count(item.tenant, channel.kind if channel else "unknown", "dropped")
            await self._outbox.delivered(item.id, now=self._clock.now())
            return 1
        try:
            await notifier.send(channel, message)
        except NotifyError as exc:
            if not exc.retryable:
                log.error("notification dropped: %s", exc.message, extra=extra)
                self._count(item.tenant, channel.kind, "dropped")
                await self._outbox.delivered(item.id, now=self._clock.now())
                return 1
            log.warning("notification failed, will retry: %s", exc.message, extra=extra)
            self._count(item.tenant, channel.kind, "retry")
            await self._outbox.failed(item.id, error=exc.message, retry_at=self._clock.now() + backoff(item.attempts))
            return 0
        self._count(item.tenant, channel.kind, "delivered")
        await self._outbox.delivered(item.id, now=self._clock.now())
        return 1

    def _count(self, tenant: str, kind: str, outcome: str) -> None:
        self._metrics.notifications.labels(tenant=tenant, channel_kind=kind, outcome=outcome).inc()
