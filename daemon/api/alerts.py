"""Alert ingestion (Alertmanager webhook) and the alerts the daemon holds."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from daemon.alerts.models import Alert, AlertEvent, AlertStatus, Source
from daemon.api.auth import Permission
from daemon.api.routing import Handler, Routes, json_response, parse_query, principal, read_json_body
from daemon.ingest.alertmanager import parse_webhook
from daemon.ingest.service import IngestResult, IngestService
from daemon.kernel.errors import MicdError, NotFound
from daemon.kernel.pages import MAX_LIMIT, Page
from daemon.store.alerts import AlertStore
from daemon.telemetry.metrics import Metrics

INGEST: web.AppKey[IngestService] = web.AppKey("ingest", IngestService)
ALERTS: web.AppKey[AlertStore] = web.AppKey("alerts", AlertStore)
TENANT_LABEL: web.AppKey[str] = web.AppKey("tenant_label", str)
MAX_ALERTS: web.AppKey[int] = web.AppKey("max_alerts", int)

routes = Routes(tag="alerts")


class AlertQuery(BaseModel):
    tenant: str | None = None
    status: AlertStatus | None = None
    limit: int = Field(100, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


class AlertPage(Page[Alert]):
    pass


class WebhookAck(IngestResult):
    pass


WEBHOOK_PATH = "/api/v1/alerts/alertmanager"


def count_rejections(metrics: Metrics) -> Any:
    """A middleware outside authentication, so a sender refused for its token (401/403) is counted with those
    refused for their payload: a misconfigured Alertmanager shows up in micd_alerts_rejected_total."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except MicdError as exc:
            if request.path == WEBHOOK_PATH:
                metrics.alerts_rejected.labels(source=Source.ALERTMANAGER.value, reason=exc.code).inc()
            raise

    return middleware


@routes.post(
    WEBHOOK_PATH,
    summary="Alertmanager webhook receiver (payload version 4); stores durably before answering",
    permission=Permission.INGEST,
    response=WebhookAck,
)
async def alertmanager_webhook(request: web.Request) -> web.Response:
    raw = await read_json_body(request)
    alerts = parse_webhook(
        raw,
        tenant_label=request.app[TENANT_LABEL],
        bound_tenant=principal(request).bound_tenant,
        max_alerts=request.app[MAX_ALERTS],
    )
    result = await request.app[INGEST].ingest(alerts, source=Source.ALERTMANAGER)
    return json_response(WebhookAck(**result.model_dump()))


@routes.get(
    "/api/v1/alerts",
    summary="Alerts held, by tenant and status",
    permission=Permission.READ,
    query=AlertQuery,
    response=AlertPage,
)
async def list_alerts(request: web.Request) -> web.Response:
    q = parse_query(request, AlertQuery)
    who = principal(request)
    who.require(Permission.READ)
    page = await request.app[ALERTS].list(
        tenants=who.visible(q.tenant), status=q.status, limit=q.limit, cursor=q.cursor
    )
    return json_response(page)


class AlertDetail(BaseModel):
    alert: Alert
    events: list[AlertEvent]


@routes.get(
    "/api/v1/alerts/{tenant}/{fingerprint}",
    summary="One alert with its append-only firing/resolved history",
    permission=Permission.READ,
    response=AlertDetail,
)
async def get_alert(request: web.Request) -> web.Response:
    tenant, fp = request.match_info["tenant"], request.match_info["fingerprint"]
    principal(request).require(Permission.READ, tenant)
    store = request.app[ALERTS]
    alert = await store.get(tenant, fp)
    if alert is None:
        raise NotFound(f"no alert {fp} in tenant {tenant}")
    return json_response(AlertDetail(alert=alert, events=await store.history(tenant, fp)))
