"""A real SQLite database with every table the command phase touches, and proposal/alert builders."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from daemon.alerts.models import Alert, AlertStatus
from daemon.kernel.errors import Unavailable
from daemon.proposals.models import AlertRef, Evidence, Proposal, ServiceEvidence
from daemon.runtime.command import CommandService
from daemon.runtime.rules import RulesHolder
from daemon.store import alerts, incidents, outages, outbox, proposals
from daemon.store.database import Database
from daemon.telemetry.metrics import Metrics

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


CATALOG = {
    "acme.yaml": """\
kind: catalog
tenant: acme
services:
  - name: payments
    runbook: https://runbooks.example.test/acme/payments
    knowledge: [KB0012345]
    depends_on: [postgres-shared]
  - name: checkout
    runbook: https://runbooks.example.test/acme/checkout
  - name: cart
""",
    "globex.yaml": """\
kind: catalog
tenant: globex
services:
  - name: portal
    runbook: https://runbooks.example.test/globex/portal
""",
    "platform.yaml": """\
kind: catalog
tenant: platform
services:
  - name: postgres-shared
    runbook: https://runbooks.example.test/platform/postgres
""",
}


def catalog_rules(directory: Path) -> RulesHolder:
    """The real rules holder over a small catalogue on disk (acme, globex and one platform service)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in CATALOG.items():
        (directory / name).write_text(text)
    holder = RulesHolder(directory=directory, metrics=Metrics())
    holder.start()
    return holder


class FailingDeclarer:
    """The real command service behind a declaration that fails the first `failures` times."""

    def __init__(self, service: CommandService, *, failures: int) -> None:
        self._service = service
        self.failures = failures

    async def declare(self, *, proposal: Proposal, commander: str, at: datetime) -> str:
        if self.failures > 0:
            self.failures -= 1
            raise Unavailable("database busy")
        return await self._service.declare(proposal=proposal, commander=commander, at=at)
