"""The real Prometheus from Debian, scraping a micd and evaluating the shipped rules."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.procs import REPO, free_port, http_ok, wait_until

BINARY = "/usr/bin/prometheus"


class Prometheus:
    def __init__(self, workdir: Path, *, targets: list[str], rule_files: list[Path] | None = None) -> None:
        if shutil.which(BINARY) is None:
            pytest.fail(f"{BINARY} is missing: `make test` installs it (apt-get install prometheus)")
        self.port = free_port()
        self.workdir = workdir
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(p) for p in (rule_files or sorted((REPO / "deploy/prometheus").glob("*.rules.yml")))],
            "scrape_configs": [{"job_name": "micd", "static_configs": [{"targets": targets}]}],
        }
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Prometheus:
        log = (self.workdir / "prometheus.log").open("ab")
        self.proc = subprocess.Popen(
            [
                BINARY,
                f"--config.file={self.workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.workdir / 'prom-data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=log,
        )
        wait_until(lambda: http_ok(self.url + "/-/ready"), timeout=60, what="prometheus ready")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)

    def api(self, path: str, **params: str) -> Any:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - loopback
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read())

    def query(self, expr: str) -> Any:
        return self.api("/api/v1/query", query=expr)

    def scraped(self) -> bool:
        targets = self.api("/api/v1/targets")["data"]["activeTargets"]
        return bool(targets) and all(t["health"] == "up" for t in targets)
