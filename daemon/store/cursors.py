"""Durable positions of event consumers in the alert_events feed.

A consumer sets its cursor in the same transaction as the effects of the events it consumed, so after a
crash it resumes exactly after the last event whose effects were committed.
"""

from __future__ import annotations

import sqlite3

from daemon.store.database import Migration

MIGRATIONS = [
    Migration(
        "cursors",
        1,
        "CREATE TABLE cursors (name TEXT PRIMARY KEY, event_id INTEGER NOT NULL)",
    )
]


def get(conn: sqlite3.Connection, name: str) -> int:
    """The id of the last event consumed, 0 before the first."""
    row = conn.execute("SELECT event_id FROM cursors WHERE name = ?", (name,)).fetchone()
    return 0 if row is None else int(row[0])


def set(conn: sqlite3.Connection, name: str, event_id: int) -> None:
    """Move the cursor; it never moves backwards, so a replayed batch cannot rewind it."""
    conn.execute(
        "INSERT INTO cursors (name, event_id) VALUES (?, ?)"
        " ON CONFLICT(name) DO UPDATE SET event_id = MAX(event_id, excluded.event_id)",
        (name, event_id),
    )
