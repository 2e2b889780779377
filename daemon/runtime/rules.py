"""The rules in force, reloaded on file change and on SIGHUP; a bad edit never replaces good rules.

`micd serve` owns the SIGHUP handler and calls every reloader in `app[RELOADERS]`; append `holder.reload`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from pathlib import Path

from watchfiles import awatch

from daemon.impact.ruleset import Ruleset, parse_ruleset
from daemon.kernel.errors import ConfigError, FieldProblem
from daemon.telemetry.metrics import Metrics

log = logging.getLogger("micd.rules")

SUFFIXES = (".yaml", ".yml")


def read_rules(directory: Path) -> Ruleset:
    """Parse every YAML file under `directory`.

    examples/ holds alert samples, not rules; hidden entries are skipped because a mounted Kubernetes ConfigMap
    holds every file twice, once under a hidden `..2026_...` directory behind the visible symlink."""
    if not directory.is_dir():
        reason = f"{directory} is not a directory (resolved from {Path.cwd()})"
        raise ConfigError(f"rules_dir: {reason}", problems=(FieldProblem("rules_dir", reason),))
    files: dict[str, str] = {}
    for path in sorted(directory.rglob("*")):
        parts = path.relative_to(directory).parts
        if path.suffix in SUFFIXES and path.is_file() and "examples" not in parts and not _hidden(parts):
            try:
                files[str(path)] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{path}: cannot read: {exc}", problems=(FieldProblem(str(path), str(exc)),)) from exc
    return parse_ruleset(files)


def _hidden(parts: tuple[str, ...]) -> bool:
    return any(part.startswith(".") for part in parts)


Listener = Callable[[Ruleset], None]


class RulesHolder:
    """Owns the current Ruleset. `start()` loads (failing loudly at startup); later reloads fail softly."""

    def __init__(self, *, directory: Path, metrics: Metrics) -> None:
        self.directory = directory
        self._metrics = metrics
        self._listeners: list[Listener] = []
        self._current: Ruleset | None = None
        self._refused: str | None = None

    @property
    def current(self) -> Ruleset:
        if self._current is None:
            raise RuntimeError("RulesHolder.start() was not called")
        return self._current

    def readiness(self) -> tuple[bool, str]:
        """Ready while rules are in force; a refused reload is shown, since the old rules still serve."""
        if self._current is None:
            return False, f"no rules loaded from {self.directory}"
        detail = f"{len(self._current.sources)} files from {self.directory}"
        return True, detail + (f"; last reload refused: {self._refused}" if self._refused else "")

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def start(self) -> Ruleset:
        self._current = read_rules(self.directory)
        self._metrics.rules_loaded.set(1)
        return self._current

    def reload(self) -> bool:
        """True if the new rules are in force; on any problem the old ones stay and each problem is logged."""
        try:
            fresh = read_rules(self.directory)
        except ConfigError as exc:
            self._metrics.rules_reloads.labels(outcome="failure").inc()
            self._metrics.rules_loaded.set(0)
            problems = exc.problems or (FieldProblem(str(self.directory), exc.message),)
            for problem in problems:
                log.error("rules reload refused: %s: %s", problem.field, problem.reason)
            self._refused = f"{problems[0].field}: {problems[0].reason}" + (
                f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            )
            return False
        self._current, self._refused = fresh, None
        self._metrics.rules_reloads.labels(outcome="success").inc()
        self._metrics.rules_loaded.set(1)
        log.info("rules reloaded from %d files", len(fresh.sources))
        for listener in self._listeners:
            listener(fresh)
        return True

    async def watching(self, _app: object = None) -> AsyncIterator[None]:
        """An aiohttp cleanup_ctx: reload whenever a file under the rules directory changes."""
        stop = asyncio.Event()
        task = asyncio.create_task(self._watch(stop), name="micd-rules-watch")
        try:
            yield
        finally:
            stop.set()
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def _watch(self, stop: asyncio.Event) -> None:
        async for _ in awatch(self.directory, stop_event=stop, debounce=500, recursive=True):
            self.reload()
