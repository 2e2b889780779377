"""`micd serve` SIGKILLed mid-stream and restarted: every alert present, none doubled."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import orjson
import pytest

from tests.kafka.broker import Tansu
from tests.kafka.conftest import TEST_GROUP_TIMINGS, eventually, unique
from tests.support.procs import Daemon

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

TOTAL = 3000
BATCH = 20


def counts(db: Path) -> tuple[int, int, int]:
    """(alerts, events, distinct alert names); zeros until the daemon has created its schema."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    except sqlite3.OperationalError:
        return 0, 0, 0
    try:
        alerts = conn.execute("SELECT COUNT(*) FROM alerts").fetchone()[0]
        events = conn.execute("SELECT COUNT(*) FROM alert_events").fetchone()[0]
        names = conn.execute("SELECT COUNT(DISTINCT json_extract(body, '$.labels.alertname')) FROM alerts").fetchone()[
            0
        ]
        return int(alerts), int(events), int(names)
    except sqlite3.OperationalError:
        return 0, 0, 0
    finally:
        conn.close()


async def produce_steadily(broker: Tansu, topic: str, numbers: range) -> None:
    """A continuous stream (about 1000 records a second), still flowing while the daemon dies and comes back."""
    async with broker.producer() as producer:
        for start in range(numbers.start, numbers.stop, BATCH):
            for i in range(start, min(start + BATCH, numbers.stop)):
                value = orjson.dumps({"labels": {"alertname": f"A{i}"}, "startsAt": "2026-12-03T10:00:00Z"})
                await producer.send(topic, value=value, key=f"tenant{i % 5}".encode())
            await producer.flush()
            await asyncio.sleep(0.02)


async def test_sigkill_mid_stream_then_restart_loses_and_doubles_nothing(broker: Tansu, tmp_path: Path) -> None:
    topic, group = unique("alerts"), unique("g")
    await broker.create_topic(topic, 4)
    daemon = Daemon(
        tmp_path,
        {
            "kafka": {
                "bootstrap_servers": [broker.bootstrap],
                "topics": [topic],
                "group_id": group,
                "max_in_flight": 200,
                **TEST_GROUP_TIMINGS,
            },
        },
    )
    db = tmp_path / "micd.sqlite3"
    await produce_steadily(broker, topic, range(5 * BATCH))
    await asyncio.to_thread(daemon.start)  # returns once /readyz answers 200
    producing: asyncio.Task[None] | None = None
    try:
        await eventually(lambda: _at_least(db, 5 * BATCH), within=60, what="the daemon consuming")
        producing = asyncio.create_task(produce_steadily(broker, topic, range(5 * BATCH, TOTAL)))
        await eventually(lambda: _at_least(db, 20 * BATCH), within=60, what="the stream flowing")
        daemon.kill()
        stored_at_kill = counts(db)[0]
        assert not producing.done(), "the kill must land mid-stream"
        offsets = await broker.committed(group, topic, 4)
        # At least once: an offset is committed only once its records are stored, never before.
        assert sum(o or 0 for o in offsets) <= stored_at_kill
        await asyncio.to_thread(daemon.start)
        await producing
        await eventually(lambda: _at_least(db, TOTAL), within=90, what=f"all {TOTAL} alerts after the restart")
        assert daemon.proc is not None
        assert daemon.proc.poll() is None
        alerts, events, names = counts(db)
        assert (alerts, names) == (TOTAL, TOTAL)
        assert events == TOTAL  # each alert fired once: redelivered records were recognised, not doubled
        assert daemon.stop() == 0  # SIGTERM: the consumer drains, commits and leaves the group cleanly
    finally:
        if producing is not None:
            producing.cancel()
        daemon.stop()


async def _at_least(db: Path, n: int) -> bool:
    return counts(db)[0] >= n
