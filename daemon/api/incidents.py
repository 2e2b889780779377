"""Major incidents over HTTP: viewers read, commanders act, approvers approve.

The actor of every command is the caller's token name, never a field of the body, so the decision log and
the four-eyes checks (approver differs from author) rest on who actually called.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from daemon.api.auth import Permission
from daemon.api.routing import Routes, json_response, parse_body, parse_query, principal
from daemon.command.cadence import StatusUpdate, UpdateSpec
from daemon.command.decisions import Decision, DecisionSpec
from daemon.command.lanes import Handover
from daemon.command.lifecycle import TransitionRequest
from daemon.command.mitigation import Action, ActionSpec, ActionStep
from daemon.command.models import Incident, IncidentState, Lane, TimelineEntry
from daemon.command.review import Review, ReviewAction, ReviewActionSpec
from daemon.kernel.errors import InvalidInput, NotFound
from daemon.kernel.pages import MAX_LIMIT, Page
from daemon.runtime.command import ClosureInput, CommandService, IncidentReader, IncidentView, ReviewEdit
from daemon.store.incidents import IncidentStore

COMMAND: web.AppKey[CommandService] = web.AppKey("command_service", CommandService)
READER: web.AppKey[IncidentReader] = web.AppKey("incident_reader", IncidentReader)
INCIDENTS: web.AppKey[IncidentStore] = web.AppKey("incident_store", IncidentStore)

routes = Routes(tag="incidents")
BASE = "/api/v1/incidents/{incident_id}"


class IncidentQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str | None = None
    state: IncidentState | None = None
    limit: int = Field(100, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


class IncidentPage(Page[Incident]):
    pass


class LaneBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lane: Lane
    owner: str = Field(min_length=1, max_length=200)
    note: str = Field("", max_length=2000)


class NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lane: Lane
    text: str = Field(min_length=1, max_length=8000)
    links: list[str] = Field(default_factory=list)


class CloseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=4000)


async def _authorize(request: web.Request, permission: Permission) -> tuple[str, str]:
    """The incident id and the caller's name; an incident of a tenant the caller cannot see does not exist."""
    incident_id = request.match_info["incident_id"]
    who = principal(request)
    tenant = await request.app[READER].tenant_of(incident_id)
    if not who.can_see(tenant):
        raise NotFound(f"incident {incident_id} not found")
    who.require(permission, tenant)
    return incident_id, who.name


@routes.get(
    "/api/v1/incidents",
    summary="Major incidents, newest first, by tenant and state",
    permission=Permission.READ,
    query=IncidentQuery,
    response=IncidentPage,
)
async def list_incidents(request: web.Request) -> web.Response:
    q = parse_query(request, IncidentQuery)
    who = principal(request)
    who.require(Permission.READ)
    page = await request.app[INCIDENTS].list(
        tenants=who.visible(q.tenant), state=q.state.value if q.state else None, limit=q.limit, cursor=q.cursor
    )
    return json_response(IncidentPage(items=page.items, total=page.total, next=page.next))


@routes.get(
    BASE,
    summary="One incident: lanes, timeline, decision log, updates, mitigation queue, review and open gates",
    permission=Permission.READ,
    response=IncidentView,
)
async def show_incident(request: web.Request) -> web.Response:
    incident_id, _ = await _authorize(request, Permission.READ)
    return json_response(await request.app[READER].view(incident_id=incident_id))


@routes.post(
    BASE + "/transitions",
    summary="Move the lifecycle (mitigate, monitor, resolve, review, close, cancel, reject); 409 lists missing gates",
    permission=Permission.ACT,
    body=TransitionRequest,
    response=Incident,
)
async def transition(request: web.Request) -> web.Response:
    incident_id, actor = await _authorize(request, Permission.ACT)
    body = await parse_body(request, TransitionRequest)
    return json_response(await request.app[COMMAND].transition(incident_id=incident_id, request=body, actor=actor))


@routes.post(
    BASE + "/lanes",
    summary="Assign or hand over a role lane",
    permission=Permission.ACT,
    body=LaneBody,
    response=Handover,
)
async def assign_lane(request: web.Request) -> web.Response:
    incident_id, actor = await _authorize(request, Permission.ACT)
    body = await parse_body(request, LaneBody)
    handover = await request.app[COMMAND].assign_lane(
        incident_id=incident_id, lane=body.lane, owner=body.owner, note=body.note, actor=actor
    )
    return json_response(handover)


@routes.post(
    BASE + "/notes",
    summary="Add a note to a lane of the timeline",
    permission=Permission.ACT,
    body=NoteBody,
    response=TimelineEntry,
    status=201,
)
async def add_note(request: web.Request) -> web.Response:
    incident_id, actor = await _authorize(request, Permission.ACT)
    body = await parse_body(request, NoteBody)
    entry = await request.app[COMMAND].add_note(
        incident_id=incident_id, lane=body.lane, text=body.text, links=body.links, actor=actor
    )
    return json_response(entry, status=201)


