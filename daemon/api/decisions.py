"""A commander accepts or rejects a proposal from micd; the decision is written back to ServiceNow."""

from __future__ import annotations

from typing import Protocol

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from daemon.api.auth import ANONYMOUS, Permission
from daemon.api.routing import Routes, json_response, parse_body, principal
from daemon.kernel.errors import NotFound
from daemon.proposals.models import Proposal, ProposalState
from daemon.store.proposals import ProposalStore


class Decider(Protocol):
    """Implemented by runtime.decisions.DecisionService; declared here, where it is used."""

    async def decide(
        self,
        *,
        proposal_id: str,
        decision: ProposalState,
        actor: str,
        reason: str | None = None,
        commander: str | None = None,
        tenant: str | None = None,
    ) -> Proposal: ...


DECIDER: web.AppKey[Decider] = web.AppKey("proposal_decider")
PROPOSAL_STORE: web.AppKey[ProposalStore] = web.AppKey("proposal_store", ProposalStore)

routes = Routes(tag="proposals")


class AcceptBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=4000, description="why, for the record")
    commander: str | None = Field(
        None, min_length=1, max_length=200, description="who commands the incident; the caller by default"
    )


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=4000, description="why this is not a major incident")
    commander: str | None = Field(
        None, min_length=1, max_length=200, description="who decided, when auth is off; else the token's name is"
    )


async def _decide(request: web.Request, decision: ProposalState, *, reason: str, commander: str | None) -> Proposal:
    who = principal(request)
    who.require(Permission.ACT)
    proposal_id = request.match_info["proposal_id"]
    proposal = await request.app[PROPOSAL_STORE].get(proposal_id)
    if not who.can_see(proposal.tenant):
        raise NotFound(f"proposal {proposal_id} not found")
    # The record keeps who decided (the token's name); only without auth, where everyone is anonymous, does
    # the named commander stand in for the decider too.
    actor = commander if commander and who == ANONYMOUS else who.name
    return await request.app[DECIDER].decide(
        proposal_id=proposal_id,
        decision=decision,
        actor=actor,
        reason=reason or None,
        commander=commander or actor,
        tenant=proposal.tenant,
    )


@routes.post(
    "/api/v1/proposals/{proposal_id}/accept",
    summary="Accept a proposal: declares the major incident; 409 if it was decided already",
    permission=Permission.ACT,
    body=AcceptBody,
    response=Proposal,
)
async def accept(request: web.Request) -> web.Response:
    body = await parse_body(request, AcceptBody)
    proposal = await _decide(request, ProposalState.ACCEPTED, reason=body.reason, commander=body.commander)
    return json_response(proposal)


@routes.post(
    "/api/v1/proposals/{proposal_id}/reject",
    summary="Reject a proposal with a reason; 409 if it was decided already",
    permission=Permission.ACT,
    body=RejectBody,
    response=Proposal,
)
async def reject(request: web.Request) -> web.Response:
    body = await parse_body(request, RejectBody)
    proposal = await _decide(request, ProposalState.REJECTED, reason=body.reason, commander=body.commander)
    return json_response(proposal)
