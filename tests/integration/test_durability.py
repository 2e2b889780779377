"""What micd acknowledged survives SIGKILL; SIGTERM drains and exits 0; unsafe listening is refused."""

from __future__ import annotations

import json
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support.payloads import am_webhook_alert, webhook
from tests.support.procs import MICD, Daemon, free_port, wait_until

pytestmark = pytest.mark.integration


def post(url: str, payload: dict[str, Any]) -> int:
    req = urllib.request.Request(  # noqa: S310 - loopback
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310
        return int(resp.status)


def all_alerts(daemon: Daemon) -> set[str]:
    found: set[str] = set()
    cursor = ""
    while True:
        url = f"{daemon.url}/api/v1/alerts?limit=1000" + (f"&cursor={cursor}" if cursor else "")
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310
            page = json.loads(resp.read())
        found |= {a["fingerprint"] for a in page["items"]}
        if not page["next"]:
            return found
        cursor = page["next"]


def test_sigkill_mid_stream_loses_no_acknowledged_alert(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, {}).start()
    acknowledged: set[str] = set()
    stop = threading.Event()

    def stream() -> None:
        batch = 0
        while not stop.is_set() and batch < 5000:
            alerts = [am_webhook_alert({"alertname": "Load", "tenant": "acme", "n": f"{batch}-{i}"}) for i in range(20)]
            try:
                if post(daemon.url + "/api/v1/alerts/alertmanager", webhook(alerts)) == 200:
                    acknowledged.update(a["fingerprint"] for a in alerts)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                return
            batch += 1

    sender = threading.Thread(target=stream)
    sender.start()
    wait_until(lambda: len(acknowledged) >= 2000, timeout=60, what="2000 acknowledged alerts")
    daemon.kill()
    stop.set()
    sender.join(10)
    assert daemon.proc is not None
    assert daemon.proc.returncode == -9

    daemon.start()
    try:
        stored = all_alerts(daemon)
        assert acknowledged <= stored
    finally:
        daemon.kill()


def test_sigterm_finishes_and_exits_zero(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, {}).start()
    post(daemon.url + "/api/v1/alerts/alertmanager", webhook([am_webhook_alert({"alertname": "A"})]))
    assert daemon.stop() == 0
    assert '"msg":"stopped"' in daemon.log.read_text()


def test_refuses_open_address_without_tokens(tmp_path: Path) -> None:
    config = tmp_path / "micd.yaml"
    port = free_port()
    config.write_text(f"listen: 0.0.0.0:{port}\ndatabase: sqlite:///" + str(tmp_path / "db.sqlite3") + "\n")
    result = subprocess.run([*MICD, "serve", "--config", str(config)], capture_output=True, timeout=30, check=False)
    assert result.returncode == 2
    assert f"refusing to listen on 0.0.0.0:{port} without tokens".encode() in result.stderr
