"""`micd serve`: run the daemon until SIGTERM or SIGINT; SIGHUP reloads rules."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sqlite3
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

from daemon import __version__
from daemon.app import RELOADERS, build_app
from daemon.cli.config_cmd import add_config_option, report
from daemon.config.settings import Settings, load
from daemon.kernel.errors import ConfigError, FieldProblem
from daemon.telemetry import logs

log = logging.getLogger("micd.serve")

SHUTDOWN_GRACE_SECONDS = 10.0


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the daemon")
    add_config_option(p)
    p.set_defaults(run=_serve)


def refuse_insecure(settings: Settings) -> str | None:
    """Without tokens micd serves only on loopback, unless the operator says otherwise in writing."""
    if settings.auth.enabled or settings.loopback_only or settings.auth.insecure:
        return None
    return (
        f"refusing to listen on {settings.listen} without tokens: set auth.webhook_tokens/auth.api_tokens "
        "(see `micd token new`), listen on 127.0.0.1, or set auth.insecure: true"
    )


def freeze_survivors(phase: str, info: dict[str, int]) -> None:
    """A gc callback: after a full collection, move every survivor to the permanent generation.

    Correlation keeps its indexes in memory (hundreds of bytes per active alert), so each full collection walked
    all of them again: a stop-the-world pause that grew with the active alerts (0.23 s at 150k, found nothing to
    free) and set micd's p99. Frozen objects are still freed by reference counting; only reference cycles among
    them would wait, and the benchmark's full collections found none."""
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()


# Collect young objects every 50,000 net allocations, not every 700. Nearly everything a request allocates dies by
# reference counting; at the default thresholds the collector still ran ~340 times a second under load and took
# 14 s of a 90 s run with 1.2M active alerts. With these: 1 s, and 38-54% more alerts/s, RSS within 5%.
GC_THRESHOLDS = (50_000, 20, 100)


async def run(settings: Settings) -> None:
    gc.set_threshold(*GC_THRESHOLDS)
    if freeze_survivors not in gc.callbacks:
        gc.callbacks.append(freeze_survivors)
    try:
        app = build_app(settings)
    except OSError as exc:
        raise _unusable("database", f"cannot create {settings.sqlite_path}: {exc.strerror or exc}") from exc
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE_SECONDS)
    try:
        await runner.setup()
    except sqlite3.Error as exc:
        await runner.cleanup()
        raise _unusable("database", f"cannot open {settings.sqlite_path}: {exc}") from exc
    site = web.TCPSite(runner, settings.host, settings.port, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise _unusable("listen", f"cannot listen on {settings.listen}: {exc.strerror or exc}") from exc
    log.info("listening", extra={"listen": settings.listen, "version": __version__})
    if not settings.auth.enabled:
        log.warning(
            "AUTH IS OFF: no tokens are configured, every caller is an admin"
            + (" (auth.insecure is set)" if settings.auth.insecure else " (loopback only)")
        )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def reload() -> None:
        for reloader in app[RELOADERS]:
            reloader()

    loop.add_signal_handler(signal.SIGHUP, reload)
    await stop.wait()
    log.info("stopping: finishing in-flight requests")
    await runner.cleanup()
    log.info("stopped")


def _unusable(key: str, reason: str) -> ConfigError:
    """A setting that validated but does not work on this machine: reported like any invalid setting (exit 2)."""
    return ConfigError(f"{key}: {reason}", problems=(FieldProblem(key, reason),))


def _serve(args: argparse.Namespace) -> int:
    try:
        settings = load(args.config)
    except ConfigError as exc:
        return report(exc)
    logs.setup(settings.log.level)
    refusal = refuse_insecure(settings)
    if refusal:
        log.error(refusal)
        return 2
    try:
        import uvloop
    except ImportError:
        runner: Callable[[Coroutine[Any, Any, None]], None] = asyncio.run
    else:
        # uvloop.run, not the deprecated uvloop.install(): the event loop is chosen for this run only.
        runner = uvloop.run
    try:
        runner(run(settings))
    except ConfigError as exc:
        return report(exc)
    return 0
