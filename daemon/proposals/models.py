"""The proposal record shared by correlation (which makes it), ServiceNow (which delivers it) and command."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ProposalState(StrEnum):
    """Mirrors ServiceNow's major_incident_state."""

    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CANCELED = "canceled"


class ServiceEvidence(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    tier: int | None = None
    customer_facing: bool = False
    regulated: list[str] = Field(default_factory=list)
    cmdb_ci: str | None = None
    business_service: str | None = None
    alerts: int = 0


class AlertRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    fingerprint: str
    alertname: str
    service: str | None
    match: str = Field(description="how the service was found: label=value, exact, alias or fuzzy(score)")
    severity: str = ""
    starts_at: datetime


class Evidence(BaseModel):
    """Why micd proposes: which rule fired on which facts. Grows as the outage grows."""

    model_config = ConfigDict(frozen=True)

    services: list[ServiceEvidence] = Field(default_factory=list)
    alerts: list[AlertRef] = Field(default_factory=list)
    facts: dict[str, Any] = Field(default_factory=dict, description="the outage facts the rule was evaluated on")
    matched_conditions: list[str] = Field(default_factory=list)
    probable_cause: str | None = None
    probable_cause_reasoning: str = ""


class Proposal(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    tenant: str
    outage_id: str
    rule: str
    mode: Literal["live", "shadow"] = "live"
    state: ProposalState = ProposalState.PROPOSED
    impact: int = Field(ge=1, le=3)
    urgency: int = Field(ge=1, le=3)
    title: str
    business_impact: str
    description: str = ""
    evidence: Evidence
    evidence_version: int = 1
    commander: str = ""
    first_alert_at: datetime
    created_at: datetime
    updated_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None
    decision_reason: str | None = None
    external_id: str | None = Field(None, description="ServiceNow sys_id once delivered")
    external_number: str | None = Field(None, description="ServiceNow INC number once delivered")
