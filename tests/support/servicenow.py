"""The ServiceNow emulator as a separate HTTPS process, and the calls a person would make to it."""

from __future__ import annotations

import base64
import json
import re
import ssl
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.procs import REPO, free_port, wait_until


class ServiceNowEmulator:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.cert_dir = workdir / "servicenow"
        self.log = workdir / "servicenow.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca(self) -> Path:
        return next(self.cert_dir.glob("*.pem"))

    def start(self) -> ServiceNowEmulator:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tools.servicenow_emulator",
                    "--port",
                    str(self.port),
                    "--cert-dir",
                    str(self.cert_dir),
                ],
                cwd=REPO,
                stdout=log,
                stderr=log,
            )
        wait_until(lambda: re.search(rb"CA certificate: ", self.log.read_bytes()), timeout=30, what="emulator up")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def _call(self, method: str, path: str, body: Any = None, *, auth: bool = True) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            headers["Authorization"] = "Basic " + base64.b64encode(b"admin:admin").decode()
        req = urllib.request.Request(  # noqa: S310 - loopback HTTPS
            self.url + path, data=None if body is None else json.dumps(body).encode(), headers=headers, method=method
        )
        context = ssl.create_default_context(cafile=str(self.ca))
        with urllib.request.urlopen(req, timeout=10, context=context) as resp:  # noqa: S310
            return json.loads(resp.read() or b"null")

    def incidents(self, query: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call(
            "GET", "/api/now/table/incident?" + urllib.parse.urlencode({"sysparm_query": query})
        )["result"]
        return found

    def journal(self, sys_id: str) -> list[str]:
        rows = self._call(
            "GET",
            "/api/now/table/sys_journal_field?"
            + urllib.parse.urlencode({"sysparm_query": f"element_id={sys_id}^element=work_notes"}),
        )["result"]
        return [r["value"] for r in rows]

    def act(self, sys_id: str, decision: str, actor: str, reason: str = "") -> None:
        self._call("POST", f"/_emulator/incidents/{sys_id}/{decision}", {"actor": actor, "reason": reason}, auth=False)

    def fault(self, **fault: Any) -> None:
        """Inject a fault (tools.servicenow_emulator.faults.Fault fields) for the next matching API requests."""
        self._call("POST", "/_emulator/faults", fault, auth=False)

    def clear_faults(self) -> None:
        self._call("DELETE", "/_emulator/faults", auth=False)
