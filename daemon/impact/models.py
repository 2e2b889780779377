"""The impact-rule schema (`kind: impact` files) and what evaluating it yields."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["live", "shadow"]


class Conditions(BaseModel):
    """All given conditions must hold; an omitted one does not constrain."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_services: int | None = Field(None, ge=1, description="at least this many distinct services alerting")
    max_tier: int | None = Field(None, ge=1, le=4, description="the most critical service's tier is at most this")
    customer_facing: bool | None = Field(None, description="some service is (true) or none is (false) customer facing")
    regulated: list[str] | None = Field(None, description="some service carries one of these regulated tags")
    severity: list[str] | None = Field(None, description="some alert has one of these severities")
    sustained_minutes: float | None = Field(None, gt=0, description="the outage has lasted at least this long")
    tenants: list[str] | None = Field(None, description="only for these tenants")
    business_hours: bool | None = Field(None, description="only inside (true) or outside (false) business hours")


class Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    description: str = ""
    mode: Mode | None = Field(None, description="live sends proposals out; shadow records them only")
    when: Conditions = Conditions()
    impact: int = Field(ge=1, le=3)
    urgency: int = Field(ge=1, le=3)
    title: str = Field(
        "{{ tenant }}: {{ probable_cause or services[0] }} outage affecting {{ service_count }} service(s)",
        description="Jinja template",
    )
    business_impact: str = Field(description="Jinja template over the outage facts")


class ImpactFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["impact"]
    mode: Mode = "live"
    cooldown_minutes: float = Field(60.0, ge=0, description="after a rejection, hold back unless impact escalates")
    rules: list[Rule]


class Calendar(BaseModel):
    """A tenant's working week, from its settings; business hours are local to its timezone."""

    model_config = ConfigDict(frozen=True)

    timezone: str = "UTC"
    hours: tuple[int, int] = (8, 18)
    holidays: list[date] = Field(default_factory=list)


class Facts(BaseModel):
    """What rules are evaluated on; also the template context and, verbatim, the proposal's evidence."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    services: list[str]
    service_count: int
    highest_tier: int | None
    customer_facing: bool
    customer_facing_services: list[str]
    regulated: list[str]
    severities: list[str]
    alert_count: int
    firing_count: int
    started_at: datetime
    duration_minutes: float
    business_hours: bool
    probable_cause: str | None
    probable_cause_reasoning: str


class Verdict(BaseModel):
    """The rule that fired (the most severe of those matching) and why."""

    model_config = ConfigDict(frozen=True)

    rule: str
    mode: Mode
    impact: int
    urgency: int
    title: str
    business_impact: str
    matched_conditions: list[str]
    facts: dict[str, Any]
