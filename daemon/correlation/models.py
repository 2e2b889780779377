"""Outages and their alert episodes as the correlator reports them (and the store keeps them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class OutageState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    MERGED = "merged"


@dataclass(frozen=True, slots=True, kw_only=True)
class OutageAlert:
    """One alert episode (fingerprint + start) and the outage it belongs to; None while it stands alone unmatched.

    A plain slotted dataclass, not a BaseModel: the correlator holds one per active alert, and a model's
    per-instance __dict__ and fields-set cost about 1.3 KB each (the memory goal is 1 KiB per alert in all). The
    core builds it from validated alerts, so it skips validation; the store and API go through OUTAGE_ALERT."""

    tenant: str
    fingerprint: str
    starts_at: datetime
    outage_id: str | None
    alertname: str
    severity: str = ""
    service: str | None = None
    match: Annotated[str, Field(description='how the service was found, e.g. service="payment-api" -> payments')] = ""
    score: float | None = None
    topology: dict[str, str] = field(default_factory=dict)
    firing: bool = True
    received_at: datetime
    resolved_at: datetime | None = None


OUTAGE_ALERT = TypeAdapter(OutageAlert)


class Outage(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    tenant: str
    state: OutageState = OutageState.OPEN
    started_at: datetime = Field(description="earliest start of its alerts")
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    quiet_since: datetime | None = Field(None, description="when its last firing alert resolved")
    services: list[str] = Field(default_factory=list)
    alert_count: int = 0
    firing_count: int = 0
    probable_cause: str | None = None
    probable_cause_reasoning: str = ""
    previous_outage: str | None = Field(None, description="the closed outage this one recurs")
    merged_into: str | None = None
    platform_outages: list[str] = Field(default_factory=list, description="the platform's own outages it rides on")
    linked_incident: str | None = Field(None, description="the major incident this outage is handled in")
    incident_open: bool = False
    proposal_id: str | None = None
