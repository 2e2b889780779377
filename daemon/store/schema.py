"""Every domain's migrations, applied in (domain, version) order at startup."""

from __future__ import annotations

from daemon.store import alerts, kpi, outbox
from daemon.store.database import Migration

MIGRATIONS: list[Migration] = [*alerts.MIGRATIONS, *outbox.MIGRATIONS, *kpi.MIGRATIONS]
