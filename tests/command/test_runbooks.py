"""Runbook and knowledge links from the service catalogue in force, attached to mitigation actions when queued."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.command.mitigation import ActionSpec, ServiceLink
from daemon.config.command import CommandSettings
from daemon.kernel.clock import FakeClock
from daemon.kernel.errors import InvalidInput
from daemon.runtime.command import CatalogLinks, Command, build
from daemon.store import outages
from daemon.store.database import Database
from daemon.telemetry.metrics import Metrics
from tests.command.conftest import T0, catalog_rules, proposal

PAYMENTS_RUNBOOK = ServiceLink(service="payments", kind="runbook", ref="https://runbooks.example.test/acme/payments")
PAYMENTS_KB = ServiceLink(service="payments", kind="knowledge", ref="KB0012345")
CHECKOUT_RUNBOOK = ServiceLink(service="checkout", kind="runbook", ref="https://runbooks.example.test/acme/checkout")
POSTGRES_RUNBOOK = ServiceLink(
    service="postgres-shared", kind="runbook", ref="https://runbooks.example.test/platform/postgres"
)


def spec(**kw: object) -> ActionSpec:
    return ActionSpec.model_validate({"title": "Restart workers", "owner": "bob", "precheck": "drained", **kw})


async def declared(
    db: Database, rules_dir: Path, *, services: tuple[str, ...] = ("payments",), cause: str | None = None
) -> tuple[Command, str]:
    cmd = build(
        db=db,
        clock=FakeClock(T0),
        settings=CommandSettings(),
        tenants={},
        metrics=Metrics(),
        outages=outages,
        runbooks=CatalogLinks(catalog_rules(rules_dir)),
    )
    incident = await cmd.service.declare(proposal=proposal(1, services=services, cause=cause), commander="alice", at=T0)
    return cmd, incident


async def test_named_services_bring_their_runbook_and_knowledge_links(db: Database, tmp_path: Path) -> None:
    cmd, mi = await declared(db, tmp_path / "rules", services=("payments", "checkout"))
    action = await cmd.service.add_action(
        incident_id=mi, spec=spec(services=["payments", "postgres-shared", "cart"]), actor="alice"
    )
    # tenant's own, then the platform's a tenant also sees; a service without links adds none
    assert action.service_links == [PAYMENTS_RUNBOOK, PAYMENTS_KB, POSTGRES_RUNBOOK]
    view = await cmd.reader.view(incident_id=mi)
    assert view.actions[0].action.service_links == action.service_links
    assert "runbooks of payments, postgres-shared attached" in view.timeline[-1].text


async def test_without_named_services_the_probable_cause_comes_first_then_the_incident_services(
    db: Database, tmp_path: Path
) -> None:
    cmd, mi = await declared(db, tmp_path / "rules", services=("payments", "checkout"), cause="postgres-shared")
    action = await cmd.service.add_action(incident_id=mi, spec=spec(), actor="alice")
    assert action.service_links == [POSTGRES_RUNBOOK, CHECKOUT_RUNBOOK, PAYMENTS_RUNBOOK, PAYMENTS_KB]


async def test_a_free_text_cause_and_unknown_incident_services_attach_nothing(db: Database, tmp_path: Path) -> None:
    cmd, mi = await declared(db, tmp_path / "rules", services=("billing",), cause="database failover")
    action = await cmd.service.add_action(incident_id=mi, spec=spec(), actor="alice")
    assert action.service_links == []


@pytest.mark.parametrize(
    ("services", "field", "reason"),
    [
        (["paymnts"], "services[0]", "no service 'paymnts' in the catalogue of tenant acme"),
        (["payments", "portal"], "services[1]", "no service 'portal'"),  # globex's, not acme's
    ],
)
async def test_a_named_service_the_catalogue_does_not_know_is_refused(
    db: Database, tmp_path: Path, services: list[str], field: str, reason: str
) -> None:
    cmd, mi = await declared(db, tmp_path / "rules")
    with pytest.raises(InvalidInput) as refused:
        await cmd.service.add_action(incident_id=mi, spec=spec(services=services), actor="alice")
    [problem] = refused.value.problems
    assert problem.field == field
    assert reason in problem.reason
    assert (await cmd.reader.view(incident_id=mi)).actions == []  # nothing half-written


async def test_links_follow_the_catalogue_in_force_and_stay_on_earlier_actions(db: Database, tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    holder = catalog_rules(rules_dir)
    cmd = build(
        db=db,
        clock=FakeClock(T0),
        settings=CommandSettings(),
        tenants={},
        metrics=Metrics(),
        runbooks=CatalogLinks(holder),
    )
    mi = await cmd.service.declare(proposal=proposal(1), commander="alice", at=T0)
    before = await cmd.service.add_action(incident_id=mi, spec=spec(services=["checkout"]), actor="alice")
    moved = "https://runbooks.example.test/acme/checkout-v2"
    path = rules_dir / "acme.yaml"
    path.write_text(path.read_text().replace("https://runbooks.example.test/acme/checkout", moved))
    assert holder.reload()
    after = await cmd.service.add_action(incident_id=mi, spec=spec(services=["checkout"]), actor="alice")
    assert [link.ref for link in after.service_links] == [moved]
    stored = (await cmd.reader.view(incident_id=mi)).actions
    assert [a.action.service_links for a in stored] == [before.service_links, after.service_links]
    assert before.service_links == [CHECKOUT_RUNBOOK]
