"""`micd fire FILE`: send an Alertmanager API v2 alert array to a running micd as a webhook (v4) payload.

For trying rules/examples/*.json without an Alertmanager. Alerts without startsAt start now; alerts
with an endsAt in the past are sent as resolved.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_URL = "http://127.0.0.1:9095/api/v1/alerts/alertmanager"


def to_webhook(alerts: list[dict[str, Any]], *, now: datetime) -> dict[str, Any]:
    """Wrap API v2 alerts the way Alertmanager would notify them: one group, payload version 4."""
    out = []
    for alert in alerts:
        ends = alert.get("endsAt")
        resolved = bool(ends) and datetime.fromisoformat(str(ends).replace("Z", "+00:00")) <= now
        out.append(
            {
                "status": "resolved" if resolved else "firing",
                "labels": alert.get("labels", {}),
                "annotations": alert.get("annotations", {}),
                "startsAt": alert.get("startsAt") or now.isoformat(),
                "endsAt": ends or "0001-01-01T00:00:00Z",
                "generatorURL": alert.get("generatorURL", ""),
            }
        )
    status = "firing" if any(a["status"] == "firing" for a in out) else "resolved"
    return {"version": "4", "groupKey": "micd-fire", "status": status, "receiver": "micd", "alerts": out}


def register(sub: Any) -> None:
    p = sub.add_parser("fire", help="send an Alertmanager API v2 alert array (JSON file) to a running micd")
    p.add_argument("file", type=Path)
    p.add_argument("--url", default=DEFAULT_URL, help=f"webhook URL (default {DEFAULT_URL})")
    p.add_argument("--token-env", default="MICD_TOKEN", help="environment variable holding the bearer token")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        alerts = json.loads(args.file.read_text())
    except (OSError, ValueError) as exc:
        print(f"{args.file}: cannot read an alert array: {exc}", file=sys.stderr)
        return 2
    if not isinstance(alerts, list):
        print(f"{args.file}: expected a JSON array of alerts (Alertmanager API v2)", file=sys.stderr)
        return 2
    body = json.dumps(to_webhook(alerts, now=datetime.now(UTC))).encode()
    headers = {"Content-Type": "application/json"}
    token = os.environ.get(args.token_env, "")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(args.url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the operator's own micd
            print(response.read().decode())
    except urllib.error.HTTPError as exc:
        print(f"micd answered {exc.code}: {exc.read().decode()}", file=sys.stderr)
        return 1
    except urllib.error.URLError as exc:
        print(f"cannot reach {args.url}: {exc.reason}", file=sys.stderr)
        return 1
    return 0
