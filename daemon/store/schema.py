"""Every domain's migrations, applied in (domain, version) order at startup."""

from __future__ import annotations

from daemon.store import alerts, cursors, incidents, kpi, outages, outbox, proposals
from daemon.store.database import Migration

MIGRATIONS: list[Migration] = [
    *alerts.MIGRATIONS,
    *outbox.MIGRATIONS,
    *outages.MIGRATIONS,
    *proposals.MIGRATIONS,
    *cursors.MIGRATIONS,
    *incidents.MIGRATIONS,
    *kpi.MIGRATIONS,
]
