"""Closure gates: resolve only with service validation, customer confirmation and a residual-risk statement.

Each missing item gets its own name so the refusal lists all of them at once, not one per attempt.
"""

from __future__ import annotations

from datetime import datetime

from daemon.command.models import ClosureEvidence
from daemon.kernel.errors import InvalidInput


def missing(*, evidence: ClosureEvidence, alerts_firing: int) -> tuple[str, ...]:
    """Every closure item still missing; empty means the incident may be resolved."""
    gaps: list[str] = []
    if alerts_firing:
        gaps.append(f"service_validation.alerts_resolved ({alerts_firing} alert(s) of the outage still firing)")
    if not evidence.validation_note.strip():
        gaps.append("service_validation.note")
    if not evidence.customer_confirmed_by.strip():
        gaps.append("customer_confirmation.who")
    if evidence.customer_confirmed_at is None:
        gaps.append("customer_confirmation.when")
    if not evidence.residual_risk.strip():
        gaps.append("residual_risk")
    return tuple(gaps)


def record(
    *,
    current: ClosureEvidence,
    actor: str,
    now: datetime,
    validation_note: str | None = None,
    customer_confirmed_by: str | None = None,
    customer_confirmed_at: datetime | None = None,
    residual_risk: str | None = None,
) -> ClosureEvidence:
    """Merge newly supplied closure evidence; a confirmation time may not lie in the future."""
    changes: dict[str, object] = {}
    if validation_note is not None:
        if not validation_note.strip():
            raise InvalidInput.field("validation_note", "must not be blank")
        changes.update(validation_note=validation_note.strip(), validated_by=actor)
    if customer_confirmed_by is not None:
        if not customer_confirmed_by.strip():
            raise InvalidInput.field("customer_confirmed_by", "must name who confirmed")
        changes["customer_confirmed_by"] = customer_confirmed_by.strip()
    if customer_confirmed_at is not None:
        if customer_confirmed_at > now:
            raise InvalidInput.field("customer_confirmed_at", "lies in the future")
        changes["customer_confirmed_at"] = customer_confirmed_at
    if residual_risk is not None:
        if not residual_risk.strip():
            raise InvalidInput.field("residual_risk", "must not be blank; write 'none known' if there is none")
        changes["residual_risk"] = residual_risk.strip()
    if not changes:
        raise InvalidInput.field("(body)", "supply at least one closure item")
    return current.model_copy(update=changes)
