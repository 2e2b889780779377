"""One error root. The API maps each kind to an HTTP status in one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldProblem:
    field: str
    reason: str


class MicdError(Exception):
    """Root of every error micd raises on purpose. `retryable` tells callers whether to try again."""

    code = "error"
    retryable = False

    def __init__(self, message: str, *, problems: tuple[FieldProblem, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems


class InvalidInput(MicdError):
    """The caller sent something we refuse; nothing was stored."""

    code = "invalid"

    @classmethod
    def field(cls, field: str, reason: str) -> InvalidInput:
        return cls(f"{field}: {reason}", problems=(FieldProblem(field, reason),))


class NotFound(MicdError):
    code = "not_found"


class Conflict(MicdError):
    """The request is valid but the current state forbids it (a transition, a duplicate)."""

    code = "conflict"


class GateNotMet(Conflict):
    """A lifecycle step is refused because evidence is missing; `missing` names each gate."""

    code = "gate_not_met"

    def __init__(self, message: str, *, missing: tuple[str, ...]) -> None:
        super().__init__(message, problems=tuple(FieldProblem(m, "missing") for m in missing))
        self.missing = missing


class Unauthenticated(MicdError):
    code = "unauthenticated"


class Forbidden(MicdError):
    code = "forbidden"


class Unavailable(MicdError):
    """A dependency is down or overloaded; try again later."""

    code = "unavailable"
    retryable = True


class ConfigError(MicdError):
    """Settings or rules are invalid; `problems` names the key and why."""

    code = "config"
