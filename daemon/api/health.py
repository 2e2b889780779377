"""Liveness, readiness, metrics and the API description."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from daemon.api.routing import Routes, json_response
from daemon.telemetry.metrics import Metrics


@dataclass(frozen=True)
class Check:
    """One readiness condition; `probe` returns (ready, detail)."""

    name: str
    probe: Callable[[], tuple[bool, str] | Awaitable[tuple[bool, str]]]
    critical: bool = True
    """A non-critical check is reported but does not fail readiness: the webhook path works without Kafka."""


CHECKS: web.AppKey[list[Check]] = web.AppKey("checks", list)
METRICS: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)
OPENAPI: web.AppKey[dict[str, object]] = web.AppKey("openapi", dict)

routes = Routes(tag="health")


@routes.get("/healthz", summary="The process is alive", permission=None)
async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


@routes.get("/readyz", summary="Ready to serve: store open, rules loaded, adapters connected", permission=None)
async def readyz(request: web.Request) -> web.Response:
    results: dict[str, tuple[bool, str]] = {}
    for check in request.app[CHECKS]:
        found = check.probe()
        results[check.name] = await found if inspect.isawaitable(found) else found
    critical = {c.name for c in request.app[CHECKS] if c.critical}
    ready = all(ok for name, (ok, _) in results.items() if name in critical)
    body = {
        "status": "ready" if ready else "not ready",
        "checks": {name: {"ok": ok, "detail": detail} for name, (ok, detail) in results.items()},
    }
    return json_response(body, status=200 if ready else 503)


@routes.get("/metrics", summary="Prometheus metrics", permission=None, raw_response="text/plain")
async def metrics(request: web.Request) -> web.Response:
    body = await request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


@routes.get("/api/v1/openapi.json", summary="This API's OpenAPI 3.1 document", permission=None)
async def openapi(request: web.Request) -> web.Response:
    return json_response(request.app[OPENAPI])
