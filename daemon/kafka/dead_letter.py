"""Records that cannot be parsed or validated go, byte for byte, to the dead-letter topic, with why and whence.

A plain producer (not idempotent): a dead letter sent twice after a crash is harmless, and idempotent producers
need broker features not every Kafka-compatible broker has.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer

log = logging.getLogger("micd.kafka")

MAX_ERROR_BYTES = 1024


class Record(Protocol):
    """The parts of an aiokafka ConsumerRecord a dead letter keeps."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


def dead_letter_headers(record: Record, error: str) -> list[tuple[str, bytes]]:
    """Header names follow the common `<prefix>.origin.*` convention so DLQ tooling can replay by origin."""
    return [
        ("micd.error", error.encode()[:MAX_ERROR_BYTES]),
        ("micd.origin.topic", record.topic.encode()),
        ("micd.origin.partition", str(record.partition).encode()),
        ("micd.origin.offset", str(record.offset).encode()),
    ]


class DeadLetters:
    """Publishes to one topic; `send` returns once the broker has acknowledged the record."""

    def __init__(self, *, topic: str, options: dict[str, Any]) -> None:
        self.topic = topic
        self._producer = AIOKafkaProducer(**options, acks="all", enable_idempotence=False)

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(self, record: Record, error: str) -> None:
        await self._producer.send_and_wait(
            self.topic, value=record.value, key=record.key, headers=dead_letter_headers(record, error)
        )
        log.warning(
            "record dead-lettered",
            extra={"topic": record.topic, "partition": record.partition, "offset": record.offset, "error": error},
        )
