"""A minimal daemon for the crash test: settings file in, KafkaIngestor over a real IngestService and SQLite.

It stands in for `micd serve` until the application wires Kafka; run as `python -m tests.kafka.harness FILE`.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from daemon.config.settings import load
from daemon.ingest.service import IngestService
from daemon.kafka.ingestor import KafkaIngestor
from daemon.kernel.clock import SystemClock
from daemon.store.alerts import AlertStore
from daemon.store.database import Database
from daemon.store.schema import MIGRATIONS
from daemon.telemetry import logs
from daemon.telemetry.metrics import Metrics


async def run(config: Path) -> None:
    settings = load(config)
    db = Database(settings.sqlite_path)
    db.migrate(MIGRATIONS)
    clock, metrics = SystemClock(), Metrics()
    service = IngestService(store=AlertStore(db), metrics=metrics, clock=clock)
    ingestor = KafkaIngestor(settings=settings, ingest=service, metrics=metrics, clock=clock)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await ingestor.start()
    await stop.wait()
    await ingestor.stop()
    db.close()


if __name__ == "__main__":
    logs.setup("INFO")
    asyncio.run(run(Path(sys.argv[1])))
