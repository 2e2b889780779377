"""Command-phase policy: update cadence, review window, repeat detection."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from daemon.config.tenants import Cadence


class CommandSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    cadence_minutes: Cadence = Field(
        default_factory=lambda: {"1": 30, "2": 60, "3": 120, "4": 240, "5": 480},
        description="status-update interval by incident priority (1 = highest)",
    )
    review_business_days: int = Field(5, ge=1, description="post-incident review due within this many business days")
    repeat_window_days: int = Field(30, ge=1, description="a new incident on the same services within this is a repeat")
    tick_seconds: float = Field(30.0, gt=0, description="how often the cadence ticker looks for overdue updates")
