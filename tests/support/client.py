"""An in-process micd behind aiohttp's test server, for API tests that need no other process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from daemon.app import build_app
from daemon.config.settings import Settings
from daemon.kernel.clock import Clock


@asynccontextmanager
async def app_client(
    tmp_path: Path, clock: Clock | None = None, **settings: Any
) -> AsyncIterator[TestClient[Any, Any]]:
    config = Settings(database=f"sqlite:///{tmp_path / 'micd.sqlite3'}", **settings)
    client: TestClient[Any, Any] = TestClient(TestServer(build_app(config, clock=clock)))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()
