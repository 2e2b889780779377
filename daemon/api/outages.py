"""Outages and the alerts that named no catalogued service (candidates for a catalogue alias)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from daemon.api.auth import Permission
from daemon.api.routing import Routes, json_response, parse_query, principal
from daemon.correlation.models import Outage, OutageAlert, OutageState
from daemon.kernel.pages import MAX_LIMIT, Page
from daemon.store.outages import OutageDetail, OutageStore

OUTAGES: web.AppKey[OutageStore] = web.AppKey("outage_store", OutageStore)

routes = Routes(tag="outages")


class OutageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str | None = None
    state: OutageState | None = None
    limit: int = Field(100, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


class UnmatchedQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str | None = None
    limit: int = Field(100, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


class OutagePage(Page[Outage]):
    pass


class UnmatchedPage(Page[OutageAlert]):
    pass


@routes.get(
    "/api/v1/outages",
    summary="Outages, newest first; merged ones say where their alerts went (merged_into)",
    permission=Permission.READ,
    query=OutageQuery,
    response=OutagePage,
)
async def list_outages(request: web.Request) -> web.Response:
    q = parse_query(request, OutageQuery)
    who = principal(request)
    who.require(Permission.READ)
    page = await request.app[OUTAGES].list(tenants=who.visible(q.tenant), state=q.state, limit=q.limit, cursor=q.cursor)
    return json_response(page)


@routes.get(
    "/api/v1/outages/{outage_id}",
    summary="One outage with its alerts, each with how its service was matched",
    permission=Permission.READ,
    response=OutageDetail,
)
async def get_outage(request: web.Request) -> web.Response:
    who = principal(request)
    who.require(Permission.READ)
    detail = await request.app[OUTAGES].get(request.match_info["outage_id"], tenants=who.visible(None))
    return json_response(detail)


@routes.get(
    "/api/v1/alerts/unmatched",
    summary="Firing alerts whose labels named no catalogued service (counted in micd_alerts_unmatched_total)",
    permission=Permission.READ,
    query=UnmatchedQuery,
    response=UnmatchedPage,
)
async def list_unmatched(request: web.Request) -> web.Response:
    q = parse_query(request, UnmatchedQuery)
    who = principal(request)
    who.require(Permission.READ)
    page = await request.app[OUTAGES].unmatched(tenants=who.visible(q.tenant), limit=q.limit, cursor=q.cursor)
    return json_response(page)
