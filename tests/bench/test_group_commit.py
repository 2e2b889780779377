"""Group commit in Database.write (a performance change made with the benchmark): concurrent writes share a
commit, yet each stays all-or-nothing and a failing one fails alone."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from daemon.store.database import Database


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(tmp_path / "t.sqlite3")
    database.write_sync(lambda c: c.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER NOT NULL)"))
    return database


def insert(*rows: tuple[str, int]) -> Callable[[sqlite3.Connection], int]:
    def fn(conn: sqlite3.Connection) -> int:
        for row in rows:
            conn.execute("INSERT INTO t (k, n) VALUES (?, ?)", row)
        return len(rows)

    return fn


async def test_concurrent_writes_commit_and_a_failing_one_is_undone_alone(db: Database) -> None:
    results = await asyncio.gather(
        db.write(insert(("a", 1), ("b", 2))),
        db.write(insert(("c", 3), ("a", 9))),  # second row collides: the whole write must vanish, "c" too
        db.write(insert(("d", 4))),
        *(db.write(insert((f"x{i}", i))) for i in range(50)),
        return_exceptions=True,
    )
    assert results[0] == 2
    assert isinstance(results[1], sqlite3.IntegrityError)
    assert results[2:] == [1] * 51
    rows = dict(db.read_sync(lambda c: c.execute("SELECT k, n FROM t").fetchall()))
    assert rows["a"] == 1
    assert "c" not in rows
    assert rows["d"] == 4
    assert len(rows) == 3 + 50
    db.close()


async def test_each_write_is_durable_when_it_returns(db: Database, tmp_path: Path) -> None:
    await asyncio.gather(*(db.write(insert((f"k{i}", i))) for i in range(20)))
    other = sqlite3.connect(tmp_path / "t.sqlite3")  # a fresh connection sees only committed data
    assert other.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 20
    other.close()
    db.close()
