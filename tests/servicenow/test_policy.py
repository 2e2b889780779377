"""The circuit breaker, the outbox backoff and Retry-After, moved through time by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from daemon.kernel.clock import FakeClock
from daemon.servicenow.connection import retry_after
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


NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 120 ", 120.0),
        ("Mon, 05 Jan 2026 09:00:42 GMT", 42.0),
        ("Monday, 05-Jan-26 09:01:00 GMT", 60.0),  # RFC 850, obsolete but still to be accepted
        ("Mon Jan  5 09:00:03 2026", 3.0),  # asctime
        ("Mon, 05 Jan 2026 08:59:00 GMT", 0.0),  # already past: no wait
        ("", None),
        ("-3", None),
        ("1.5", None),
        ("soon", None),
    ],
)
def test_retry_after_in_both_forms(header: str, seconds: float | None) -> None:
    assert retry_after(header, now=NOW) == seconds
