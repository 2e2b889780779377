"""Alert events and rulesets for the correlation, impact and proposal tests (FakeClock time, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from daemon.alerts.fingerprint import fingerprint
from daemon.alerts.models import Alert, AlertEvent, AlertStatus, TransitionKind
from daemon.impact.ruleset import Ruleset, parse_ruleset
from daemon.runtime.rules import read_rules

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday


def shipped() -> Ruleset:
    return read_rules(RULES_DIR)


def ruleset(**files: str) -> Ruleset:
    """Inline YAML files by name, e.g. ruleset(catalog=..., impact=...)."""
    return parse_ruleset({f"{name}.yaml": text for name, text in files.items()})


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def make_alert(
    tenant: str,
    name: str,
    *,
    start: datetime = T0,
    resolved: bool = False,
    **labels: str,
) -> Alert:
    full = {"alertname": name, "tenant": tenant, "severity": "critical", **labels}
    return Alert(
        tenant=tenant,
        fingerprint=fingerprint(full),
        status=AlertStatus.RESOLVED if resolved else AlertStatus.FIRING,
        labels=full,
        starts_at=start,
    )


@dataclass
class Feed:
    """Numbers events the way the store does."""

    next_id: int = 1
    sent: list[AlertEvent] = field(default_factory=list)

    def _event(self, kind: TransitionKind, alert: Alert, at: datetime) -> AlertEvent:
        event = AlertEvent(id=self.next_id, kind=kind, alert=alert, received_at=at)
        self.next_id += 1
        self.sent.append(event)
        return event

    def fire(self, alert: Alert, at: datetime | None = None) -> AlertEvent:
        return self._event(TransitionKind.FIRED, alert, at or alert.starts_at)

    def resolve(self, alert: Alert, at: datetime) -> AlertEvent:
        gone = alert.model_copy(update={"status": AlertStatus.RESOLVED, "ends_at": at})
        return self._event(TransitionKind.RESOLVED, gone, at)
