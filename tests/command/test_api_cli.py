"""The incidents API and the CLI against a real aiohttp server on loopback: roles, tenant scope, gates as 409."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from daemon.api import incidents as api
from daemon.api.auth import Authenticator, new_token
from daemon.api.middleware import build_middlewares
from daemon.cli import incidents as cli
from daemon.config.auth import ApiToken, AuthSettings, Role
from daemon.config.command import CommandSettings
from daemon.kernel.clock import FakeClock
from daemon.runtime.command import CatalogLinks, build
from daemon.store.database import Database
from daemon.store.incidents import IncidentStore
from daemon.telemetry.metrics import Metrics
from tests.command.conftest import T0, catalog_rules, proposal

ROLES = {
    "alice": (Role.COMMANDER, ["acme"]),
    "dave": (Role.APPROVER, ["acme"]),
    "vic": (Role.VIEWER, ["acme"]),
    "gina": (Role.COMMANDER, ["globex"]),
}


@dataclass
class Served:
    client: TestClient[web.Request, web.Application]
    tokens: dict[str, str]
    incident: str

    async def call(self, who: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        resp = await self.client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {self.tokens[who]}"}
        )
        data = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, data

    def cli(self, who: str, *argv: str) -> int:
        parser = argparse.ArgumentParser(prog="micd")
        cli.register(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args([*argv, "--url", str(self.client.make_url("/")), "--token", self.tokens[who]])
        code: int = args.run(args)
        return code


@pytest.fixture
async def served(db: Database, tmp_path: Path) -> AsyncIterator[Served]:
    tokens: dict[str, str] = {}
    entries = []
    for name, (role, scope) in ROLES.items():
        token, sha = new_token()
        tokens[name] = token
        entries.append(ApiToken(name=name, sha256=sha, role=role, tenants=scope))
    clock = FakeClock(T0)
    runbooks = CatalogLinks(catalog_rules(tmp_path / "rules"))
    cmd = build(db=db, clock=clock, settings=CommandSettings(), tenants={}, metrics=Metrics(), runbooks=runbooks)
    incident = await cmd.service.declare(proposal=proposal(1), commander="alice", at=T0)
    app = web.Application(middlewares=build_middlewares(Authenticator(AuthSettings(api_tokens=entries))))
    api.routes.install(app)
    app[api.COMMAND] = cmd.service
    app[api.READER] = cmd.reader
    app[api.INCIDENTS] = IncidentStore(db)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield Served(client, tokens, incident)
    finally:
        await client.close()


async def test_roles_and_tenant_scope(served: Served) -> None:
    s, base = served, f"/api/v1/incidents/{served.incident}"
    status, page = await s.call("vic", "GET", "/api/v1/incidents")
    assert (status, page["total"], page["items"][0]["id"]) == (200, 1, s.incident)
    assert (await s.call("gina", "GET", "/api/v1/incidents"))[1]["total"] == 0
    assert (await s.call("gina", "GET", base))[0] == 404  # another tenant's incident does not exist for gina
    assert (await s.call("vic", "GET", base))[0] == 200
    status, body = await s.call("vic", "POST", base + "/lanes", {"lane": "communications", "owner": "carol"})
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, body = await s.call("alice", "POST", base + "/lanes", {"lane": "comms", "owner": "carol"})
    assert (status, body["error"]["problems"][0]["field"]) == (422, "lane")

    # a gate refusal is a 409 listing every missing gate
    status, body = await s.call("alice", "POST", base + "/transitions", {"command": "mitigate"})
    assert status == 409
    assert body["error"]["code"] == "gate_not_met"
    assert [p["field"] for p in body["error"]["problems"]] == ["lanes.technical_lead", "lanes.communications", "note"]

    # customer updates: the commander publishes, only an approver approves
    status, update = await s.call(
        "alice", "POST", base + "/updates", {"summary": "investigating", "audiences": ["technical", "customer"]}
    )
    assert (status, update["customer"]) == (201, "pending_approval")
    approve = f"{base}/updates/{update['id']}/approve"
    assert (await s.call("alice", "POST", approve))[0] == 403
    status, approved = await s.call("dave", "POST", approve)
    assert (status, approved["customer"], approved["approved_by"]) == (200, "sent", "dave")

    # high-risk actions: approval is the approver's, every other step the commander's
    spec = {"title": "Fail over", "owner": "bob", "precheck": "lag ok", "risk": "high", "rollback_plan": "fail back"}
    status, action = await s.call("alice", "POST", base + "/actions", spec)
    assert status == 201
    # no services named: the links of the incident's services (payments) from the catalogue
    assert [(link["kind"], link["ref"]) for link in action["service_links"]] == [
        ("runbook", "https://runbooks.example.test/acme/payments"),
        ("knowledge", "KB0012345"),
    ]
    status, body = await s.call("alice", "POST", base + "/actions", {**spec, "services": ["portal"]})
    assert (status, body["error"]["problems"][0]["field"]) == (422, "services[0]")
    step = f"{base}/actions/{action['id']}"
    assert (await s.call("alice", "POST", step, {"step": "approve"}))[0] == 403
    assert (await s.call("dave", "POST", step, {"step": "start"}))[0] == 403
    assert (await s.call("dave", "POST", step, {"step": "approve"}))[1]["approved_by"] == "dave"
    status, body = await s.call("alice", "POST", step, {"step": "start"})
    assert (status, body["error"]["problems"][0]["field"]) == (409, "pre-check not run: lag ok")
    assert (await s.call("vic", "GET", base + "/review.md"))[0] == 404  # scheduled only once resolved
    naive = {"customer_confirmed_by": "noc", "customer_confirmed_at": "2026-12-04T04:00:00"}
    status, body = await s.call("alice", "POST", base + "/closure", naive)
    assert (status, body["error"]["problems"][0]["field"]) == (422, "customer_confirmed_at")
    assert "timezone" in body["error"]["problems"][0]["reason"]


async def test_cli_drives_the_api(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    s, mi = served, served.incident
    run = asyncio.to_thread
    assert await run(s.cli, "alice", "incidents", "assign", mi, "technical_lead", "bob") == 0
    assert await run(s.cli, "alice", "incidents", "assign", mi, "communications", "carol") == 0
    assert await run(s.cli, "alice", "incidents", "move", mi, "monitor", "--note", "x") == 1
    assert "allowed: mitigate, cancel" in capsys.readouterr().err
    assert await run(s.cli, "alice", "incidents", "move", mi, "mitigate") == 1
    assert "- note: missing" in capsys.readouterr().err
    assert await run(s.cli, "alice", "incidents", "move", mi, "mitigate", "--note", "failing over") == 0
    assert (
        await run(
            s.cli,
            "alice",
            "decide",
            mi,
            "--decision",
            "fail over",
            "--rationale",
            "primary corrupt",
            "--owner",
            "alice",
            "--alternative",
            "restore backup",
        )
        == 0
    )
    assert (
        await run(
            s.cli,
            "alice",
            "action",
            "add",
            mi,
            "--title",
            "Fail over",
            "--owner",
            "bob",
            "--precheck",
            "lag ok",
            "--risk",
            "risky",
        )
        == 2
    )
    assert "rollback_plan" in capsys.readouterr().err
    restart = ("action", "add", mi, "--title", "Restart", "--owner", "bob", "--precheck", "drained")
    assert await run(s.cli, "alice", *restart, "--service", "chekout") == 2
    assert "services[0]: no service 'chekout'" in capsys.readouterr().err
    assert await run(s.cli, "alice", *restart, "--service", "checkout") == 0
    assert await run(s.cli, "alice", "action", "step", mi, "A1", "precheck") == 0
    assert await run(s.cli, "alice", "update", mi, "--summary", "restarting workers") == 0
    assert await run(s.cli, "vic", "update", mi, "--summary", "viewer cannot") == 1
    capsys.readouterr()
    assert await run(s.cli, "vic", "incidents", "list") == 0
    listing = capsys.readouterr().out
    assert mi in listing
    assert "mitigating" in listing
    assert await run(s.cli, "vic", "incidents", "show", mi) == 0
    shown = capsys.readouterr().out
    for expected in (
        "technical_lead     bob",
        "service_owner      UNOWNED",
        "A1   P3 pending",
        "       runbook checkout: https://runbooks.example.test/acme/checkout",
        "monitor   missing mitigation.succeeded",
        "decisions: 1 (in force: [1])",
    ):
        assert expected in shown


async def test_the_cli_takes_an_incident_through_closure_and_review(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    s, mi = served, served.incident

    async def ok(*argv: str) -> str:
        code = await asyncio.to_thread(s.cli, "alice", *argv)
        captured = capsys.readouterr()
        assert code == 0, captured.err
        return captured.out

    await ok("incidents", "assign", mi, "technical_lead", "bob")
    await ok("incidents", "assign", mi, "communications", "carol")
    await ok("incidents", "move", mi, "mitigate", "--note", "restarting")
    await ok("incidents", "note", mi, "technical_lead", "workers drained", "--link", "https://grafana.example/d/1")
    await ok("action", "add", mi, "--title", "Restart", "--owner", "bob", "--precheck", "drained")
    for step in ("precheck", "start", "succeed"):
        await ok("action", "step", mi, "A1", step)
    await ok("incidents", "move", mi, "monitor", "--note", "stable")
    assert await asyncio.to_thread(s.cli, "alice", "incidents", "closure", mi) == 2
    assert "give at least one of" in capsys.readouterr().err
    naive = ("incidents", "closure", mi, "--confirmed-by", "noc", "--confirmed-at", "2026-01-05T10:00:00")
    assert await asyncio.to_thread(s.cli, "alice", *naive) == 2
    assert "customer_confirmed_at" in capsys.readouterr().err
    await ok(
        "incidents",
        "closure",
        mi,
        "--validation-note",
        "synthetics green",
        "--confirmed-by",
        "noc@acme",
        "--confirmed-at",
        "2026-01-05T10:00:00+01:00",
        "--residual-risk",
        "standby untested",
    )
    await ok("incidents", "move", mi, "resolve", "--note", "validated")
    await ok("review", "edit", mi, "--facilitator", "frank")
    await ok("incidents", "move", mi, "review", "--note", "scheduled")
    sections = [f"--section={name}=written" for name in ("summary", "timeline", "went_well", "went_badly")]
    await ok("review", "edit", mi, *sections, "--section", "root_cause=worker leak")
    assert await asyncio.to_thread(s.cli, "alice", "review", "edit", mi, "--section", "root_cause") == 2
    assert "is not NAME=TEXT" in capsys.readouterr().err
    await ok("review", "action", mi, "--title", "Fix the leak", "--owner", "bob", "--due", "2026-01-20")
    await ok("incidents", "move", mi, "close", "--note", "review held")
    await ok("review", "close", mi, "R1", "--note", "fixed in 2.3")
    shown = await ok("incidents", "show", mi, "--timeline", "3")
    for expected in (
        f"{mi} [P1]",
        "review due ",
        "facilitator frank, completed ",
        "R1   done   due 2026-01-20 Fix the leak (bob)",
        "timeline (last 3 of ",
        "queue (ready, in order): none",
    ):
        assert expected in shown, shown
    assert "## Root cause\n\nworker leak" in await ok("incidents", "review-md", mi)
