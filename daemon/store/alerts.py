"""Alerts keyed by (tenant, fingerprint) and their append-only event history."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from pydantic import TypeAdapter

from daemon.alerts.dedup import transition
from daemon.alerts.models import Alert, AlertEvent, AlertStatus, TransitionKind
from daemon.kernel.pages import MAX_LIMIT, Page, decode_cursor, encode_cursor
from daemon.store.database import Database, Migration, iso

MIGRATIONS = [
    Migration(
        "alerts",
        1,
        """CREATE TABLE alerts (
            tenant TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            status TEXT NOT NULL,
            starts_at TEXT NOT NULL,
            body TEXT NOT NULL,
            first_seen_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            last_event_id INTEGER NOT NULL,
            PRIMARY KEY (tenant, fingerprint)
        ) WITHOUT ROWID;
        CREATE INDEX alerts_by_status ON alerts (status, tenant, fingerprint);
        CREATE TABLE alert_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            tenant TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            kind TEXT NOT NULL,
            body TEXT NOT NULL,
            received_at TEXT NOT NULL
        );
        CREATE INDEX alert_events_by_alert ON alert_events (tenant, fingerprint, id)""",
    )
]

_CHUNK = 400
_INSERT_EVENTS = "INSERT INTO alert_events (id, tenant, fingerprint, kind, body, received_at) VALUES {values}"
_UPSERT_ALERTS = (
    "INSERT INTO alerts (tenant, fingerprint, status, starts_at, body, first_seen_at, updated_at, last_event_id)"
    " VALUES {values}"
    " ON CONFLICT (tenant, fingerprint) DO UPDATE SET status = excluded.status,"
    " starts_at = excluded.starts_at, body = excluded.body, updated_at = excluded.updated_at,"
    " last_event_id = excluded.last_event_id"
)
_ROWS_PER_STATEMENT = 100


def _insert_rows(conn: sqlite3.Connection, template: str, rows: Sequence[tuple[object, ...]]) -> None:
    """Multi-row INSERTs: one statement per hundred rows costs far less than one per row, and rows of one
    statement are applied in order, so a key seen twice in a batch ends as its last sighting."""
    width = len(rows[0])
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + _ROWS_PER_STATEMENT]
        values = ",".join(["(" + ",".join("?" * width) + ")"] * len(chunk))
        conn.execute(template.format(values=values), [v for row in chunk for v in row])


def _dump(alert: Alert) -> str:
    return alert.model_dump_json()


def _load(body: str | bytes) -> Alert:
    return Alert.model_validate_json(body)


_EVENT_LIST = TypeAdapter(list[AlertEvent])


def _events(rows: Sequence[sqlite3.Row]) -> list[AlertEvent]:
    """Rows of (id, kind, body, received_at) as events, validated in one pass over one JSON document: the
    correlation loop reads every event back, and one validation per row costs about half again as much.
    Every spliced value was written by `apply` (an integer, an enum value, stored alert JSON, ISO text)."""
    doc = ",".join(f'{{"id":{r[0]},"kind":"{r[1]}","alert":{r[2]},"received_at":"{r[3]}"}}' for r in rows)
    return _EVENT_LIST.validate_json(f"[{doc}]")


def _held(conn: sqlite3.Connection, alerts: Sequence[Alert]) -> dict[tuple[str, str], Alert]:
    keys = list({(a.tenant, a.fingerprint) for a in alerts})
    held: dict[tuple[str, str], Alert] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        clause = " OR ".join(["(tenant = ? AND fingerprint = ?)"] * len(chunk))
        params = [v for key in chunk for v in key]
        for row in conn.execute(f"SELECT body FROM alerts WHERE {clause}", params):
            alert = _load(row["body"])
            held[(alert.tenant, alert.fingerprint)] = alert
    return held


def _next_event_id(conn: sqlite3.Connection) -> int:
    """The id AUTOINCREMENT would give the next event. Inside the writer's transaction nobody else inserts,
    so a batch can take consecutive ids and go in with multi-row INSERTs."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'alert_events'").fetchone()
    return (int(row[0]) if row else 0) + 1


