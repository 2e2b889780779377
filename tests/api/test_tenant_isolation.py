"""Tenant isolation over every route the OpenAPI document lists, so a new endpoint is covered without edits.

Data for two tenants is made through the real paths: webhooks, the correlation loop, an accepted proposal and
a command phase driven to a review. Each sweep then walks the document: without a token every protected route
answers 401; a viewer scoped to globex sees only globex data and gets 403/404 for acme's; no viewer changes
anything; a commander of acme cannot act on globex; every 4xx is the documented error shape and nothing is 5xx.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from daemon.api.auth import new_token
from tests.support.client import app_client
from tests.support.payloads import am_webhook_alert, webhook

RULES = Path(__file__).resolve().parents[2] / "rules"
WEBHOOK = "/api/v1/alerts/alertmanager"
POLL_SECONDS = 20.0

# Alerts that make one customer-facing outage per tenant (see rules/catalog and rules/impact), plus an alert
# that names no catalogued service, so the unmatched list has something to hide.
ACME_ALERTS = [
    {"alertname": "PaymentsErrorRateHigh", "service": "payments-api", "severity": "critical"},
    {"alertname": "CheckoutLatencyHigh", "app": "checkout", "severity": "critical"},
    {"alertname": "ProbeFailure", "service": "web-shop", "severity": "critical"},
]
GLOBEX_ALERTS = [
    {"alertname": "PortalDown", "service": "patient-portal", "severity": "critical"},
    {"alertname": "AppointmentsErrors", "service": "appointments", "severity": "critical"},
]
UNMATCHED = {"alertname": "MysteryAlert", "severity": "warning", "zone": "z9"}


@dataclass
class Tenant:
    """The ids one tenant's data answers to, by OpenAPI path parameter name."""

    name: str
    ids: dict[str, str] = field(default_factory=dict)
    fingerprints: list[str] = field(default_factory=list)

    def markers(self) -> list[str]:
        """Strings that only this tenant's data contains."""
        return [self.ids["outage_id"], self.ids["proposal_id"], self.ids["incident_id"], *self.fingerprints]


@dataclass
class World:
    client: TestClient[Any, Any]
    doc: dict[str, Any]
    tokens: dict[str, str]
    acme: Tenant
    globex: Tenant


Headers = dict[str, str]


def bearer(token: str) -> Headers:
    return {"Authorization": f"Bearer {token}"}


async def poll(what: str, probe: Callable[[], Awaitable[Any]]) -> Any:
    """Calls `probe` until it returns something truthy, or fails naming `what` after POLL_SECONDS."""
    deadline = asyncio.get_running_loop().time() + POLL_SECONDS
    while True:
        found = await probe()
        if found:
            return found
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def ok_json(resp: ClientResponse, status: int = 200) -> Any:
    body = await resp.json()
    assert resp.status == status, (resp.method, str(resp.url), body)
    return body


# ---- data made through the real paths ------------------------------------------------------------------------


async def fire(client: TestClient[Any, Any], token: str, alerts: list[dict[str, Any]]) -> None:
    await ok_json(await client.post(WEBHOOK, json=webhook(alerts), headers=bearer(token)))


