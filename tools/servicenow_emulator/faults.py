"""Injected faults: 429 storms with Retry-After, 5xx answers, slow answers. Being down lives in the server.

A fault applies to the next `count` matching API requests (count -1: until cleared). Faults never touch the
control API, so a test can always clear them.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from datetime import UTC
from email.utils import format_datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Fault(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["throttle", "error", "slow", "down"]
    count: int = Field(1, ge=-1, description="matching requests affected; -1 until cleared")
    status: int = Field(503, ge=500, le=599, description="for kind=error")
    retry_after: float = Field(1.0, ge=0, description="seconds, for kind=throttle (sent rounded up, as an instance)")
    retry_at: AwareDatetime | None = Field(
        None, description="for kind=throttle: send Retry-After as this HTTP-date (RFC 9110's other form) instead"
    )
    delay: float = Field(1.0, ge=0, description="seconds, for kind=slow: the request is served, the answer waits")
    seconds: float = Field(5.0, gt=0, description="for kind=down: how long the emulator stops listening")
    methods: list[str] = Field(default_factory=list, description="only these HTTP methods; empty: all")
    path: str = Field("/api/", description="only paths starting with this")


class FaultPlan:
    def __init__(self) -> None:
        self.faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self.faults.append(fault)

    def clear(self) -> None:
        self.faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault matching this request, used up by one."""
        for fault in self.faults:
            if fault.methods and method not in fault.methods:
                continue
            if not path.startswith(fault.path):
                continue
            if fault.count > 0:
                fault.count -= 1
                if fault.count == 0:
                    self.faults.remove(fault)
            return fault
        return None


def _error_reply(fault: Fault) -> web.Response:
    if fault.kind == "throttle":
        body: dict[str, Any] = {
            "error": {
                "message": "User Exceeded rate limit",
                "detail": "Rate limit exceeded for the rate limit rule. Retry after the Retry-After interval.",
            },
            "status": "failure",
        }
        if fault.retry_at is not None:
            retry_after = format_datetime(fault.retry_at.astimezone(UTC), usegmt=True)
        else:
            retry_after = str(math.ceil(fault.retry_after))
        return web.json_response(body, status=429, headers={"Retry-After": retry_after})
    if fault.status == 500:
        body = {"error": {"message": "Internal server error", "detail": "Transaction failed"}, "status": "failure"}
        return web.json_response(body, status=500)
    # Load balancers in front of an instance answer 502/503/504 with HTML, not JSON.
    html = f"<html><body><h1>{fault.status} Service Unavailable</h1></body></html>"
    return web.Response(status=fault.status, text=html, content_type="text/html")


def middleware(plan: FaultPlan) -> Any:
    @web.middleware
    async def apply_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
        fault = plan.take(request.method, request.path)
        if fault is None:
            return await handler(request)
        if fault.kind == "slow":
            response = await handler(request)
            await asyncio.sleep(fault.delay)
            return response
        return _error_reply(fault)

    return apply_faults
