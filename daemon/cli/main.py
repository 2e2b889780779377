"""Entry point: `micd <command>`. Exit codes: 0 ok, 1 failure, 2 invalid input or settings."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from daemon import __version__
from daemon.cli import backtest, config_cmd, fire, incidents, kpi, proposals, rules, serve, token

COMMAND_MODULES = [serve, config_cmd, token, rules, fire, backtest, proposals, incidents, kpi]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="micd", description="Major incident command daemon")
    p.add_argument("--version", action="version", version=f"micd {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
