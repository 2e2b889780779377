"""When to try ServiceNow again: a circuit breaker and the outbox backoff. Pure; time arrives as `now`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Circuit(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class CircuitBreaker:
    """Opens after `failures` consecutive failed tries; after `reset` lets one probe through.

    A dead instance then costs one request per `reset` instead of one per outbox item and retry.
    """

    failures: int
    reset: timedelta
    _count: int = 0
    _opened_at: datetime | None = None
    _probing: bool = False

    def state(self, now: datetime) -> Circuit:
        if self._opened_at is None:
            return Circuit.CLOSED
        if now - self._opened_at >= self.reset and not self._probing:
            return Circuit.HALF_OPEN
        return Circuit.OPEN

    def allows(self, now: datetime) -> bool:
        """May a try go out now? In half-open state, only the first caller gets to probe."""
        state = self.state(now)
        if state is Circuit.HALF_OPEN:
            self._probing = True
            return True
        return state is Circuit.CLOSED

    def succeeded(self) -> None:
        self._count = 0
        self._opened_at = None
        self._probing = False

    def failed(self, now: datetime) -> None:
        self._count += 1
        if self._probing or self._count >= self.failures:
            self._opened_at = now
            self._probing = False

    def reopens_at(self) -> datetime | None:
        return None if self._opened_at is None else self._opened_at + self.reset


def backoff(*, attempts: int, initial: float, maximum: float, jitter: float) -> float:
    """Seconds before try number `attempts + 1`: doubling, capped, with `jitter` in [0, 1] spreading the upper half."""
    base: float = min(maximum, initial * 2.0 ** max(0, attempts - 1))
    return base / 2 + base / 2 * min(1.0, max(0.0, jitter))
