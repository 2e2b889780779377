"""What a sighting changes: the table of cases Alertmanager's resends and reorders produce."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from daemon.alerts.dedup import transition
from daemon.alerts.models import Alert, AlertStatus, TransitionKind

T0 = datetime(2026, 12, 3, 10, tzinfo=UTC)
LATER = T0 + timedelta(hours=3)
F, R = AlertStatus.FIRING, AlertStatus.RESOLVED


def alert(status: AlertStatus, starts: datetime = T0, summary: str = "s") -> Alert:
    return Alert(
        tenant="acme",
        fingerprint="f1",
        status=status,
        labels={"alertname": "X"},
        annotations={"summary": summary},
        starts_at=starts,
    )


@pytest.mark.parametrize(
    ("held", "seen", "expected"),
    [
        (None, alert(F), TransitionKind.FIRED),
        (None, alert(R), TransitionKind.RESOLVED),
        (alert(F), alert(F), None),  # a resend
        (alert(F), alert(R), TransitionKind.RESOLVED),
        (alert(R), alert(R), None),  # a resend of the resolution
        (alert(R), alert(F), None),  # a stale firing resend after the resolution
        (alert(R), alert(F, LATER), TransitionKind.FIRED),  # a new episode of the same alert
        (alert(F, LATER), alert(R), None),  # a resolution of an older episode arriving late
        (alert(F), alert(F, summary="changed"), TransitionKind.UPDATED),
        (alert(F), alert(F, LATER), TransitionKind.FIRED),
        (alert(F), alert(R, LATER), TransitionKind.RESOLVED),
    ],
)
def test_transition(held: Alert | None, seen: Alert, expected: TransitionKind | None) -> None:
    assert transition(held, seen) == expected


def test_applying_a_sighting_twice_changes_nothing_the_second_time() -> None:
    for held in (None, alert(F), alert(R)):
        for seen in (alert(F), alert(R), alert(F, LATER), alert(R, LATER)):
            if transition(held, seen) is not None:
                assert transition(seen, seen) is None
