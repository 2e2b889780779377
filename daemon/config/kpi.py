"""KPI targets for the rollout review: what `micd kpi report` judges each tenant's movement against."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class KpiSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    mttr_reduction_min: float = Field(0.20, ge=0, lt=1, description="MTTR target: at least this much below baseline")
    mttr_reduction_max: float = Field(0.40, ge=0, lt=1, description="upper end of the expected MTTR reduction range")
    compliance_gain: float = Field(
        0.10, ge=0, le=1, description="compliance target: this much over baseline (0.10 = +10 points)..."
    )
    compliance_floor: float = Field(0.95, gt=0, le=1, description="...or at least this share of updates on time")
    repeat_reduction_min: float = Field(0.25, ge=0, le=1, description="repeat-rate target: at least this much lower")
    precision_min: float = Field(0.80, ge=0, le=1, description="proposal precision target: accepted / decided")

    @model_validator(mode="after")
    def _range(self) -> KpiSettings:
        if self.mttr_reduction_max < self.mttr_reduction_min:
            raise ValueError("mttr_reduction_max must be at least mttr_reduction_min")
        return self
