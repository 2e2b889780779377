"""Role lanes: who holds which role now, and every handover before that."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from daemon.command.models import Lane
from daemon.kernel.errors import Conflict, InvalidInput


class Handover(BaseModel):
    """One assignment; `previous` is None the first time a lane is owned."""

    model_config = ConfigDict(frozen=True)

    incident_id: str
    lane: Lane
    owner: str
    previous: str | None
    actor: str
    note: str = ""
    at: datetime


def assign(
    *, incident_id: str, current: Mapping[Lane, str], lane: Lane, owner: str, actor: str, note: str, now: datetime
) -> Handover:
    """Assign a lane or hand it over; handing a lane to its current owner is refused as a no-op."""
    owner = owner.strip()
    if not owner:
        raise InvalidInput.field("owner", "must name a person")
    previous = current.get(lane)
    if previous == owner:
        raise Conflict(f"{owner!r} already holds the {lane.value} lane of {incident_id}")
    return Handover(
        incident_id=incident_id, lane=lane, owner=owner, previous=previous, actor=actor, note=note.strip(), at=now
    )


def board(current: Mapping[Lane, str]) -> dict[Lane, str | None]:
    """Every lane with its owner; None marks a lane nobody holds, so gaps are visible."""
    return {lane: current.get(lane) for lane in Lane}


def unowned(current: Mapping[Lane, str]) -> list[Lane]:
    return [lane for lane in Lane if not current.get(lane)]
