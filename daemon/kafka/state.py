"""How the Kafka consumer is doing, for /readyz, and the timings it runs by."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class KafkaState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"  # back-pressure: healthy, just behind
    DEGRADED = "degraded"  # broker unreachable or storing failing; retrying
    STOPPED = "stopped"


@dataclass(frozen=True)
class KafkaStatus:
    """What /readyz reports. Paused is ready: it is back-pressure working, not a fault."""

    state: KafkaState
    partitions: int
    in_flight: int
    error: str | None
    rebalancing: bool = False

    @property
    def ready(self) -> bool:
        return self.state in (KafkaState.RUNNING, KafkaState.PAUSED)


@dataclass(frozen=True)
class Tuning:
    """Timings; the defaults suit production, tests shorten them."""

    poll_ms: int = 500
    probe_seconds: float = 5.0
    drain_seconds: float = 10.0