async def proposal_of(client: TestClient[Any, Any], admin: str, tenant: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        page = await ok_json(await client.get(f"/api/v1/proposals?tenant={tenant}", headers=bearer(admin)))
        return page["items"][0] if page["items"] else None

    found: dict[str, Any] = await poll(f"a proposal for {tenant}", probe)
    return found


async def drive_to_review(
    client: TestClient[Any, Any], tenant: Tenant, *, actor: str, sender: str, resolved: list[dict[str, Any]]
) -> None:
    """Command phase up to a scheduled review, recording the update, action and review action ids."""
    base = f"/api/v1/incidents/{tenant.ids['incident_id']}"
    h = bearer(actor)
    for lane, owner in (("technical_lead", "bob"), ("communications", "carol")):
        await ok_json(await client.post(f"{base}/lanes", json={"lane": lane, "owner": owner}, headers=h))
    update = await ok_json(
        await client.post(
            f"{base}/updates", json={"summary": "failing over", "audiences": ["technical", "customer"]}, headers=h
        ),
        201,
    )
    tenant.ids["update_id"] = str(update["id"])
    await ok_json(await client.post(f"{base}/transitions", json={"command": "mitigate", "note": "go"}, headers=h))
    action = await ok_json(
        await client.post(f"{base}/actions", json={"title": "Restart", "owner": "bob", "precheck": "ready"}, headers=h),
        201,
    )
    tenant.ids["action_id"] = action["id"]
    for step in ({"step": "precheck", "passed": True, "note": "ok"}, {"step": "start"}, {"step": "succeed"}):
        await ok_json(await client.post(f"{base}/actions/{action['id']}", json=step, headers=h))
    await ok_json(await client.post(f"{base}/transitions", json={"command": "monitor", "note": "stable"}, headers=h))
    await fire(client, sender, resolved)
    closure = {
        "validation_note": "synthetics green",
        "customer_confirmed_by": "noc",
        "customer_confirmed_at": datetime.now(UTC).isoformat(),
        "residual_risk": "none",
    }
    await ok_json(await client.post(f"{base}/closure", json=closure, headers=h))

    async def resolve() -> bool:
        resp = await client.post(f"{base}/transitions", json={"command": "resolve", "note": "done"}, headers=h)
        return resp.status == 200

    await poll(f"{tenant.name} incident to resolve once its alerts are resolved", resolve)
    item = await ok_json(
        await client.post(
            f"{base}/review/actions", json={"title": "Fix", "owner": "bob", "due": "2030-01-15"}, headers=h
        ),
        201,
    )
    tenant.ids["review_action_id"] = item["id"]


def alerts_of(
    tenant: str, labels: list[dict[str, str]], starts: datetime, *, label_tenant: bool
) -> list[dict[str, Any]]:
    return [
        am_webhook_alert({**lb, "tenant": tenant} if label_tenant else lb, starts=starts.isoformat()) for lb in labels
    ]


@asynccontextmanager
async def world(tmp_path: Path) -> AsyncIterator[World]:
    tokens: dict[str, str] = {}
    hashes: dict[str, str] = {}
    for name in ("sender", "globex_sender", "acme_commander", "acme_viewer", "globex_viewer", "admin"):
        tokens[name], hashes[name] = new_token()
    auth = {
        "webhook_tokens": [
            {"name": "am", "sha256": hashes["sender"]},
            {"name": "am-globex", "sha256": hashes["globex_sender"], "tenant": "globex"},
        ],
        "api_tokens": [
            {"name": "carol", "sha256": hashes["acme_commander"], "role": "commander", "tenants": ["acme"]},
            {"name": "vera", "sha256": hashes["acme_viewer"], "role": "viewer", "tenants": ["acme"]},
            {"name": "gina", "sha256": hashes["globex_viewer"], "role": "viewer", "tenants": ["globex"]},
            {"name": "root", "sha256": hashes["admin"], "role": "admin"},
        ],
    }
    async with app_client(tmp_path, auth=auth, rules_dir=RULES) as client:
        admin = tokens["admin"]
        starts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
        acme_firing = alerts_of("acme", [*ACME_ALERTS, UNMATCHED], starts, label_tenant=True)
        # globex's sender is bound to its tenant: its alerts carry no tenant label.
        globex_firing = alerts_of("globex", [*GLOBEX_ALERTS, UNMATCHED], starts, label_tenant=False)
        await fire(client, tokens["sender"], acme_firing)
        await fire(client, tokens["globex_sender"], globex_firing)

        acme, globex = Tenant("acme"), Tenant("globex")
        drivers = (
            (acme, tokens["acme_commander"], tokens["sender"], acme_firing),
            (globex, admin, tokens["globex_sender"], globex_firing),
        )
        for tenant, token, sender, firing in drivers:
            proposal = await proposal_of(client, admin, tenant.name)
            tenant.ids |= {"tenant": tenant.name, "proposal_id": proposal["id"], "outage_id": proposal["outage_id"]}
            tenant.fingerprints = [a["fingerprint"] for a in firing]
            tenant.ids["fingerprint"] = tenant.fingerprints[0]
            accepted = await ok_json(
                await client.post(f"/api/v1/proposals/{proposal['id']}/accept", json={}, headers=bearer(token))
            )
            assert accepted["state"] == "accepted"

            async def incident(name: str = tenant.name) -> str | None:
                page = await ok_json(await client.get(f"/api/v1/incidents?tenant={name}", headers=bearer(admin)))
                return str(page["items"][0]["id"]) if page["items"] else None

            tenant.ids["incident_id"] = await poll(f"the {tenant.name} incident", incident)
            resolved = [
                {**a, "status": "resolved", "endsAt": datetime.now(UTC).isoformat()}
                for a in firing
                if a["labels"].get("alertname") != UNMATCHED["alertname"]
            ]
            await drive_to_review(client, tenant, actor=token, sender=sender, resolved=resolved)

        doc = await ok_json(await client.get("/api/v1/openapi.json"))
        yield World(client=client, doc=doc, tokens=tokens, acme=acme, globex=globex)


# ---- the document as a table ---------------------------------------------------------------------------------

# A path parameter named like this takes the id stored under another name when the path says so.
_ALIASES = {("/review/actions/", "action_id"): "review_action_id"}


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def protected(self) -> bool:
        return bool(self.spec.get("security"))

    @property
    def params(self) -> list[str]:
        return [p["name"] for p in self.spec.get("parameters", []) if p["in"] == "path"]

    @property
    def query(self) -> set[str]:
        return {p["name"] for p in self.spec.get("parameters", []) if p["in"] == "query"}

    def url(self, tenant: Tenant, /, **override: str) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in override:
                return override[name]
            key = next((alias for (part, n), alias in _ALIASES.items() if n == name and part in self.path), name)
            assert key in tenant.ids, f"{self.method} {self.path}: no {tenant.name} id for {{{name}}}; make one"
            return tenant.ids[key]

        return re.sub(r"{(\w+)}", value, self.path)

    def documented(self, status: int) -> bool:
        return str(status) in self.spec["responses"]


def operations(doc: dict[str, Any]) -> list[Op]:
    ops = [Op(m.upper(), p, spec) for p, methods in doc["paths"].items() for m, spec in methods.items()]
    assert ops, "the OpenAPI document lists no operations"
    return ops


def example(schema: dict[str, Any], doc: dict[str, Any]) -> Any:
    """The smallest value the schema accepts: required fields only, first enum member, shortest string."""
    if "$ref" in schema:
        return example(doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]], doc)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    if "anyOf" in schema:
        return example(next(s for s in schema["anyOf"] if s.get("type") != "null"), doc)
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: example(props[name], doc) for name in schema.get("required", [])}
    if kind == "array":
        return [example(schema.get("items", {}), doc) for _ in range(schema.get("minItems", 0))]
    if kind == "string":
        formats = {"date-time": datetime.now(UTC).isoformat(), "date": "2030-01-15"}
        return formats.get(schema.get("format", ""), "x" * max(1, schema.get("minLength", 1)))
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    return {}


