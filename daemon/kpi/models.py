"""Plain records the KPIs are computed from, and the computed values a baseline snapshot keeps.

The store turns rows into these records; everything after that is pure, so every number in a report can be
recomputed by hand from a list of facts. A value is None when there was nothing to measure: never 0, never NaN.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class IncidentFact(BaseModel):
    """A declared major incident: MTTR counts it when resolved, repeat rate when declared."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    incident_id: str
    declared_at: datetime
    resolved_at: datetime | None = None
    repeat: bool = Field(False, description="linked to a predecessor on the same services or cause")


class UpdateFact(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant: str
    at: datetime
    on_time: bool


class DecisionFact(BaseModel):
    """A commander's decision on a proposal; `state` is accepted, rejected or canceled."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    at: datetime
    state: str


class Records(BaseModel):
    model_config = ConfigDict(frozen=True)

    incidents: tuple[IncidentFact, ...] = ()
    updates: tuple[UpdateFact, ...] = ()
    decisions: tuple[DecisionFact, ...] = ()

    def tenants(self) -> set[str]:
        return (
            {i.tenant for i in self.incidents} | {u.tenant for u in self.updates} | {d.tenant for d in self.decisions}
        )


class Ratio(BaseModel):
    """hits out of total; `value` is None when total is 0."""

    model_config = ConfigDict(frozen=True)

    hits: int = Field(0, ge=0)
    total: int = Field(0, ge=0)

    @property
    def value(self) -> float | None:
        return self.hits / self.total if self.total else None


class TenantKpis(BaseModel):
    """One tenant's KPIs over one window."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    resolved: int = Field(0, ge=0, description="major incidents resolved in the window (the MTTR sample)")
    mttr_p50: float | None = Field(None, description="seconds, declared to resolved")
    mttr_p90: float | None = None
    compliance: Ratio = Ratio()
    repeats: Ratio = Field(Ratio(), description="repeat incidents among those declared")
    precision: Ratio = Field(Ratio(), description="accepted among accepted + rejected proposals")


class Snapshot(BaseModel):
    """KPIs of every tenant over [start, end): what `micd kpi baseline` stores."""

    model_config = ConfigDict(frozen=True)

    id: int = 0
    label: str = ""
    taken_at: datetime
    start: datetime
    end: datetime
    tenants: dict[str, TenantKpis]
