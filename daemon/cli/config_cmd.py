"""`micd config show|check`: what the daemon would run with, and whether it is valid."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from daemon.config.settings import load, masked
from daemon.kernel.errors import ConfigError


def add_config_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", type=Path, default=None, help="YAML settings file (MICD_* env overrides it)")


def register(sub: Any) -> None:
    p = sub.add_parser("config", help="show or check the effective settings")
    actions = p.add_subparsers(dest="action", required=True)
    show = actions.add_parser("show", help="print effective settings, secrets masked")
    add_config_option(show)
    show.set_defaults(run=_show)
    check = actions.add_parser("check", help="exit 0 if the settings are valid, 2 naming the key and reason if not")
    add_config_option(check)
    check.set_defaults(run=_check)


def report(exc: ConfigError) -> int:
    if exc.problems:
        for p in exc.problems:
            print(f"invalid setting {p.field}: {p.reason}", file=sys.stderr)
    else:
        print(f"invalid settings: {exc.message}", file=sys.stderr)
    return 2


def _show(args: argparse.Namespace) -> int:
    try:
        settings = load(args.config)
    except ConfigError as exc:
        return report(exc)
    print(yaml.safe_dump(masked(settings), sort_keys=False), end="")
    return 0


def _check(args: argparse.Namespace) -> int:
    try:
        load(args.config)
    except ConfigError as exc:
        return report(exc)
    print("settings ok")
    return 0