def apply(conn: sqlite3.Connection, alerts: Sequence[Alert], *, received_at: datetime) -> list[AlertEvent]:
    """Record what changed, inside the caller's transaction. A resend returns no events and writes nothing."""
    held = _held(conn, alerts)
    changes: list[tuple[Alert, TransitionKind]] = []
    for alert in alerts:
        key = (alert.tenant, alert.fingerprint)
        kind = transition(held.get(key), alert)
        if kind is not None:
            held[key] = alert
            changes.append((alert, kind))
    if not changes:
        return []
    when = iso(received_at)
    first = _next_event_id(conn)
    bodies = [_dump(alert) for alert, _ in changes]
    _insert_rows(
        conn,
        _INSERT_EVENTS,
        [
            (first + i, a.tenant, a.fingerprint, kind.value, body, when)
            for i, ((a, kind), body) in enumerate(zip(changes, bodies, strict=True))
        ],
    )
    _insert_rows(
        conn,
        _UPSERT_ALERTS,
        [
            (a.tenant, a.fingerprint, a.status.value, iso(a.starts_at), body, when, when, first + i)
            for i, ((a, _), body) in enumerate(zip(changes, bodies, strict=True))
        ],
    )
    return [
        AlertEvent(id=first + i, kind=kind, alert=alert, received_at=received_at)
        for i, (alert, kind) in enumerate(changes)
    ]


class AlertStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def apply(self, alerts: Sequence[Alert], *, received_at: datetime) -> list[AlertEvent]:
        return await self._db.write(lambda conn: apply(conn, alerts, received_at=received_at))

    async def events_after(self, after_id: int, limit: int = 1000) -> list[AlertEvent]:
        def query(conn: sqlite3.Connection) -> list[AlertEvent]:
            return _events(
                conn.execute(
                    "SELECT id, kind, body, received_at FROM alert_events WHERE id > ? ORDER BY id LIMIT ?",
                    (after_id, limit),
                ).fetchall()
            )

        return await self._db.read(query)

    async def get(self, tenant: str, fingerprint: str) -> Alert | None:
        def query(conn: sqlite3.Connection) -> Alert | None:
            row = conn.execute(
                "SELECT body FROM alerts WHERE tenant = ? AND fingerprint = ?", (tenant, fingerprint)
            ).fetchone()
            return None if row is None else _load(row["body"])

        return await self._db.read(query)

    async def history(self, tenant: str, fingerprint: str) -> list[AlertEvent]:
        def query(conn: sqlite3.Connection) -> list[AlertEvent]:
            return _events(
                conn.execute(
                    "SELECT id, kind, body, received_at FROM alert_events WHERE tenant = ? AND fingerprint = ?"
                    " ORDER BY id",
                    (tenant, fingerprint),
                ).fetchall()
            )

        return await self._db.read(query)

    async def list(
        self,
        *,
        tenants: Sequence[str] | None,
        status: AlertStatus | None,
        limit: int,
        cursor: str | None,
    ) -> Page[Alert]:
        """Alerts ordered by (tenant, fingerprint). `tenants=None` means every tenant."""
        where: list[str] = []
        params: list[object] = []
        if tenants is not None:
            where.append(f"tenant IN ({','.join('?' * len(tenants))})" if tenants else "0")
            params.extend(tenants)
        if status is not None:
            where.append("status = ?")
            params.append(status.value)
        limit = max(1, min(limit, MAX_LIMIT))

        def query(conn: sqlite3.Connection) -> Page[Alert]:
            base = " AND ".join(where) or "1"
            total = int(conn.execute(f"SELECT COUNT(*) FROM alerts WHERE {base}", params).fetchone()[0])
            page_where, page_params = base, list(params)
            if cursor is not None:
                after = decode_cursor(cursor)
                page_where += " AND (tenant, fingerprint) > (?, ?)"
                page_params.extend(after[:2])
            rows = conn.execute(
                f"SELECT body FROM alerts WHERE {page_where} ORDER BY tenant, fingerprint LIMIT ?",
                [*page_params, limit + 1],
            ).fetchall()
            items = [_load(r["body"]) for r in rows[:limit]]
            more = len(rows) > limit
            nxt = encode_cursor([items[-1].tenant, items[-1].fingerprint]) if more and items else None
            return Page[Alert](items=items, total=total, next=nxt)

        return await self._db.read(query)

    async def firing_by_tenant(self) -> dict[str, int]:
        def query(conn: sqlite3.Connection) -> dict[str, int]:
            rows = conn.execute(
                "SELECT tenant, COUNT(*) AS n FROM alerts WHERE status = 'firing' GROUP BY tenant"
            ).fetchall()
            return {r["tenant"]: int(r["n"]) for r in rows}

        return await self._db.read(query)
