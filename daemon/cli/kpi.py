"""`micd kpi baseline` and `micd kpi report`: the rollout's KPI baseline and its movement against targets.

Both read the SQLite database the settings name, directly, because a report is a read over history and must
work whether or not the daemon is up (WAL lets it read beside a running daemon). `baseline` writes one
snapshot row in one small transaction. Exit codes: 0 ok, 1 failure, 2 invalid input or settings.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from daemon.cli.config_cmd import add_config_option, report
from daemon.config.settings import Settings, load
from daemon.kernel.clock import SystemClock, utc
from daemon.kernel.errors import ConfigError, InvalidInput, MicdError, NotFound
from daemon.kpi import report as kpi_report
from daemon.kpi.compute import parse_span, snapshot
from daemon.store import kpi as store
from daemon.store.database import Database

T = TypeVar("T")


def register(sub: Any) -> None:
    p = sub.add_parser("kpi", help="KPI baseline and rollout report (MTTR, compliance, repeat rate, precision)")
    actions = p.add_subparsers(dest="action", required=True)
    base = actions.add_parser("baseline", help="compute the KPIs over a window, store them as the baseline, print them")
    add_config_option(base)
    base.add_argument("--window", default="30d", help="how far back the baseline looks: 12h, 30d, 8w (default 30d)")
    base.add_argument("--label", default="", help="a name for the snapshot, e.g. 'pre-rollout'")
    base.add_argument("--until", default=None, help="end of the window, ISO 8601 (default now)")
    base.set_defaults(run=_baseline)
    rep = actions.add_parser("report", help="KPIs per tenant over a period against the baseline and the targets")
    add_config_option(rep)
    rep.add_argument("--since", default="4w", help="the period, back from --until: 30d, 8w (default 4w)")
    rep.add_argument("--until", default=None, help="end of the period, ISO 8601 (default now)")
    rep.add_argument("--format", choices=["md", "html"], default="md", help="Markdown (default) or an HTML page")
    rep.add_argument("--output", type=Path, default=None, help="write to this file instead of standard output")
    rep.add_argument("--baseline", type=int, default=None, metavar="ID", help="compare with this snapshot (latest)")
    rep.set_defaults(run=_report)


def _until(text: str | None, now: datetime) -> datetime:
    if text is None:
        return now
    try:
        return utc(datetime.fromisoformat(text))
    except ValueError as exc:
        raise InvalidInput.field("--until", f"{text!r} is not an ISO 8601 time such as 2026-03-02T09:00Z") from exc


def _with_database(settings: Settings, fn: Callable[[Database], T]) -> T:
    path = settings.sqlite_path
    if not path.is_file():
        raise NotFound(f"no database at {path} (the `database` setting): run `micd serve` once, or pass --config")
    db = Database(path)
    try:
        return fn(db)
    finally:
        db.close()


def _run(args: argparse.Namespace, body: Callable[[Settings, datetime], str]) -> int:
    try:
        settings = load(args.config)
    except ConfigError as exc:
        return report(exc)
    try:
        print(body(settings, SystemClock().now()), end="")
    except (InvalidInput, NotFound) as exc:
        print(f"micd: {exc.message}", file=sys.stderr)
        return 2
    except MicdError as exc:
        print(f"micd: {exc.message}", file=sys.stderr)
        return 1
    return 0


def _baseline(args: argparse.Namespace) -> int:
    def body(settings: Settings, now: datetime) -> str:
        window = parse_span(args.window, field="--window")
        end = _until(args.until, now)

        def take(db: Database) -> str:
            db.migrate(store.MIGRATIONS)
            facts = db.read_sync(lambda c: store.records(c, start=end - window, end=end))
            snap = snapshot(facts, start=end - window, end=end, tenants=settings.tenants, label=args.label, now=now)
            saved = db.write_sync(lambda c: store.add_baseline(c, snap))
            return kpi_report.snapshot_markdown(saved)

        return _with_database(settings, take)

    return _run(args, body)


def _report(args: argparse.Namespace) -> int:
    def body(settings: Settings, now: datetime) -> str:
        period = parse_span(args.since, field="--since")
        end = _until(args.until, now)

        def read(db: Database) -> kpi_report.Report:
            facts = db.read_sync(lambda c: store.records(c, start=end - period, end=end))
            base = db.read_sync(lambda c: store.baseline(c, args.baseline))
            return kpi_report.build(
                facts,
                start=end - period,
                end=end,
                now=now,
                baseline=base,
                targets=settings.kpi,
                tenants=settings.tenants,
            )

        built = _with_database(settings, read)
        text = kpi_report.html(built) if args.format == "html" else kpi_report.markdown(built)
        if args.output is None:
            return text
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InvalidInput.field("--output", f"cannot write {args.output}: {exc.strerror}") from exc
        return f"KPI report ({args.format}) written to {args.output}\n"

    return _run(args, body)
