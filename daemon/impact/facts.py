"""Calendar facts: whether `now` falls in a tenant's business hours, in its own timezone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from daemon.impact.models import Calendar


def in_business_hours(calendar: Calendar, now: datetime) -> bool:
    local = now.astimezone(ZoneInfo(calendar.timezone))
    start, end = calendar.hours
    return local.weekday() < 5 and local.date() not in calendar.holidays and start <= local.hour < end
