"""GET outages, proposals and unmatched alerts over HTTP, with real tokens scoped to one tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from daemon.api import outages as outages_api
from daemon.api import proposals as proposals_api
from daemon.api.auth import Authenticator, digest, new_token
from daemon.api.middleware import build_middlewares
from daemon.config.auth import ApiToken, AuthSettings, Role
from daemon.kernel.clock import FakeClock
from daemon.store.database import Database
from daemon.store.outages import OutageStore
from daemon.store.proposals import ProposalStore
from tests.correlation.factory import RULES_DIR, T0, make_alert
from tests.proposals.test_correlation_loop import MIGRATIONS, OUTAGE, Rig


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[TestClient[Any, Any], dict[str, str]]]:
    db = Database(tmp_path / "micd.sqlite3")
    db.migrate(MIGRATIONS)
    rig = Rig(db, RULES_DIR, FakeClock(T0))
    await rig.loop.restore()
    await rig.send(*OUTAGE, make_alert("acme", "Odd", job="kube-state-metrics"))
    await rig.send(make_alert("globex", "PortalDown", service="patient-portal"))
    tokens: dict[str, str] = {}
    entries = []
    for name, tenants in (("acme-viewer", ["acme"]), ("globex-viewer", ["globex"])):
        token, _ = new_token()
        tokens[name] = token
        entries.append(ApiToken(name=name, sha256=digest(token), role=Role.VIEWER, tenants=tenants))
    app = web.Application(middlewares=build_middlewares(Authenticator(AuthSettings(api_tokens=entries))))
    app[outages_api.OUTAGES] = OutageStore(db)
    app[proposals_api.PROPOSALS] = ProposalStore(db)
    outages_api.routes.install(app)
    proposals_api.routes.install(app)
    test_client: TestClient[Any, Any] = TestClient(TestServer(app))
    await test_client.start_server()
    try:
        yield test_client, tokens
    finally:
        await test_client.close()
        db.close()


async def test_reads_are_scoped_to_the_callers_tenants(client: tuple[TestClient[Any, Any], dict[str, str]]) -> None:
    http, tokens = client
    acme = {"Authorization": f"Bearer {tokens['acme-viewer']}"}
    globex = {"Authorization": f"Bearer {tokens['globex-viewer']}"}

    proposals = await (await http.get("/api/v1/proposals", headers=acme)).json()
    assert proposals["total"] == 1
    proposal = proposals["items"][0]
    assert proposal["tenant"] == "acme"
    assert proposal["evidence"]["matched_conditions"]
    assert proposal["evidence"]["probable_cause"] == "payments-api"

    one = await http.get(f"/api/v1/proposals/{proposal['id']}", headers=acme)
    assert one.status == 200
    hidden = await http.get(f"/api/v1/proposals/{proposal['id']}", headers=globex)
    assert hidden.status == 404

    outages = await (await http.get("/api/v1/outages?state=open", headers=acme)).json()
    assert [o["services"] for o in outages["items"]] == [["payments-api", "web-shop"]]
    detail = await (await http.get(f"/api/v1/outages/{outages['items'][0]['id']}", headers=acme)).json()
    assert {a["alertname"] for a in detail["alerts"]} == {"PayErr", "ShopDown"}
    assert (await http.get(f"/api/v1/outages/{outages['items'][0]['id']}", headers=globex)).status == 404

    unmatched = await (await http.get("/api/v1/alerts/unmatched", headers=acme)).json()
    assert [a["alertname"] for a in unmatched["items"]] == ["Odd"]
    assert (await (await http.get("/api/v1/alerts/unmatched", headers=globex)).json())["total"] == 0

    forbidden = await http.get("/api/v1/outages?tenant=acme", headers=globex)
    assert forbidden.status == 403
    bad = await http.get("/api/v1/proposals?state=maybe", headers=acme)
    assert bad.status == 422
