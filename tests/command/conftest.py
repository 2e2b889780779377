"""A real SQLite database with every table the command phase touches, and proposal/alert builders."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from daemon.alerts.models import Alert, AlertStatus
from daemon.proposals.models import AlertRef, Evidence, Proposal, ServiceEvidence
from daemon.store import alerts, incidents, outages, outbox, proposals
from daemon.store.database import Database

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "micd.sqlite3")
    database.migrate(
        [*alerts.MIGRATIONS, *outbox.MIGRATIONS, *proposals.MIGRATIONS, *outages.MIGRATIONS, *incidents.MIGRATIONS]
    )
    yield database
    database.close()


def alert(tenant: str, fingerprint: str, status: AlertStatus, at: datetime = T0) -> Alert:
    return Alert(
        tenant=tenant,
        fingerprint=fingerprint,
        status=status,
        labels={"alertname": "PaymentsDown", "service": "payments"},
        starts_at=at,
    )


def proposal(
    n: int,
    *,
    tenant: str = "acme",
    services: tuple[str, ...] = ("payments",),
    fingerprints: tuple[str, ...] = ("fp1",),
    cause: str | None = "database failover",
    impact: int = 1,
    urgency: int = 1,
    at: datetime = T0,
) -> Proposal:
    return Proposal(
        id=f"prop-{n}",
        tenant=tenant,
        outage_id=f"outage-{n}",
        rule="customer-facing-down",
        impact=impact,
        urgency=urgency,
        title=f"Payments down ({n})",
        business_impact="Card payments fail for all customers",
        evidence=Evidence(
            services=[ServiceEvidence(name=s, customer_facing=True) for s in services],
            alerts=[
                AlertRef(fingerprint=f, alertname="PaymentsDown", service=services[0], match="label", starts_at=at)
                for f in fingerprints
            ],
            probable_cause=cause,
        ),
        first_alert_at=at,
        created_at=at,
        updated_at=at,
    )
