"""Repeat detection: a new major incident on the same services or the same probable cause within the window
is linked to its predecessor, so repeat rates are visible and reviews can reference each other."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict


class Footprint(BaseModel):
    model_config = ConfigDict(frozen=True)

    incident_id: str
    services: frozenset[str]
    probable_cause: str | None
    declared_at: datetime


class RepeatLink(BaseModel):
    model_config = ConfigDict(frozen=True)

    predecessor_id: str
    reason: str


def _cause(value: str | None) -> str:
    return " ".join((value or "").lower().split())


def predecessor(*, new: Footprint, earlier: Sequence[Footprint], window: timedelta) -> RepeatLink | None:
    """The most recent earlier incident in the window sharing a service or the probable cause."""
    since = new.declared_at - window
    candidates = sorted(
        (f for f in earlier if f.incident_id != new.incident_id and since <= f.declared_at <= new.declared_at),
        key=lambda f: (f.declared_at, f.incident_id),
        reverse=True,
    )
    for old in candidates:
        shared = sorted(new.services & old.services)
        if shared:
            return RepeatLink(predecessor_id=old.incident_id, reason="same services: " + ", ".join(shared))
        if _cause(new.probable_cause) and _cause(new.probable_cause) == _cause(old.probable_cause):
            return RepeatLink(predecessor_id=old.incident_id, reason=f"same probable cause: {new.probable_cause}")
    return None
