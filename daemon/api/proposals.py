"""Major-incident proposals with their evidence: which rule fired, on which facts, and the probable cause.

Read-only here; accepting and rejecting are in api/decisions.py.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from daemon.api.auth import Permission
from daemon.api.routing import Routes, json_response, parse_query, principal
from daemon.kernel.errors import NotFound
from daemon.kernel.pages import MAX_LIMIT, Page
from daemon.proposals.models import Proposal, ProposalState
from daemon.store.proposals import ProposalStore

PROPOSALS: web.AppKey[ProposalStore] = web.AppKey("proposal_store", ProposalStore)

routes = Routes(tag="proposals")


class ProposalQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str | None = None
    state: ProposalState | None = None
    limit: int = Field(100, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


class ProposalPage(Page[Proposal]):
    pass


@routes.get(
    "/api/v1/proposals",
    summary="Proposals, newest first, live and shadow",
    permission=Permission.READ,
    query=ProposalQuery,
    response=ProposalPage,
)
async def list_proposals(request: web.Request) -> web.Response:
    q = parse_query(request, ProposalQuery)
    who = principal(request)
    who.require(Permission.READ)
    page = await request.app[PROPOSALS].list(
        tenants=who.visible(q.tenant), state=q.state, limit=q.limit, cursor=q.cursor
    )
    return json_response(page)


@routes.get(
    "/api/v1/proposals/{proposal_id}",
    summary="One proposal with its evidence, matched conditions and probable cause",
    permission=Permission.READ,
    response=Proposal,
)
async def get_proposal(request: web.Request) -> web.Response:
    who = principal(request)
    who.require(Permission.READ)
    proposal = await request.app[PROPOSALS].get(request.match_info["proposal_id"])
    if not who.can_see(proposal.tenant):
        raise NotFound(f"proposal {proposal.id} not found")
    return json_response(proposal)
