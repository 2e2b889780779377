"""`micd token new`: a fresh bearer token and the hash that goes into settings (the token itself never does)."""

from __future__ import annotations

import argparse
from typing import Any

from daemon.api.auth import new_token


def register(sub: Any) -> None:
    p = sub.add_parser("token", help="make API and webhook tokens")
    actions = p.add_subparsers(dest="action", required=True)
    new = actions.add_parser("new", help="print a new token and its sha256 for settings")
    new.set_defaults(run=_new)


def _new(args: argparse.Namespace) -> int:
    token, sha = new_token()
    print(f"token:  {token}\nsha256: {sha}")
    return 0
