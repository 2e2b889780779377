"""The webhook and alert endpoints as a sender and an operator see them."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest

from daemon.api import health
from daemon.api.auth import new_token
from daemon.app import DATABASE, RELOADERS
from tests.support.client import app_client
from tests.support.payloads import am_webhook_alert, webhook

RULES = Path(__file__).resolve().parents[2] / "rules"

URL = "/api/v1/alerts/alertmanager"
LABELS = {"alertname": "HighErrorRate", "service": "payments-api", "tenant": "acme"}


async def test_errors_are_clear_and_store_nothing(tmp_path: Path) -> None:
    async with app_client(tmp_path, limits={"max_body_bytes": 4096}) as client:
        bad = webhook([am_webhook_alert(LABELS), am_webhook_alert({**LABELS, "x": "1"}, starts="nope")])
        cases: list[tuple[dict[str, Any], int, str]] = [
            ({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400, "malformed_json"),
            ({"data": b"{}", "headers": {"Content-Type": "text/plain"}}, 415, "unsupported_media_type"),
            (
                {"data": b"[" + b" " * 5000 + b"]", "headers": {"Content-Type": "application/json"}},
                413,
                "body_too_large",
            ),
            ({"json": bad}, 422, "invalid"),
        ]
        for kwargs, status, code in cases:
            resp = await client.post(URL, **kwargs)
            body = await resp.json()
            assert resp.status == status, body
            assert body["error"]["code"] == code
        resp = await client.post(URL, json=bad)
        problems = (await resp.json())["error"]["problems"]
        assert problems[0]["field"] == "alerts[1].startsAt"
        # The valid first alert of the refused request was not stored either.
        listing = await (await client.get("/api/v1/alerts")).json()
        assert listing == {"items": [], "total": 0, "next": None}


async def test_resend_is_idempotent_and_list_paginates(tmp_path: Path) -> None:
    async with app_client(tmp_path) as client:
        payload = webhook([am_webhook_alert({**LABELS, "pod": f"p{i}"}) for i in range(5)])
        first = await (await client.post(URL, json=payload)).json()
        again = await (await client.post(URL, json=payload)).json()
        assert first == {"received": 5, "changed": 5}
        assert again == {"received": 5, "changed": 0}
        seen: list[str] = []
        cursor = None
        while True:
            query = "?limit=2&tenant=acme&status=firing" + (f"&cursor={cursor}" if cursor else "")
            page = await (await client.get("/api/v1/alerts" + query)).json()
            assert page["total"] == 5
            seen += [a["fingerprint"] for a in page["items"]]
            cursor = page["next"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == 5
        resp = await client.get("/api/v1/alerts?status=pending")
        assert resp.status == 422
        assert (await resp.json())["error"]["problems"][0]["field"] == "status"
        resp = await client.get("/api/v1/alerts?cursor=%%%")
        assert resp.status == 422


async def test_tokens_roles_and_tenant_scope(tmp_path: Path) -> None:
    sender, sender_sha = new_token()
    viewer, viewer_sha = new_token()
    globex_viewer, globex_sha = new_token()
    auth = {
        "webhook_tokens": [{"name": "am-acme", "sha256": sender_sha, "tenant": "acme"}],
        "api_tokens": [
            {"name": "noc", "sha256": viewer_sha, "role": "viewer"},
            {"name": "globex", "sha256": globex_sha, "role": "viewer", "tenants": ["globex"]},
        ],
    }
    async with app_client(tmp_path, auth=auth) as client:
        payload = webhook([am_webhook_alert({"alertname": "X"})])
        assert (await client.post(URL, json=payload)).status == 401
        assert (await client.post(URL, json=payload, headers={"Authorization": "Bearer nope"})).status == 401
        assert (await client.post(URL, json=payload, headers={"Authorization": f"Bearer {viewer}"})).status == 403
        ok = await client.post(URL, json=payload, headers={"Authorization": f"Bearer {sender}"})
        assert ok.status == 200
        # The token bound to acme put the unlabelled alert into acme and may not post for globex.
        other = webhook([am_webhook_alert({"alertname": "X", "tenant": "globex"})])
        assert (await client.post(URL, json=other, headers={"Authorization": f"Bearer {sender}"})).status == 422
        listing = await (await client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {viewer}"})).json()
        assert [a["tenant"] for a in listing["items"]] == ["acme"]
        scoped = await (await client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {globex_sha}"})).json()
        assert scoped["error"]["code"] == "unauthenticated"  # a hash is not a token
        scoped = await (await client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {globex_viewer}"})).json()
        assert scoped["total"] == 0
        resp = await client.get("/api/v1/alerts?tenant=acme", headers={"Authorization": f"Bearer {globex_viewer}"})
        assert resp.status == 403
        assert (await client.get("/healthz")).status == 200


async def test_openapi_describes_every_route(tmp_path: Path) -> None:
    async with app_client(tmp_path) as client:
        doc = await (await client.get("/api/v1/openapi.json")).json()
        documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
        served = {
            (r.method, r.resource.canonical)
            for r in client.app.router.routes()
            if r.method != "HEAD" and r.resource is not None
        }
        assert served == documented
        assert json.dumps(doc)  # serialisable


async def test_readiness_reads_the_store_and_shows_a_refused_reload(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules, ignore=shutil.ignore_patterns("examples"))
    async with app_client(tmp_path, rules_dir=rules) as client:
        ready = await (await client.get("/readyz")).json()
        assert ready["status"] == "ready"
        assert ready["checks"]["store"]["ok"]
        assert ready["checks"]["rules"]["ok"]
        (rules / "broken.yaml").write_text("kind: impact\nrules: [oops\n")
        for reload in client.app[RELOADERS]:
            reload()
        ready = await (await client.get("/readyz")).json()
        assert ready["status"] == "ready"  # the old rules still serve
        assert "last reload refused: " in ready["checks"]["rules"]["detail"]
        assert "broken.yaml" in ready["checks"]["rules"]["detail"]
        client.app[DATABASE].close()
        resp = await client.get("/readyz")
        body = await resp.json()
        assert resp.status == 503
        assert body["checks"]["store"]["ok"] is False


async def test_every_refused_webhook_is_counted_by_reason(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="micd.api")
    sender, sender_sha = new_token()
    viewer, viewer_sha = new_token()
    auth = {
        "webhook_tokens": [{"name": "am", "sha256": sender_sha}],
        "api_tokens": [{"name": "noc", "sha256": viewer_sha, "role": "viewer"}],
    }
    payload = webhook([am_webhook_alert(LABELS)])
    async with app_client(tmp_path, auth=auth) as client:
        registry = client.app[health.METRICS].registry

        def rejected(reason: str) -> float:
            labels = {"source": "alertmanager", "reason": reason}
            return registry.get_sample_value("micd_alerts_rejected_total", labels) or 0.0

        assert (await client.post(URL, json=payload)).status == 401
        assert (await client.post(URL, json=payload, headers={"Authorization": "Bearer nope"})).status == 401
        assert (await client.post(URL, json=payload, headers={"Authorization": f"Bearer {viewer}"})).status == 403
        as_sender = {"Authorization": f"Bearer {sender}", "Content-Type": "application/json"}
        assert (await client.post(URL, data=b"{", headers=as_sender)).status == 400
        assert (await client.post(URL, json=payload, headers={"Authorization": f"Bearer {sender}"})).status == 200
        assert rejected("unauthenticated") == 2
        assert rejected("forbidden") == 1
        assert rejected("malformed_json") == 1
    refused = [r for r in caplog.records if r.getMessage() == "request refused"]
    assert [getattr(r, "status", None) for r in refused] == [401, 401, 403, 400]
    assert all(sender not in r.getMessage() and viewer not in str(r.__dict__) for r in refused)
