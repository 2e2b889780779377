"""The emulator's aiohttp application: Table API, Batch API, basic auth, request log, and the control API.

Control API (no auth, never faulted), for tests and demos acting as the commander or the network:
- POST /_emulator/incidents/{sys_id}/accept|reject|cancel  {"actor": "user_name", "reason": "..."}; the actor
  must be a sys_user (admin, jane.doe, john.smith, abel.tuter, the accounts, and any a test adds)
- GET|DELETE /_emulator/requests    the log of API requests (method, path, query, status, user, body)
- GET|POST|DELETE /_emulator/faults  inject `faults.Fault`s; kind=down stops listening for `seconds`
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from aiohttp import BasicAuth, web
from pydantic import ValidationError
from yarl import URL

from tools.servicenow_emulator.faults import Fault, FaultPlan, Handler, middleware
from tools.servicenow_emulator.rest import NOT_AUTHENTICATED, Account, Reply, TableApi, failure
from tools.servicenow_emulator.tables import DecisionError, UnknownUser

CONTROL = "/_emulator"


@dataclass
class State:
    api: TableApi
    accounts: dict[str, Account]
    faults: FaultPlan = field(default_factory=FaultPlan)
    requests: list[dict[str, Any]] = field(default_factory=list)


STATE = web.AppKey("state", State)
ACCOUNT = web.RequestKey("servicenow_emulator.account", Account)


def _reply(reply: Reply) -> web.Response:
    if reply.body is None:
        return web.Response(status=reply.status, headers=reply.headers)
    return web.json_response(reply.body, status=reply.status, headers=reply.headers)


async def _json(request: web.Request) -> Any:
    if not request.body_exists:
        return None
    try:
        return await request.json()
    except ValueError:
        return ...  # not JSON: the Table API answers 400


@web.middleware
async def log_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(CONTROL):
        return await handler(request)
    entry: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(),
        "method": request.method,
        "path": request.path,
        "query": dict(request.query),
        "user": None,
        "body": await _json(request),
    }
    response = await handler(request)
    entry["status"] = response.status
    account = request.get(ACCOUNT)
    entry["user"] = account.user_name if account else None
    request.app[STATE].requests.append(entry)
    return response


@web.middleware
async def basic_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(CONTROL):
        return await handler(request)
    header = request.headers.get("Authorization", "")
    accounts = request.app[STATE].accounts
    try:
        given = BasicAuth.decode(header) if header else None
    except ValueError:
        given = None
    account = accounts.get(given.login) if given else None
    if given is None or account is None or account.password != given.password:
        reply = failure(401, *NOT_AUTHENTICATED, headers={"WWW-Authenticate": 'BASIC realm="Service-now"'})
        return _reply(reply)
    request[ACCOUNT] = account
    return await handler(request)


async def table(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await _json(request)
    reply = state.api.dispatch(request.method, request.path, request.query, body, request[ACCOUNT])
    return _reply(reply)


async def batch(request: web.Request) -> web.Response:
    """Each sub-request runs through the Table API; bodies go base64 both ways; the id comes back a string."""
    state = request.app[STATE]
    data = await _json(request)
    if not isinstance(data, dict) or not isinstance(data.get("rest_requests"), list):
        return _reply(failure(400, "Exception while reading request", "rest_requests is required"))
    serviced = []
    for sub in data["rest_requests"]:
        url = URL(sub.get("url", "/"))
        try:
            raw = base64.b64decode(sub["body"]) if sub.get("body") else b""
            body = json.loads(raw) if raw else None
        except (binascii.Error, ValueError):
            body = ...
        reply = state.api.dispatch(sub.get("method", "GET"), url.path, dict(url.query), body, request[ACCOUNT])
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        headers = {"Content-Type": "application/json;charset=UTF-8", **reply.headers}
        serviced.append(
            {
                "id": sub.get("id"),
                "status_code": reply.status,
                "status_text": HTTPStatus(reply.status).phrase,
                "headers": [{"name": k, "value": v} for k, v in headers.items()],
                "body": base64.b64encode(payload).decode(),
                "execution_time": 1,
            }
        )
    answer = {
        "batch_request_id": str(data.get("batch_request_id", "")),
        "serviced_requests": serviced,
        "unserviced_requests": [],
    }
    return web.json_response(answer)


async def decide(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await _json(request)
    if not isinstance(body, dict) or not isinstance(body.get("actor"), str) or not body["actor"]:
        return _reply(failure(400, "actor is required", "a user_name acting as the commander"))
    store = state.api.store
    try:
        row = store.decide(
            request.match_info["sys_id"],
            action=request.match_info["action"],
            actor=body["actor"],
            reason=str(body.get("reason") or ""),
        )
    except LookupError:
        return _reply(failure(404, "No Record found", request.match_info["sys_id"]))
    except UnknownUser as exc:
        return _reply(failure(400, "actor is not a user", str(exc)))
    except DecisionError as exc:
        return _reply(failure(409, "Invalid transition", str(exc)))
    rendered = store.render("incident", row, mode="all", fields=None, links=False, base_url=state.api.base_url)
    return web.json_response({"result": rendered})


async def requests_log(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if request.method == "DELETE":
        state.requests.clear()
        return web.Response(status=204)
    return web.json_response({"requests": state.requests})


def faults_route(go_down: Callable[[float], None]) -> Handler:
    async def faults(request: web.Request) -> web.Response:
        plan = request.app[STATE].faults
        if request.method == "DELETE":
            plan.clear()
            return web.Response(status=204)
        if request.method == "POST":
            try:
                fault = Fault.model_validate(await _json(request))
            except ValidationError as exc:
                return _reply(failure(400, "Invalid fault", str(exc)))
            if fault.kind == "down":
                go_down(fault.seconds)
            else:
                plan.add(fault)
            return web.json_response({"fault": fault.model_dump(mode="json")}, status=201)
        return web.json_response({"faults": [f.model_dump(mode="json") for f in plan.faults]})

    return faults


def make_app(state: State, *, go_down: Callable[[float], None]) -> web.Application:
    app = web.Application(middlewares=[log_requests, middleware(state.faults), basic_auth])
    app[STATE] = state
    for prefix in ("/api/now/table", "/api/now/v1/table"):
        app.router.add_route("*", prefix + "/{table}", table)
        app.router.add_route("*", prefix + "/{table}/{sys_id}", table)
    app.router.add_post("/api/now/v1/batch", batch)
    app.router.add_post(CONTROL + "/incidents/{sys_id}/{action}", decide)
    app.router.add_route("*", CONTROL + "/requests", requests_log)
    app.router.add_route("*", CONTROL + "/faults", faults_route(go_down))
    return app