@routes.post(
    BASE + "/decisions",
    summary="Append to the decision log; a correction names the entry it corrects",
    permission=Permission.ACT,
    body=DecisionSpec,
    response=Decision,
    status=201,
)
async def decide(request: web.Request) -> web.Response:
    incident_id, actor = await _authorize(request, Permission.ACT)
    body = await parse_body(request, DecisionSpec)
    return json_response(await request.app[COMMAND].decide(incident_id=incident_id, spec=body, actor=actor), status=201)


@routes.post(
    BASE + "/closure",
    summary="Record closure evidence: validation, customer confirmation, residual risk",
    permission=Permission.ACT,
    body=ClosureInput,
    response=Incident,
)
async def closure(request: web.Request) -> web.Response:
    incident_id, actor = await _authorize(request, Permission.ACT)
    body = await parse_body(request, ClosureInput)
    return json_response(await request.app[COMMAND].record_closure(incident_id=incident_id, evidence=body, actor=actor))


@routes.post(
    BASE + "/updates",
    summary="Publish a status update; its customer part waits for an approver",
    permission=Permission.ACT,
    body=UpdateSpec,
    response=StatusUpdate,
    status=201,
)
async def publish_update(request: web.Request) -> web.Response:
    incident_id, actor = await _authorize(request, Permission.ACT)
    body = await parse_body(request, UpdateSpec)
    update = await request.app[COMMAND].publish_update(incident_id=incident_id, spec=body, actor=actor)
    return json_response(update, status=201)


@routes.post(
    BASE + "/updates/{update_id}/approve",
    summary="Approve and send the customer part of an update",
    permission=Permission.APPROVE,
    response=StatusUpdate,
)
async def approve_update(request: web.Request) -> web.Response:
    incident_id, actor = await _authorize(request, Permission.APPROVE)
    raw = request.match_info["update_id"]
    if not raw.isdigit():
        raise InvalidInput.field("update_id", "must be a number")
    update = await request.app[COMMAND].approve_update(incident_id=incident_id, update_id=int(raw), approver=actor)
    return json_response(update)


@routes.post(
    BASE + "/actions",
    summary="Queue a mitigation action (dependencies, pre-check, risk, rollback plan); runbook and knowledge "
    "links of the services it names (else the incident's) are attached from the catalogue",
    permission=Permission.ACT,
    body=ActionSpec,
    response=Action,
    status=201,
)
async def add_action(request: web.Request) -> web.Response:
    incident_id, actor = await _authorize(request, Permission.ACT)
    body = await parse_body(request, ActionSpec)
    return json_response(
        await request.app[COMMAND].add_action(incident_id=incident_id, spec=body, actor=actor), status=201
    )


@routes.post(
    BASE + "/actions/{action_id}",
    summary="Step a mitigation action: precheck, start, succeed, fail, rollback, cancel, relink (act); "
    "approve (approve)",
    permission=Permission.ACT,
    alternatives=frozenset({Permission.APPROVE}),
    body=ActionStep,
    response=Action,
)
async def action_step(request: web.Request) -> web.Response:
    body = await parse_body(request, ActionStep)
    incident_id, actor = await _authorize(request, Permission.APPROVE if body.step == "approve" else Permission.ACT)
    action = await request.app[COMMAND].action_step(
        incident_id=incident_id, action_id=request.match_info["action_id"], step=body, actor=actor
    )
    return json_response(action)


@routes.post(
    BASE + "/review",
    summary="Edit the post-incident review: facilitator and template sections",
    permission=Permission.ACT,
    body=ReviewEdit,
    response=Review,
)
async def edit_review(request: web.Request) -> web.Response:
    incident_id, actor = await _authorize(request, Permission.ACT)
    body = await parse_body(request, ReviewEdit)
    return json_response(await request.app[COMMAND].edit_review(incident_id=incident_id, edit=body, actor=actor))


@routes.post(
    BASE + "/review/actions",
    summary="Add a review action item with an owner and a due date",
    permission=Permission.ACT,
    body=ReviewActionSpec,
    response=ReviewAction,
    status=201,
)
async def add_review_action(request: web.Request) -> web.Response:
    incident_id, actor = await _authorize(request, Permission.ACT)
    body = await parse_body(request, ReviewActionSpec)
    item = await request.app[COMMAND].add_review_action(incident_id=incident_id, spec=body, actor=actor)
    return json_response(item, status=201)


@routes.post(
    BASE + "/review/actions/{action_id}/close",
    summary="Close a review action item",
    permission=Permission.ACT,
    body=CloseBody,
    response=ReviewAction,
)
async def close_review_action(request: web.Request) -> web.Response:
    incident_id, actor = await _authorize(request, Permission.ACT)
    body = await parse_body(request, CloseBody)
    item = await request.app[COMMAND].close_review_action(
        incident_id=incident_id, action_id=request.match_info["action_id"], note=body.note, actor=actor
    )
    return json_response(item)


@routes.get(
    BASE + "/review.md",
    summary="The post-incident review as Markdown",
    permission=Permission.READ,
    raw_response="text/markdown",
)
async def review_markdown(request: web.Request) -> web.Response:
    incident_id, _ = await _authorize(request, Permission.READ)
    text = await request.app[READER].review_markdown(incident_id=incident_id)
    return web.Response(text=text, content_type="text/markdown")
