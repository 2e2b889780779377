"""pysnc clients, one per worker thread, and the boundary where its exceptions become micd errors.

Why the sync client in worker threads (asyncio.to_thread) and not `pysnc.asyncio`: the sync client is the one
pysnc maintains and documents; its async twin has a hard-coded 5 s timeout and a broken password flow, and
neither retries in a way we can use (the sync one retries only GET/PUT/DELETE and raises a bare RetryError).
So pysnc's own retries are off and micd retries every call itself (tenacity, outbox, circuit breaker). The sync
client keeps one requests.Session and mutable batch state, so it is not thread-safe: each worker thread gets its
own client. requests has no default timeout and pysnc passes none, so our transport adapter sets one, and it
applies `ca_bundle` even when REQUESTS_CA_BUNDLE is set (requests lets the environment override `verify`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import pysnc
import requests
from requests.adapters import HTTPAdapter

from daemon.config.servicenow import ServiceNowSettings
from daemon.kernel.clock import Clock
from daemon.kernel.errors import (
    ConfigError,
    Forbidden,
    InvalidInput,
    MicdError,
    NotFound,
    Unauthenticated,
    Unavailable,
)
from daemon.telemetry.metrics import Metrics

T = TypeVar("T")
log = logging.getLogger("micd.servicenow")


class ServiceNowUnavailable(Unavailable):
    """ServiceNow is down, slow or throttling: try again, not before `retry_after` seconds when it said so."""

    def __init__(self, message: str, *, outcome: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.retry_after = retry_after


class _Transport(HTTPAdapter):
    """Sets a timeout and the CA on every request, and remembers the last answer for error translation."""

    def __init__(self, *, timeout: float, ca_bundle: str | None) -> None:
        super().__init__(max_retries=0)
        self._timeout = timeout
        self._ca_bundle = ca_bundle
        self.last: requests.Response | None = None

    def send(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | None = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        response = super().send(
            request,
            stream=stream,
            timeout=timeout or self._timeout,
            verify=self._ca_bundle or verify,
            cert=cert,
            proxies=proxies,
        )
        self.last = response
        return response


def read_password(settings: ServiceNowSettings) -> str:
    if settings.password is not None:
        return settings.password.get_secret_value()
    if settings.password_file is not None:
        try:
            return settings.password_file.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"servicenow.password_file: cannot read: {exc.strerror}") from exc
    return ""


def retry_after(value: str, *, now: datetime) -> float | None:
    """Seconds a Retry-After header asks for, in either form RFC 9110 allows: delay-seconds, or an HTTP-date
    (counted from `now`; a date already past asks for no wait). None when absent or unreadable: our own
    backoff applies then."""
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" and obsolete forms: RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _detail(exc: Exception) -> str:
    body = exc.args[0] if exc.args else ""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return ": ".join(str(p) for p in (error.get("message"), error.get("detail")) if p)
    return str(body)[:300]


def translate(exc: Exception, response: requests.Response | None, *, operation: str, now: datetime) -> MicdError:
    """pysnc and requests failures as micd kinds: 429, 5xx and network trouble are retryable, 4xx are not."""
    if isinstance(exc, requests.Timeout):
        return ServiceNowUnavailable(f"ServiceNow {operation}: no answer in time", outcome="timeout")
    if isinstance(exc, requests.RequestException):
        return ServiceNowUnavailable(
            f"ServiceNow {operation}: unreachable ({type(exc).__name__})", outcome="unreachable"
        )
    status = response.status_code if response is not None and response.status_code >= 400 else None
    what = f"ServiceNow {operation} answered {status}: {_detail(exc)}"
    if status == 429 and response is not None:
        wait = retry_after(response.headers.get("Retry-After", ""), now=now)
        return ServiceNowUnavailable(what, outcome="throttled", retry_after=wait)
    if status is None or status >= 500:
        return ServiceNowUnavailable(what if status else f"ServiceNow {operation}: {exc!r}"[:300], outcome="error")
    kinds: dict[int, type[MicdError]] = {401: Unauthenticated, 403: Forbidden, 404: NotFound}
    return kinds.get(status, InvalidInput)(what)


def outcome_of(error: MicdError) -> str:
    if isinstance(error, ServiceNowUnavailable):
        return error.outcome
    return {"unauthenticated": "denied", "forbidden": "denied", "not_found": "not_found"}.get(error.code, "rejected")


class Connection:
    def __init__(self, settings: ServiceNowSettings, *, metrics: Metrics, clock: Clock) -> None:
        if settings.instance is None:
            raise ConfigError("servicenow.instance is not set")
        self.settings = settings
        self._instance = settings.instance
        self._auth = (settings.username, read_password(settings))
        self._metrics = metrics
        self._clock = clock
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def _client(self) -> tuple[pysnc.ServiceNowClient, _Transport]:
        made: tuple[pysnc.ServiceNowClient, _Transport] | None = getattr(self._local, "client", None)
        if made is None:
            client = pysnc.ServiceNowClient(self._instance, self._auth, auto_retry=False)
            ca = str(self.settings.ca_bundle) if self.settings.ca_bundle else None
            transport = _Transport(timeout=self.settings.timeout, ca_bundle=ca)
            client.session.mount(self._instance, transport)
            made = (client, transport)
            self._local.client = made
            with self._lock:
                self._sessions.append(client.session)
        return made

    async def call(self, operation: str, work: Callable[[pysnc.ServiceNowClient], T]) -> T:
        """Run one pysnc operation in a worker thread, timed and counted by outcome."""
        return await asyncio.to_thread(self._run, operation, work)

    def _run(self, operation: str, work: Callable[[pysnc.ServiceNowClient], T]) -> T:
        client, transport = self._client()
        transport.last = None
        started = time.perf_counter()
        try:
            result = work(client)
        except MicdError as known:
            self._count(operation, outcome_of(known), started)
            raise
        except Exception as exc:
            error = translate(exc, transport.last, operation=operation, now=self._clock.now())
            self._count(operation, outcome_of(error), started)
            raise error from exc
        self._count(operation, "ok", started)
        return result

    def _count(self, operation: str, outcome: str, started: float) -> None:
        self._metrics.servicenow_requests.labels(operation, outcome).inc()
        self._metrics.servicenow_request_seconds.labels(operation).observe(time.perf_counter() - started)

    def close(self) -> None:
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()
