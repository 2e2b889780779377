"""`micd fire FILE`: an API v2 alert array reaches a webhook receiver as one version-4 payload."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from daemon.cli import fire
from daemon.ingest.alertmanager import parse_webhook
from tests.correlation.factory import RULES_DIR


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    fire.register(parser.add_subparsers())
    args = parser.parse_args(["fire", *argv])
    code: int = args.run(args)
    return code


async def test_fire_posts_the_example_as_a_webhook(monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[dict[str, Any]] = []

    async def receive(request: web.Request) -> web.Response:
        received.append({"auth": request.headers.get("Authorization"), "body": await request.read()})
        return web.json_response({"received": 4, "changed": 4})

    app = web.Application()
    app.router.add_post("/api/v1/alerts/alertmanager", receive)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        monkeypatch.setenv("MICD_TOKEN", "s3cret")
        url = str(server.make_url("/api/v1/alerts/alertmanager"))
        code = await asyncio.to_thread(run, str(RULES_DIR / "examples" / "outage.json"), "--url", url)
    finally:
        await server.close()
    assert code == 0
    (call,) = received
    assert call["auth"] == "Bearer s3cret"
    alerts = parse_webhook(call["body"], tenant_label="tenant", bound_tenant=None, max_alerts=100)
    assert {a.tenant for a in alerts} == {"acme"}
    assert len(alerts) == 4


def test_fire_refuses_what_is_not_an_alert_array(tmp_path: Any) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"alerts": []}')
    assert run(str(path)) == 2
