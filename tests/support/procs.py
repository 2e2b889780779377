"""Start real processes on loopback and wait for them, with bounded timeouts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import yaml

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
MICD = [sys.executable, "-m", "daemon"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(probe: Callable[[], T | None], *, timeout: float = 20.0, interval: float = 0.05, what: str = "") -> T:
    """Poll until probe returns something truthy; fail the test with `what` after timeout."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except (OSError, urllib.error.URLError, ValueError, KeyError) as exc:
            last = exc
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what or probe}: {last!r}")


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback test URL
        return bool(resp.status == 200)


class Daemon:
    """`micd serve` as a real child process, the way users run it."""

    def __init__(self, workdir: Path, settings: dict[str, object], env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.settings = {
            "listen": f"127.0.0.1:{self.port}",
            "database": f"sqlite:///{workdir / 'micd.sqlite3'}",
            "rules_dir": str(REPO / "rules"),
            **settings,
        }
        self.config = workdir / "micd.yaml"
        self.config.write_text(yaml.safe_dump(self.settings))
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "micd.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Daemon:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [*MICD, "serve", "--config", str(self.config)], cwd=self.workdir, stdout=log, stderr=log, env=self.env
            )
        wait_until(lambda: self._alive_and(http_ok, self.url + "/readyz"), timeout=30, what="micd /readyz")
        return self

    def _alive_and(self, probe: Callable[[str], bool], url: str) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"micd exited with {self.proc.returncode}: {self.log.read_text()[-3000:]}")
        return probe(url)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            return self.proc.wait(20)
        return self.proc.returncode


@contextmanager
def running(daemon: Daemon) -> Iterator[Daemon]:
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.kill()
