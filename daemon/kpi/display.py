"""How KPI numbers read in reports: durations in d/h/m, ratios in percent, changes with a sign."""

from __future__ import annotations

from datetime import UTC, datetime

NO_DATA = "no data"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return NO_DATA
    if seconds < 60:
        return f"{round(seconds)}s"
    minutes = round(seconds / 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {mins:02d}m" if mins else f"{hours}h"
    return f"{mins}m"


def percent(ratio: float | None, *, digits: int = 1) -> str:
    return NO_DATA if ratio is None else f"{ratio * 100:.{digits}f}%"


def signed_percent(ratio: float) -> str:
    return f"{ratio * 100:+.1f}%"


def points(delta: float) -> str:
    """A change of a ratio in percentage points."""
    return f"{delta * 100:+.1f} pts"


def signed_duration(seconds: float) -> str:
    sign = "-" if seconds < 0 else "+"
    return sign + duration(abs(seconds))


def day(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d")


def minute(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
