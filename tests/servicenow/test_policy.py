"""The circuit breaker and the outbox backoff, moved through time by hand."""

from __future__ import annotations

from datetime import timedelta

import pytest

from daemon.kernel.clock import FakeClock
from daemon.servicenow.policy import Circuit, CircuitBreaker, backoff


def test_breaker_opens_after_consecutive_failures_and_probes_once_after_reset() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failures=3, reset=timedelta(seconds=30))
    for _ in range(2):
        assert breaker.allows(clock.now())
        breaker.failed(clock.now())
    breaker.succeeded()  # success resets the count
    for _ in range(3):
        breaker.failed(clock.now())
    assert breaker.state(clock.now()) is Circuit.OPEN
    assert not breaker.allows(clock.advance(29))
    assert breaker.reopens_at() == clock.now() + timedelta(seconds=1)
    clock.advance(1)
    assert breaker.state(clock.now()) is Circuit.HALF_OPEN
    assert breaker.allows(clock.now())  # the probe
    assert not breaker.allows(clock.now())  # nobody else while it is out
    breaker.failed(clock.now())  # a failed probe opens again for a full period
    assert not breaker.allows(clock.advance(29))
    assert breaker.allows(clock.advance(1))
    breaker.succeeded()
    assert breaker.state(clock.now()) is Circuit.CLOSED


@pytest.mark.parametrize(
    ("attempts", "jitter", "expected"),
    [(1, 0.0, 0.5), (1, 1.0, 1.0), (2, 0.0, 1.0), (4, 1.0, 8.0), (10, 1.0, 300.0), (10, 0.0, 150.0)],
)
def test_backoff_doubles_with_jitter_and_a_cap(attempts: int, jitter: float, expected: float) -> None:
    assert backoff(attempts=attempts, initial=1.0, maximum=300.0, jitter=jitter) == expected
