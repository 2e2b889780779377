"""The real Alertmanager from Debian, configured to send its webhook to a micd."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.procs import free_port, http_ok, wait_until

BINARY = "/usr/bin/prometheus-alertmanager"


def require_binary() -> str:
    path = shutil.which(BINARY)
    if path is None:
        pytest.fail(f"{BINARY} is missing: `make test` installs it (apt-get install prometheus-alertmanager)")
    return path


class Alertmanager:
    def __init__(
        self,
        workdir: Path,
        *,
        webhook_url: str,
        token: str | None = None,
        group_by: list[str] | None = None,
        repeat_interval: str = "1h",
    ) -> None:
        self.port = free_port()
        self.workdir = workdir
        receiver: dict[str, Any] = {"url": webhook_url, "send_resolved": True}
        if token:
            receiver["http_config"] = {"authorization": {"type": "Bearer", "credentials": token}}
        config = {
            "route": {
                "receiver": "micd",
                "group_by": group_by or ["alertname", "tenant"],
                "group_wait": "0s",
                "group_interval": "1s",
                "repeat_interval": repeat_interval,
            },
            "receivers": [{"name": "micd", "webhook_configs": [receiver]}],
        }
        (workdir / "alertmanager.yml").write_text(yaml.safe_dump(config))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Alertmanager:
        log = (self.workdir / "alertmanager.log").open("ab")
        self.proc = subprocess.Popen(
            [
                require_binary(),
                f"--config.file={self.workdir / 'alertmanager.yml'}",
                f"--storage.path={self.workdir / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=log,
        )
        wait_until(lambda: http_ok(self.url + "/-/ready"), timeout=30, what="alertmanager ready")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        req = urllib.request.Request(  # noqa: S310 - loopback
            self.url + "/api/v2/alerts",
            data=json.dumps(alerts).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310
            assert resp.status == 200

    def notifications_sent(self) -> float:
        with urllib.request.urlopen(self.url + "/metrics", timeout=5) as resp:  # noqa: S310
            text = resp.read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith("alertmanager_notifications_total{") and 'integration="webhook"' in line:
                total += float(line.rsplit(" ", 1)[1])
        return total


def am_alert(labels: dict[str, str], *, ends: datetime | None = None, starts: datetime | None = None) -> dict[str, Any]:
    alert: dict[str, Any] = {"labels": labels, "annotations": {"summary": "test"}, "generatorURL": "http://prom/graph"}
    if starts is not None:
        alert["startsAt"] = starts.isoformat()
    if ends is not None:
        alert["endsAt"] = ends.isoformat()
    return alert


def now() -> datetime:
    return datetime.now(UTC)
