"""How alerts are matched to services and grouped into outages."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CorrelationSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    service_labels: list[str] = Field(
        default_factory=lambda: ["service", "app", "app_kubernetes_io_name", "job", "namespace"],
        description="labels tried in order to name an alert's service",
    )
    fuzzy_min_score: float = Field(88.0, ge=0, le=100, description="rapidfuzz score below which no match is made")
    window_seconds: float = Field(600.0, gt=0, description="how far apart alert starts may be to join one outage")
    max_hops: int = Field(2, ge=0, description="dependency hops that still connect two alerting services")
    topology_labels: list[str] = Field(
        default_factory=lambda: ["node", "cluster", "datacenter", "region"],  # the most specific first
        description="labels whose shared value attaches an alert naming no service (node, cluster) to an outage",
    )
    close_grace_seconds: float = Field(
        300.0, ge=0, description="an outage closes once all its alerts have been resolved this long (flapping)"
    )
