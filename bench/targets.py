"""The servers under load, as real processes on loopback: `micd serve` and the Debian Alertmanager."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml

from bench.loadgen import AM_V2, WEBHOOK
from daemon.api.auth import new_token
from tests.support.alertmanager import BINARY, Alertmanager
from tests.support.procs import Daemon


class Target(Protocol):
    """Where to post, in which format, and the process to read /proc of."""

    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def fmt(self) -> str: ...
    @property
    def token(self) -> str | None: ...
    @property
    def pid(self) -> int: ...
    @property
    def metrics_url(self) -> str | None:
        """Base URL whose /metrics has micd's histograms, or None for a server without them."""
        ...


@dataclass
class Micd:
    daemon: Daemon
    token: str
    name: str = "micd"
    fmt: str = WEBHOOK

    @property
    def url(self) -> str:
        return self.daemon.url + "/api/v1/alerts/alertmanager"

    @property
    def metrics_url(self) -> str | None:
        return self.daemon.url

    @property
    def pid(self) -> int:
        assert self.daemon.proc is not None
        return self.daemon.proc.pid


@dataclass
class Am:
    am: Alertmanager
    name: str = "alertmanager"
    fmt: str = AM_V2
    token: str | None = None
    metrics_url: str | None = None

    @property
    def url(self) -> str:
        return self.am.url + "/api/v2/alerts"

    @property
    def pid(self) -> int:
        assert self.am.proc is not None
        return self.am.proc.pid


@contextmanager
def micd_running(workdir: Path) -> Iterator[Micd]:
    """micd as users run it, with a webhook token (so authentication is part of the measured path)."""
    token, sha = new_token()
    daemon = Daemon(workdir, {"auth": {"webhook_tokens": [{"name": "bench", "sha256": sha}]}}).start()
    try:
        yield Micd(daemon, token)
    finally:
        daemon.kill()


@contextmanager
def alertmanager_running(workdir: Path) -> Iterator[Am]:
    """Alertmanager grouping by (alertname, tenant) as micd's senders do, with its default timers and a receiver
    that sends nothing, so what is measured is its ingest. resolve_timeout is long so that alerts stay active for
    the whole run. Short test timers (group_interval 1s) would make it re-flush every group every second, which
    no production setup does and which would slow it down unfairly."""
    am = Alertmanager(workdir, webhook_url="http://127.0.0.1:9/unused")
    config = {
        "global": {"resolve_timeout": "6h"},
        "route": {"receiver": "null", "group_by": ["alertname", "tenant"]},
        "receivers": [{"name": "null"}],
    }
    (workdir / "alertmanager.yml").write_text(yaml.safe_dump(config))
    am.start()
    try:
        yield Am(am)
    finally:
        am.stop()


def stored_alerts(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM alerts").fetchone()[0])


def alertmanager_version() -> str:
    out = subprocess.run([BINARY, "--version"], capture_output=True, text=True, check=False)
    text = out.stdout or out.stderr
    return text.splitlines()[0] if text else "unknown"
