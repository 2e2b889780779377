"""Two real `micd serve` processes in one consumer group share a topic's partitions and see every alert once."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import urllib.request
from pathlib import Path

import orjson
import pytest

from tests.kafka.broker import Tansu
from tests.kafka.conftest import TEST_GROUP_TIMINGS, eventually, unique
from tests.support.procs import Daemon

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

PARTITIONS = 4
TOTAL = 2000


def fingerprints(db: Path) -> list[str]:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    except sqlite3.OperationalError:
        return []
    try:
        return [r[0] for r in conn.execute("SELECT fingerprint FROM alert_events")]
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def partitions(daemon: Daemon) -> int:
    """Partitions this member holds, from its /readyz kafka check ("running: 2 partitions, ...")."""
    with urllib.request.urlopen(daemon.url + "/readyz", timeout=10) as resp:  # noqa: S310 - loopback
        detail = json.loads(resp.read())["checks"]["kafka"]["detail"]
    found = re.match(r"running: (\d+) partitions", detail)
    return int(found.group(1)) if found and "rebalancing" not in detail else 0


async def test_two_daemons_in_one_group_share_the_partitions_and_see_every_alert_once(
    broker: Tansu, tmp_path: Path
) -> None:
    topic, group = unique("alerts"), unique("g")
    await broker.create_topic(topic, PARTITIONS)
    daemons = []
    for name in ("a", "b"):
        workdir = tmp_path / name
        workdir.mkdir()
        kafka = {"bootstrap_servers": [broker.bootstrap], "topics": [topic], "group_id": group, **TEST_GROUP_TIMINGS}
        daemons.append(Daemon(workdir, {"kafka": kafka}))
    try:
        for daemon in daemons:
            await asyncio.to_thread(daemon.start)

        async def settled() -> bool:
            held = [await asyncio.to_thread(partitions, d) for d in daemons]
            return sum(held) == PARTITIONS and all(held)

        await eventually(settled, within=60, what="both members holding partitions")
        async with broker.producer() as producer:
            for i in range(TOTAL):
                value = orjson.dumps({"labels": {"alertname": f"A{i}"}, "startsAt": "2026-12-03T10:00:00Z"})
                await producer.send(topic, value=value, key=f"tenant{i % 5}".encode())
            await producer.flush()

        async def all_stored() -> bool:
            return sum(len(fingerprints(d.workdir / "micd.sqlite3")) for d in daemons) >= TOTAL

        await eventually(all_stored, within=90, what=f"all {TOTAL} alerts stored by the group")
        seen = [fingerprints(d.workdir / "micd.sqlite3") for d in daemons]
        assert all(seen), "each member consumed its share"
        assert len(seen[0]) + len(seen[1]) == TOTAL
        assert not set(seen[0]) & set(seen[1]), "no alert was consumed by both members"
        assert len(set(seen[0]) | set(seen[1])) == TOTAL
        for daemon in daemons:
            assert daemon.stop() == 0
    finally:
        for daemon in daemons:
            daemon.kill()
