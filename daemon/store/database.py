"""One SQLite database in WAL mode, used from asyncio through two dedicated threads.

Writes go through a single writer thread and connection, so transactions never contend. Writes that arrive
while the writer is busy share the next commit (group commit): a commit costs far more than a small write, so
under load this is what keeps throughput up, and each write is still all-or-nothing (a savepoint of its own) and
durable when its caller resumes. Reads use a second connection; WAL lets them run beside the writer.
Repositories take a `Database` and pass it plain functions of a connection: the SQL stays in the
repository, the threading stays here.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
Write = tuple[Callable[[sqlite3.Connection], Any], "asyncio.Future[Any]"]


@dataclass(frozen=True)
class Migration:
    """A schema step of one domain. Versions count up from 1 within the domain."""

    domain: str
    version: int
    sql: str


READY_TIMEOUT_SECONDS = 2.0


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL: a commit survives the process being killed; FULL would also survive power loss.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class Database:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="micd-db-write")
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="micd-db-read")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pending: list[Write] = []
        self._flusher: asyncio.Task[None] | None = None

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _in_transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    def _in_group(self, fns: list[Callable[[sqlite3.Connection], Any]]) -> list[tuple[bool, Any]]:
        """Run several writes in one transaction, each in its own savepoint: a write that raises is undone
        alone and its error goes back to its caller; the others commit together."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        outcomes: list[tuple[bool, Any]] = []
        try:
            for fn in fns:
                conn.execute("SAVEPOINT write")
                try:
                    outcomes.append((True, fn(conn)))
                except Exception as exc:
                    conn.execute("ROLLBACK TO write")
                    outcomes.append((False, exc))
                conn.execute("RELEASE write")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return outcomes

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                outcomes = await loop.run_in_executor(self._writer, self._in_group, [fn for fn, _ in batch])
            except Exception as exc:  # the commit itself failed: nothing of the batch is stored
                outcomes = [(False, exc)] * len(batch)
            for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                if future.done() or future.get_loop().is_closed():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return fn(self._conn())

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run fn on the writer thread: all of it is committed, or none of it, before this returns."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._pending.append((fn, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        return await future

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._reader, self._read, fn)

    def write_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """For CLI commands and startup code that run outside the event loop."""
        return self._writer.submit(self._in_transaction, fn).result()

    def read_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return self._reader.submit(self._read, fn).result()

    async def readiness(self) -> tuple[bool, str]:
        """A read through the reader thread: fails once the store is closed, unusable or stuck."""
        try:
            async with asyncio.timeout(READY_TIMEOUT_SECONDS):
                await self.read(lambda conn: conn.execute("SELECT 1 FROM schema_migrations LIMIT 1").fetchall())
        except TimeoutError:
            return False, f"{self.path}: no answer within {READY_TIMEOUT_SECONDS:g} s"
        except (sqlite3.Error, RuntimeError) as exc:  # RuntimeError: the reader thread was shut down
            return False, f"{self.path}: {exc}"
        return True, self.path

    def migrate(self, migrations: Sequence[Migration]) -> list[Migration]:
        """Apply the steps not applied yet, each in its own transaction; returns those applied."""

        def setup(conn: sqlite3.Connection) -> set[tuple[str, int]]:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " domain TEXT NOT NULL, version INTEGER NOT NULL, applied_at TEXT NOT NULL,"
                " PRIMARY KEY (domain, version))"
            )
            return {(r["domain"], r["version"]) for r in conn.execute("SELECT domain, version FROM schema_migrations")}

        done = self.write_sync(setup)
        applied: list[Migration] = []
        for step in sorted(migrations, key=lambda m: (m.domain, m.version)):
            if (step.domain, step.version) in done:
                continue

            def apply(conn: sqlite3.Connection, step: Migration = step) -> None:
                for statement in step.sql.split(";\n"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (domain, version, applied_at) VALUES (?, ?, ?)",
                    (step.domain, step.version, datetime.now(UTC).isoformat()),
                )

            self.write_sync(apply)
            applied.append(step)
        return applied

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        self._reader.shutdown(wait=True)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()


def iso(value: datetime | None) -> str | None:
    """Timestamps are stored as ISO 8601 UTC text, which sorts as time does."""
    return None if value is None else value.astimezone(UTC).isoformat(timespec="microseconds")


def from_iso(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)
