"""Route tables that also describe themselves, so the OpenAPI document cannot drift from the code.

Each domain declares a `Routes` table; handlers stay plain aiohttp handlers and call `parse_body`,
`parse_query` and `principal(...).require(...)` themselves, which keeps them readable and typed. The table also
refuses a caller holding none of a route's permissions before its handler runs, so a body is never read (nor
its validation errors shown) for someone who may not send it at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from daemon.api.auth import Permission, Principal
from daemon.ingest.alertmanager import InvalidJson, invalid_from
from daemon.kernel.errors import InvalidInput

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
M = TypeVar("M", bound=BaseModel)

_PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal", Principal)


class UnsupportedMediaType(InvalidInput):
    code = "unsupported_media_type"


class BodyTooLarge(InvalidInput):
    code = "body_too_large"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    permission: Permission | None
    # Other permissions that may also reach the handler, which then decides by the body (approve vs. act).
    alternatives: frozenset[Permission] = frozenset()
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    raw_response: str | None = None  # content type of a non-JSON answer


@dataclass
class Routes:
    tag: str
    endpoints: list[Endpoint] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        permission: Permission | None,
        alternatives: frozenset[Permission] = frozenset(),
        query: type[BaseModel] | None = None,
        body: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        raw_response: str | None = None,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.endpoints.append(
                Endpoint(
                    method,
                    path,
                    handler,
                    summary,
                    self.tag,
                    permission,
                    alternatives,
                    query,
                    body,
                    response,
                    status,
                    raw_response,
                )
            )
            return handler

        return register

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **kw)

    def install(self, app: web.Application) -> None:
        for e in self.endpoints:
            app.router.add_route(e.method, e.path, _gated(e))


def _gated(e: Endpoint) -> Handler:
    if e.permission is None:
        return e.handler
    first = e.permission
    enough = e.alternatives | {first}
    inner = e.handler

    async def handler(request: web.Request) -> web.StreamResponse:
        who = principal(request)
        if not enough & who.permissions:
            who.require(first)
        return await inner(request)

    return handler


def principal(request: web.Request) -> Principal:
    """Set by the auth middleware for every request that reaches a handler."""
    return request[_PRINCIPAL]


def set_principal(request: web.Request, who: Principal) -> None:
    request[_PRINCIPAL] = who


async def read_json_body(request: web.Request) -> bytes:
    ctype = request.content_type
    if ctype != "application/json":
        raise UnsupportedMediaType(f"Content-Type must be application/json, not {ctype or 'empty'}")
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise BodyTooLarge(f"body is larger than {request.app._client_max_size} bytes") from exc


async def parse_body(request: web.Request, model: type[M]) -> M:
    raw = await read_json_body(request)
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise InvalidJson(f"malformed JSON: {exc.errors()[0]['msg']}") from exc
        raise invalid_from(exc) from exc


def parse_query(request: web.Request, model: type[M]) -> M:
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise invalid_from(exc) from exc


def json_response(value: BaseModel | dict[str, Any] | list[Any], *, status: int = 200) -> web.Response:
    body = value.model_dump_json().encode() if isinstance(value, BaseModel) else orjson.dumps(value)
    return web.Response(body=body, status=status, content_type="application/json")
