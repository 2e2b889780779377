"""A durable outbox between a decision and its delivery to an external system.

Producers enqueue inside the same transaction that records the decision, so a decision is never
recorded without its delivery, nor delivered without being recorded. Workers claim due items,
deliver, and mark them; an item is retried until delivered and is never lost.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict

from daemon.store.database import Database, Migration, from_iso, iso

MIGRATIONS = [
    Migration(
        "outbox",
        1,
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            topic TEXT NOT NULL,
            tenant TEXT NOT NULL,
            key TEXT NOT NULL,
            action TEXT NOT NULL,
            payload TEXT NOT NULL,
            created_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT,
            delivered_at TEXT
        );
        CREATE INDEX outbox_due ON outbox (topic, delivered_at, next_attempt_at, id)""",
    )
]


class OutboxItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    topic: str
    tenant: str
    key: str
    action: str
    payload: dict[str, Any]
    created_at: datetime
    attempts: int
    last_error: str | None


def enqueue(
    conn: sqlite3.Connection,
    *,
    topic: str,
    tenant: str,
    key: str,
    action: str,
    payload: dict[str, Any],
    now: datetime,
) -> int:
    """Call inside Database.write with the decision it delivers. Items of one key are delivered in order."""
    cur = conn.execute(
        "INSERT INTO outbox (topic, tenant, key, action, payload, created_at, next_attempt_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (topic, tenant, key, action, orjson.dumps(payload).decode(), iso(now), iso(now)),
    )
    return int(cur.lastrowid or 0)


def _item(row: sqlite3.Row) -> OutboxItem:
    return OutboxItem(
        id=row["id"],
        topic=row["topic"],
        tenant=row["tenant"],
        key=row["key"],
        action=row["action"],
        payload=orjson.loads(row["payload"]),
        created_at=from_iso(row["created_at"]),
        attempts=row["attempts"],
        last_error=row["last_error"],
    )


class Outbox:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def due(self, *, topic: str, now: datetime, limit: int = 50) -> list[OutboxItem]:
        """Due items, oldest first, at most one per key so that a key's items stay in order."""

        def query(conn: sqlite3.Connection) -> list[OutboxItem]:
            rows = conn.execute(
                "SELECT o.* FROM outbox o WHERE o.topic = ? AND o.delivered_at IS NULL"
                " AND o.id = (SELECT MIN(id) FROM outbox p WHERE p.topic = o.topic AND p.key = o.key"
                "             AND p.delivered_at IS NULL)"
                " AND o.next_attempt_at <= ? ORDER BY o.id LIMIT ?",
                (topic, iso(now), limit),
            ).fetchall()
            return [_item(r) for r in rows]

        return await self._db.read(query)

    async def delivered(self, item_id: int, *, now: datetime) -> None:
        await self._db.write(
            lambda c: c.execute("UPDATE outbox SET delivered_at = ? WHERE id = ?", (iso(now), item_id))
        )

    async def failed(self, item_id: int, *, error: str, retry_at: datetime) -> None:
        await self._db.write(
            lambda c: c.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
                (error[:2000], iso(retry_at), item_id),
            )
        )

    async def depth(self, *, topic: str) -> int:
        def count(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT COUNT(*) FROM outbox WHERE topic = ? AND delivered_at IS NULL", (topic,)
            ).fetchone()
            return int(row[0])

        return await self._db.read(count)
