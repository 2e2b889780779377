"""Frozen alert models shared by ingestion, storage and correlation."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_TENANT = "default"  # the tenant of an alert that names none and came with no tenant-bound token


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Source(StrEnum):
    ALERTMANAGER = "alertmanager"
    KAFKA = "kafka"


class Alert(BaseModel):
    """One sighting of an alert, normalised. Keyed by (tenant, fingerprint); an episode by starts_at too."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    fingerprint: str
    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime
    ends_at: datetime | None = None
    generator_url: str = ""
    source: Source = Source.ALERTMANAGER

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "")


class TransitionKind(StrEnum):
    FIRED = "fired"
    RESOLVED = "resolved"
    UPDATED = "updated"


class AlertEvent(BaseModel):
    """An append-only record of what changed. `id` orders events; consumers keep a cursor on it."""

    model_config = ConfigDict(frozen=True)

    id: int
    kind: TransitionKind
    alert: Alert
    received_at: datetime
