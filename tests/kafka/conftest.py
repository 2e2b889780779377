"""Fixtures: a real Tansu broker, and micd's Kafka path wired to a real IngestService over SQLite."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest

from daemon.config.kafka import KafkaSettings
from daemon.config.settings import Settings
from daemon.ingest.service import IngestService
from daemon.kafka.ingestor import IngestPort, KafkaIngestor
from daemon.kafka.state import Tuning
from daemon.kernel.clock import SystemClock
from daemon.store.alerts import AlertStore
from daemon.store.database import Database
from daemon.store.schema import MIGRATIONS
from daemon.telemetry.metrics import Metrics
from tests.kafka.broker import Tansu

T = TypeVar("T")

# Tansu rebalances in about half the session timeout; these keep group tests quick.
TEST_GROUP_TIMINGS = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 500}
FAST = Tuning(poll_ms=100, probe_seconds=0.5, drain_seconds=10.0)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tansu]:
    tansu = Tansu(tmp_path_factory.mktemp("tansu")).start()
    yield tansu
    tansu.stop()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Tansu]:
    """A broker this test may restart."""
    tansu = Tansu(tmp_path).start()
    yield tansu
    tansu.stop()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def kafka_settings(broker: Tansu, *, topics: list[str], group: str, **overrides: Any) -> Settings:
    kafka = KafkaSettings(
        bootstrap_servers=[broker.bootstrap], topics=topics, group_id=group, **{**TEST_GROUP_TIMINGS, **overrides}
    )
    return Settings(kafka=kafka)


class Stack:
    """One micd's worth of the Kafka path: its own database, metrics and consumer."""

    def __init__(self, db: Database, store: AlertStore, metrics: Metrics, ingestor: KafkaIngestor) -> None:
        self.db = db
        self.store = store
        self.metrics = metrics
        self.ingestor = ingestor

    async def alert_count(self) -> int:
        return int(await self.db.read(lambda c: c.execute("SELECT COUNT(*) FROM alerts").fetchone()[0]))

    async def event_count(self) -> int:
        return int(await self.db.read(lambda c: c.execute("SELECT COUNT(*) FROM alert_events").fetchone()[0]))

    async def alert_names(self) -> list[str]:
        rows = await self.db.read(lambda c: c.execute("SELECT body FROM alerts").fetchall())
        return sorted(orjson.loads(r["body"])["labels"]["alertname"] for r in rows)

    def sample(self, name: str, labels: dict[str, str]) -> float:
        value = self.metrics.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


@asynccontextmanager
async def stack(
    path: Path, settings: Settings, *, wrap: Callable[[IngestService], IngestPort] | None = None
) -> AsyncIterator[Stack]:
    db = Database(path)
    db.migrate(MIGRATIONS)
    clock = SystemClock()
    metrics = Metrics()
    store = AlertStore(db)
    service = IngestService(store=store, metrics=metrics, clock=clock)
    ingest = wrap(service) if wrap else service
    ingestor = KafkaIngestor(settings=settings, ingest=ingest, metrics=metrics, clock=clock, tuning=FAST)
    await ingestor.start()
    try:
        yield Stack(db, store, metrics, ingestor)
    finally:
        await ingestor.stop()
        db.close()


async def eventually(probe: Callable[[], Awaitable[T]], *, within: float = 30.0, what: str) -> T:
    """Poll an async probe until it returns something truthy; fail naming `what` after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last: T | None = None
    while loop.time() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {within}s waiting for {what}; last value {last!r}")
