"""The one door every alert comes through, whatever its source: durable first, then processing."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence

from pydantic import BaseModel

from daemon.alerts.models import Alert, AlertEvent, Source
from daemon.kernel.clock import Clock
from daemon.store.alerts import AlertStore
from daemon.telemetry.metrics import Metrics

log = logging.getLogger("micd.ingest")

Listener = Callable[[Sequence[AlertEvent]], None]


class IngestResult(BaseModel):
    received: int
    changed: int


class IngestService:
    """When `ingest` returns, the alerts are committed: acknowledging the sender is then safe.

    Listeners only wake consumers; consumers read events from the store, so nothing is lost if
    the process dies between commit and processing.
    """

    def __init__(self, *, store: AlertStore, metrics: Metrics, clock: Clock) -> None:
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def ingest(self, alerts: Sequence[Alert], *, source: Source) -> IngestResult:
        started = time.perf_counter()
        events = await self._store.apply(alerts, received_at=self._clock.now())
        self._metrics.ingest_seconds.observe(time.perf_counter() - started)
        for tenant, count in Counter(a.tenant for a in alerts).items():
            self._metrics.alerts_received.labels(source=source.value, tenant=tenant).inc(count)
        # Per-alert debug lines cost a dict each even when filtered out: build them only when wanted.
        for event in events if log.isEnabledFor(logging.DEBUG) else ():
            log.debug(
                "alert %s",
                event.kind.value,
                extra={
                    "tenant": event.alert.tenant,
                    "fingerprint": event.alert.fingerprint,
                    "alertname": event.alert.name,
                    "event_id": event.id,
                },
            )
        if events:
            for listener in self._listeners:
                listener(events)
        return IngestResult(received=len(alerts), changed=len(events))
