"""The decision log: separate from notes, append-only. A correction is a new entry that names the one it corrects."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from daemon.command.models import validated_links
from daemon.kernel.errors import InvalidInput


class DecisionSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    decision: str = Field(min_length=1, max_length=2000)
    rationale: str = Field(min_length=1, max_length=4000)
    owner: str = Field(min_length=1, description="who owns the decision (not necessarily who typed it)")
    alternatives: list[str] = Field(default_factory=list, description="options considered and not taken")
    evidence_links: list[str] = Field(default_factory=list)
    corrects: int | None = Field(None, description="number of the entry this one corrects")


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int = Field(description="1, 2, ... within the incident")
    incident_id: str
    decision: str
    rationale: str
    owner: str
    alternatives: list[str]
    evidence_links: list[str]
    corrects: int | None
    recorded_by: str
    at: datetime


def record(*, spec: DecisionSpec, incident_id: str, log: Sequence[Decision], actor: str, now: datetime) -> Decision:
    """The next entry of the log; a correction must point at an earlier entry of the same incident."""
    if spec.corrects is not None and spec.corrects not in {d.number for d in log}:
        raise InvalidInput.field("corrects", f"no decision #{spec.corrects} in incident {incident_id}")
    for field, text in (("decision", spec.decision), ("rationale", spec.rationale), ("owner", spec.owner)):
        if not text.strip():
            raise InvalidInput.field(field, "must not be blank")
    return Decision(
        number=max((d.number for d in log), default=0) + 1,
        incident_id=incident_id,
        decision=spec.decision.strip(),
        rationale=spec.rationale.strip(),
        owner=spec.owner.strip(),
        alternatives=[a.strip() for a in spec.alternatives if a.strip()],
        evidence_links=validated_links("evidence_links", spec.evidence_links),
        corrects=spec.corrects,
        recorded_by=actor,
        at=now,
    )


def in_force(log: Sequence[Decision]) -> list[Decision]:
    """The entries no later entry corrects: what the team currently holds to be decided."""
    corrected = {d.corrects for d in log if d.corrects is not None}
    return [d for d in log if d.number not in corrected]