def body_for(op: Op, doc: dict[str, Any]) -> Any:
    """A request body the route's schema accepts, so a refusal is about the caller, not the body."""
    schema = op.spec.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    return example(schema, doc) if schema is not None else {}


async def answer(world: World, op: Op, url: str, headers: Headers, body: Any = None) -> tuple[int, Any, str]:
    """Sends the request and checks what every answer must be: never 5xx, a documented status, JSON errors."""
    if op.method == "GET":
        resp = await world.client.get(url, headers=headers)
    else:
        resp = await world.client.request(
            op.method, url, json=body_for(op, world.doc) if body is None else body, headers=headers
        )
    text = await resp.text()
    where = f"{op.method} {url} -> {resp.status}: {text[:300]}"
    assert resp.status < 500, where
    assert op.documented(resp.status), f"undocumented status: {where}"
    if resp.status >= 400:
        assert resp.content_type == "application/json", where
        body = await resp.json()
        assert set(body) == {"error"}, where
        error = body["error"]
        assert set(error) <= {"code", "message", "problems"}, where
        assert isinstance(error["code"], str), where
        assert isinstance(error["message"], str), where
        assert error["code"], where
        assert error["message"], where
        shapes = {(type(p["field"]), type(p["reason"])) for p in error.get("problems", [])}
        assert shapes <= {(str, str)}, where
        return resp.status, error, where
    documented = op.spec["responses"][str(resp.status)]["content"]
    assert resp.content_type in documented, f"undocumented content type {resp.content_type}: {where}"
    return resp.status, (await resp.json()) if resp.content_type == "application/json" else text, where


