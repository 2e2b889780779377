"""`micd rules check [DIR]`: validate the catalogue and impact rules; exit 2 naming file, line and reason."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from daemon.catalog.models import PLATFORM
from daemon.kernel.errors import ConfigError
from daemon.runtime.rules import read_rules


def register(sub: Any) -> None:
    p = sub.add_parser("rules", help="work with the service catalogue and impact rules")
    actions = p.add_subparsers(dest="action", required=True)
    check = actions.add_parser("check", help="exit 0 if every rules file is valid, 2 listing each problem if not")
    check.add_argument("dir", nargs="?", type=Path, default=Path("rules"), help="rules directory (default rules/)")
    check.set_defaults(run=_check)


def _check(args: argparse.Namespace) -> int:
    try:
        rules = read_rules(args.dir)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"{problem.field}: {problem.reason}", file=sys.stderr)
        if not exc.problems:
            print(exc.message, file=sys.stderr)
        count = len(exc.problems) or 1
        print(f"rules invalid: {count} problem(s); a running micd keeps its rules until they pass", file=sys.stderr)
        return 2
    shared = sum(1 for tenant, _ in rules.catalog.services if tenant == PLATFORM)
    modes = sorted({r.mode for r in rules.book.rules})
    print(
        f"rules ok: {len(rules.catalog.services)} services ({shared} shared platform, tenants:"
        f" {', '.join(rules.catalog.tenants) or 'none'}), {len(rules.book.rules)} impact rules"
        f" ({', '.join(modes) or 'none'}), from {len(rules.sources)} files"
    )
    return 0
