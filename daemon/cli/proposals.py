"""`micd proposals accept|reject ID`: the commander's decision through the running daemon's HTTP API.

The CLI talks to the daemon rather than to its database, so the decision takes the same path as from the API
(outbox delivery to ServiceNow, declaration, metrics) and the daemon's auth applies.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

DEFAULT_URL = "http://127.0.0.1:9095"
TIMEOUT = 30.0


def register(sub: Any) -> None:
    p = sub.add_parser("proposals", help="decide on major-incident proposals")
    actions = p.add_subparsers(dest="action", required=True)
    accept = actions.add_parser("accept", help="accept a proposal: declares the major incident")
    accept.add_argument("--reason", default="", help="why, for the record")
    reject = actions.add_parser("reject", help="reject a proposal: it is not a major incident")
    reject.add_argument("--reason", required=True, help="why (required)")
    for action in (accept, reject):
        action.add_argument("proposal_id", metavar="ID")
        action.add_argument("--commander", default=None, help="who commands/decided; the token's name by default")
        action.add_argument("--url", default=os.environ.get("MICD_URL", DEFAULT_URL), help="micd base URL (MICD_URL)")
        action.add_argument("--token", default=None, help="API token with the commander role (default: MICD_TOKEN)")
        action.set_defaults(run=_run)


def _request(args: argparse.Namespace) -> urllib.request.Request:
    body: dict[str, str] = {"reason": args.reason}
    if args.commander:
        body["commander"] = args.commander
    path = f"/api/v1/proposals/{urllib.parse.quote(args.proposal_id, safe='')}/{args.action}"
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    token = args.token or os.environ.get("MICD_TOKEN", "")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    url = args.url.rstrip("/") + path
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"--url must be an http(s) URL, not {args.url!r}")
    return urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")  # noqa: S310


def _error_text(raw: bytes) -> str:
    try:
        error = json.loads(raw)["error"]
    except (ValueError, KeyError, TypeError):
        return raw.decode(errors="replace")[:500]
    problems = "; ".join(f"{p['field']}: {p['reason']}" for p in error.get("problems", []))
    return str(error.get("message", "")) + (f" ({problems})" if problems else "")


def _run(args: argparse.Namespace) -> int:
    try:
        request = _request(args)
    except ValueError as exc:
        print(f"micd: {exc}", file=sys.stderr)
        return 2
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310 (URL scheme checked)
            proposal = json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        print(f"micd: {exc.code}: {_error_text(exc.read())}", file=sys.stderr)
        return 2 if exc.code in (400, 415, 422) else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"micd: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    number = f" ({proposal['external_number']})" if proposal.get("external_number") else ""
    print(f"proposal {proposal['id']}{number} {proposal['state']} by {proposal.get('decided_by')}")
    return 0
