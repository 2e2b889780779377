"""Request ids, authentication and the single place where errors become HTTP answers."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import orjson
from aiohttp import web

from daemon.api.auth import Authenticator
from daemon.api.routing import BodyTooLarge, Handler, UnsupportedMediaType, set_principal
from daemon.ingest.alertmanager import InvalidJson
from daemon.kernel.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    MicdError,
    NotFound,
    Unauthenticated,
    Unavailable,
)
from daemon.telemetry.logs import request_id_var

log = logging.getLogger("micd.api")

_STATUS: list[tuple[type[MicdError], int]] = [
    (InvalidJson, 400),
    (UnsupportedMediaType, 415),
    (BodyTooLarge, 413),
    (InvalidInput, 422),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (Unavailable, 503),
]

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/api/v1/openapi.json"})


def status_of(exc: MicdError) -> int:
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def error_response(exc: MicdError) -> web.Response:
    body: dict[str, Any] = {"error": {"code": exc.code, "message": exc.message}}
    if exc.problems:
        body["error"]["problems"] = [{"field": p.field, "reason": p.reason} for p in exc.problems]
    status = status_of(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json", headers=headers)


def build_middlewares(auth: Authenticator, *inner: Any) -> list[Any]:
    """Error mapping outermost, then `inner` (which see every refusal, authentication's too), then auth."""

    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        rid = request.headers.get("X-Request-Id") or uuid.uuid4().hex[:16]
        token = request_id_var.set(rid)
        try:
            response = await handler(request)
        except MicdError as exc:
            response = error_response(exc)
            # A refused request is evidence too (a misconfigured sender, a wrong token); the body is never logged.
            log.info(
                "request refused",
                extra={"status": response.status, "method": request.method, "path": request.path, "code": exc.code},
            )
        except web.HTTPRequestEntityTooLarge as exc:
            response = error_response(BodyTooLarge(exc.text or "body too large"))
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            response = error_response(_http_error(exc))
            response.set_status(exc.status)
        except Exception:
            log.exception("unhandled error", extra={"path": request.path})
            response = web.Response(
                body=orjson.dumps({"error": {"code": "internal", "message": "internal error", "request_id": rid}}),
                status=500,
                content_type="application/json",
            )
        finally:
            request_id_var.reset(token)
        response.headers["X-Request-Id"] = rid
        return response

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path not in OPEN_PATHS:
            set_principal(request, auth.authenticate(request.headers.get("Authorization")))
        return await handler(request)

    return [errors, *inner, authenticate]


def _http_error(exc: web.HTTPException) -> MicdError:
    if exc.status == 404:
        return NotFound(f"no such endpoint: {exc.reason}")
    if exc.status == 405:
        return MicdError(f"method not allowed: {exc.reason}")
    return MicdError(exc.reason)
