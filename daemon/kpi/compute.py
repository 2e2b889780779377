"""KPI values per tenant over a window, and the weekly series behind the charts.

Windows are half-open, [start, end), and each KPI counts events the way the Prometheus recording rules do, so the
report and the executive dashboard agree: MTTR by resolution time, compliance by update time, repeat rate by
declaration time, precision by decision time (canceled proposals are not a verdict on micd and are left out).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from daemon.kernel.errors import InvalidInput
from daemon.kpi.models import Ratio, Records, Snapshot, TenantKpis

_SPAN = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
WEEK = timedelta(weeks=1)


def parse_span(text: str, *, field: str) -> timedelta:
    """'30d', '8w' or '12h' as a timedelta; InvalidInput naming the field otherwise."""
    found = _SPAN.match(text)
    if found is None or int(found.group(1)) == 0:
        raise InvalidInput.field(field, f"{text!r} is not a positive span such as 12h, 30d or 8w")
    return int(found.group(1)) * _UNITS[found.group(2)]


def quantile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not 0 <= q <= 1:
        raise ValueError(f"quantile {q} is outside [0, 1]")
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _within(at: datetime, start: datetime, end: datetime) -> bool:
    return start <= at < end


def tenant_kpis(records: Records, *, tenant: str, start: datetime, end: datetime) -> TenantKpis:
    durations = [
        (i.resolved_at - i.declared_at).total_seconds()
        for i in records.incidents
        if i.tenant == tenant and i.resolved_at is not None and _within(i.resolved_at, start, end)
    ]
    declared = [i for i in records.incidents if i.tenant == tenant and _within(i.declared_at, start, end)]
    updates = [u for u in records.updates if u.tenant == tenant and _within(u.at, start, end)]
    decided = [
        d
        for d in records.decisions
        if d.tenant == tenant and d.state in ("accepted", "rejected") and _within(d.at, start, end)
    ]
    return TenantKpis(
        tenant=tenant,
        resolved=len(durations),
        mttr_p50=quantile(durations, 0.5),
        mttr_p90=quantile(durations, 0.9),
        compliance=Ratio(hits=sum(u.on_time for u in updates), total=len(updates)),
        repeats=Ratio(hits=sum(i.repeat for i in declared), total=len(declared)),
        precision=Ratio(hits=sum(d.state == "accepted" for d in decided), total=len(decided)),
    )


def snapshot(
    records: Records, *, start: datetime, end: datetime, tenants: Iterable[str] = (), label: str = "", now: datetime
) -> Snapshot:
    """Every tenant named (from settings) or seen in the records; a named tenant without events shows no data."""
    if end <= start:
        raise InvalidInput.field("window", "must end after it starts")
    names = sorted(set(tenants) | records.tenants())
    return Snapshot(
        label=label,
        taken_at=now,
        start=start,
        end=end,
        tenants={t: tenant_kpis(records, tenant=t, start=start, end=end) for t in names},
    )


class Week(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime
    kpis: TenantKpis


def weeks(records: Records, *, tenant: str, start: datetime, end: datetime) -> list[Week]:
    """Seven-day buckets counted back from `end`; the oldest is shorter when the span is not whole weeks."""
    bounds: list[tuple[datetime, datetime]] = []
    upper = end
    while upper > start:
        lower = max(start, upper - WEEK)
        bounds.append((lower, upper))
        upper = lower
    return [
        Week(start=lo, end=hi, kpis=tenant_kpis(records, tenant=tenant, start=lo, end=hi))
        for lo, hi in reversed(bounds)
    ]