def assert_no_markers(text: str, tenant: Tenant, where: str) -> None:
    leaked = [m for m in tenant.markers() if m in text]
    assert not leaked, f"{tenant.name} data {leaked} in {where}"


# ---- the sweeps ----------------------------------------------------------------------------------------------


async def test_every_protected_route_needs_a_token(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        ops = operations(w.doc)
        assert any(not op.protected for op in ops)
        assert any(op.protected for op in ops)
        for op in ops:
            url = op.url(w.acme)
            if not op.protected:
                status, _, where = await answer(w, op, url, {})
                assert status == 200, where
                continue
            for headers in ({}, bearer("micd_not-a-token"), {"Authorization": f"Basic {w.tokens['admin']}"}):
                status, error, where = await answer(w, op, url, headers)
                assert status == 401, where
                assert error["code"] == "unauthenticated", where


async def test_globex_viewer_never_sees_acme_data(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        viewer = bearer(w.tokens["globex_viewer"])
        gets = [op for op in operations(w.doc) if op.method == "GET" and op.protected]
        for op in gets:
            # Its own tenant's data answers, and carries nothing of acme's.
            status, body, where = await answer(w, op, op.url(w.globex), viewer)
            assert status == 200, where
            assert_no_markers(str(body), w.acme, where)
            if isinstance(body, dict) and "items" in body:
                assert body["items"], f"no globex data to check isolation against: {where}"
                assert {item["tenant"] for item in body["items"]} == {"globex"}, where
            elif isinstance(body, dict) and "tenant" in body:
                assert body["tenant"] == "globex", where
            if "tenant" in op.query:
                status, body, where = await answer(w, op, op.url(w.globex) + "?tenant=acme", viewer)
                assert status == 403 or (status == 200 and body["items"] == []), where
            if not op.params:
                continue
            # acme's ids do not exist for this viewer, nor do they when the path names globex.
            status, _, where = await answer(w, op, op.url(w.acme), viewer)
            assert status in (403, 404), where
            if "tenant" in op.params:
                status, _, where = await answer(w, op, op.url(w.acme, tenant="globex"), viewer)
                assert status == 404, where


async def snapshot(w: World) -> list[Any]:
    """Everything a state-changing call could touch, as an admin reads it."""
    admin = bearer(w.tokens["admin"])
    out: list[Any] = []
    for path in ("/api/v1/alerts?limit=1000", "/api/v1/proposals?limit=1000", "/api/v1/incidents?limit=1000"):
        out.append(await ok_json(await w.client.get(path, headers=admin)))
    for tenant in (w.acme, w.globex):
        out.append(await ok_json(await w.client.get(f"/api/v1/incidents/{tenant.ids['incident_id']}", headers=admin)))
    return out


async def test_viewers_change_nothing(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        before = await snapshot(w)
        posts = [op for op in operations(w.doc) if op.method != "GET"]
        assert posts
        for op in posts:
            for name, own, other in (("globex_viewer", w.globex, w.acme), ("acme_viewer", w.acme, w.globex)):
                viewer = bearer(w.tokens[name])
                status, error, where = await answer(w, op, op.url(own), viewer)
                assert status == 403, where
                assert error["code"] == "forbidden", where
                status, _, where = await answer(w, op, op.url(other), viewer)
                assert status in (403, 404), where
        assert await snapshot(w) == before


async def test_commander_of_acme_cannot_act_on_globex(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        before = await snapshot(w)
        commander = bearer(w.tokens["acme_commander"])
        for op in operations(w.doc):
            if op.method == "GET" or not op.params:
                continue
            status, _, where = await answer(w, op, op.url(w.globex), commander)
            assert status in (403, 404), where
        assert await snapshot(w) == before


async def test_permission_checked_before_the_body(tmp_path: Path) -> None:
    """A caller without the permission is refused (403) whatever it sends: the body is not read for it."""
    async with world(tmp_path) as w:
        viewer = bearer(w.tokens["globex_viewer"])
        refused = []
        for op in operations(w.doc):
            if op.method == "GET" or not op.protected:
                continue
            status, _, where = await answer(w, op, op.url(w.globex), viewer, body={"unexpected": True})
            if status != 403:
                refused.append(where)
        assert not refused, "a viewer's POST was validated before its permission:\n" + "\n".join(refused)
