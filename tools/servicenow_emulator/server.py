"""Runs the emulator over HTTPS on 127.0.0.1 with a throw-away CA, and can go down and come back on the same port.

Down means what a dead instance looks like to a client: the listening socket is closed (connection refused) and
open keep-alive connections are cut. The records survive, so a test sees the same instance come back.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable, Coroutine, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import trustme
from aiohttp import web

from tools.servicenow_emulator.app import State, make_app
from tools.servicenow_emulator.rest import Account, TableApi
from tools.servicenow_emulator.tables import Store

HOST = "127.0.0.1"


class Emulator:
    def __init__(
        self,
        *,
        cert_dir: Path,
        port: int = 0,
        accounts: Iterable[Account] = (Account("admin", "admin"),),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.port = port
        self.ca = trustme.CA()
        cert_dir.mkdir(parents=True, exist_ok=True)
        self.ca_path = cert_dir / "servicenow-emulator-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_path))
        self._ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(HOST, "localhost").configure_cert(self._ssl)
        store = Store(clock=clock)
        self.state = State(api=TableApi(store, base_url=""), accounts={a.user_name: a for a in accounts})
        for account in accounts:
            store.add_user(account.user_name, account.user_name)
        self._runner: web.AppRunner | None = None
        self._site: web.SockSite | None = None
        self._revive: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.port}"

    @property
    def store(self) -> Store:
        return self.state.api.store

    @property
    def listening(self) -> bool:
        return self._site is not None

    async def start(self) -> None:
        self._runner = web.AppRunner(make_app(self.state, go_down=self.go_down), access_log=None)
        await self._runner.setup()
        await self.up()

    async def up(self) -> None:
        """Listen (again) on the same port."""
        assert self._runner is not None, "start() first"
        if self._site is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, self.port))
        self.port = sock.getsockname()[1]
        self.state.api.base_url = self.url
        self._site = web.SockSite(self._runner, sock, ssl_context=self._ssl)
        await self._site.start()

    async def down(self) -> None:
        """Stop listening and cut open connections: clients now get connection refused."""
        if self._site is None or self._runner is None:
            return
        await self._site.stop()
        self._site = None
        server = self._runner.server
        for connection in server.connections if server else []:
            connection.force_close()

    def go_down(self, seconds: float) -> None:
        """Down shortly (after the control answer is out), up again `seconds` later."""
        loop = asyncio.get_running_loop()
        if self._revive is not None:
            self._revive.cancel()
        loop.call_later(0.05, self._spawn, self.down)
        self._revive = loop.call_later(0.05 + seconds, self._spawn, self.up)

    def _spawn(self, action: Callable[[], Coroutine[Any, Any, None]]) -> None:
        task = asyncio.get_running_loop().create_task(action())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        if self._revive is not None:
            self._revive.cancel()
        await self.down()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
