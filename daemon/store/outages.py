"""Outages and their alert episodes, as the correlator last reported them.

The correlator owns every column but the incident link: `linked_incident` and `incident_open` are set by
the command phase (`link_incident`) and only read back by the correlator, never overwritten by it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from daemon.correlation.models import OUTAGE_ALERT, Outage, OutageAlert, OutageState
from daemon.kernel.errors import InvalidInput, NotFound
from daemon.kernel.pages import MAX_LIMIT, Page, decode_cursor, encode_cursor
from daemon.store.database import Database, Migration, iso

MIGRATIONS = [
    Migration(
        "outages",
        1,
        """CREATE TABLE outages (
            id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL,
            state TEXT NOT NULL,
            started_at TEXT NOT NULL,
            closed_at TEXT,
            linked_incident TEXT,
            incident_open INTEGER NOT NULL DEFAULT 0,
            doc TEXT NOT NULL
        );
        CREATE INDEX outages_by_tenant ON outages (tenant, started_at, id);
        CREATE INDEX outages_by_state ON outages (state, closed_at);
        CREATE TABLE outage_alerts (
            tenant TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            starts_at TEXT NOT NULL,
            outage_id TEXT,
            service TEXT,
            firing INTEGER NOT NULL,
            doc TEXT NOT NULL,
            PRIMARY KEY (tenant, fingerprint, starts_at)
        ) WITHOUT ROWID;
        CREATE INDEX outage_alerts_by_outage ON outage_alerts (outage_id);
        CREATE INDEX outage_alerts_unmatched ON outage_alerts (firing, service, tenant, starts_at)""",
    )
]


class OutageDetail(BaseModel):
    outage: Outage
    alerts: list[OutageAlert]


def _outage(row: sqlite3.Row) -> Outage:
    found = Outage.model_validate_json(row["doc"])
    return found.model_copy(
        update={"linked_incident": row["linked_incident"], "incident_open": bool(row["incident_open"])}
    )


def save(conn: sqlite3.Connection, outages: Sequence[Outage], alerts: Sequence[OutageAlert]) -> None:
    """Upsert what a correlation step changed. A link inherited by a merge is kept unless one is already set."""
    for o in outages:
        conn.execute(
            "INSERT INTO outages (id, tenant, state, started_at, closed_at, linked_incident, incident_open, doc)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state,"
            " started_at = excluded.started_at, closed_at = excluded.closed_at, doc = excluded.doc,"
            " incident_open = CASE WHEN linked_incident IS NULL THEN excluded.incident_open ELSE incident_open END,"
            " linked_incident = COALESCE(linked_incident, excluded.linked_incident)",
            (
                o.id,
                o.tenant,
                o.state.value,
                iso(o.started_at),
                iso(o.closed_at),
                o.linked_incident,
                int(o.incident_open),
                o.model_dump_json(),
            ),
        )
    for a in alerts:
        conn.execute(
            "INSERT INTO outage_alerts (tenant, fingerprint, starts_at, outage_id, service, firing, doc)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, fingerprint, starts_at) DO UPDATE SET"
            " outage_id = excluded.outage_id, service = excluded.service, firing = excluded.firing,"
            " doc = excluded.doc",
            (
                a.tenant,
                a.fingerprint,
                iso(a.starts_at),
                a.outage_id,
                a.service,
                int(a.firing),
                OUTAGE_ALERT.dump_json(a).decode(),
            ),
        )


def link_incident(conn: sqlite3.Connection, outage_id: str, *, incident_id: str | None, open_: bool) -> None:
    """For the command phase: the outage is handled in this major incident (no proposal while it is open).

    Relapses linked to the same incident (recurrences while it was open) open and close with it."""
    open_flag = int(open_ and incident_id is not None)
    cur = conn.execute(
        "UPDATE outages SET linked_incident = ?, incident_open = ? WHERE id = ?", (incident_id, open_flag, outage_id)
    )
    if cur.rowcount == 0:
        raise NotFound(f"outage {outage_id} not found")
    if incident_id is not None:
        conn.execute("UPDATE outages SET incident_open = ? WHERE linked_incident = ?", (open_flag, incident_id))


def links(conn: sqlite3.Connection, outage_ids: Sequence[str]) -> dict[str, tuple[str | None, bool]]:
    found: dict[str, tuple[str | None, bool]] = {}
    for start in range(0, len(outage_ids), 400):
        chunk = list(outage_ids[start : start + 400])
        rows = conn.execute(
            f"SELECT id, linked_incident, incident_open FROM outages WHERE id IN ({','.join('?' * len(chunk))})",
            chunk,
        )
        for row in rows:
            found[row["id"]] = (row["linked_incident"], bool(row["incident_open"]))
    return found


def load_state(conn: sqlite3.Connection, *, closed_since: datetime) -> tuple[list[Outage], list[OutageAlert]]:
    """What the correlator needs after a restart: open outages, their alerts, unmatched firing alerts, and
    outages closed recently enough to be recurred."""
    outages = [
        _outage(r)
        for r in conn.execute(
            "SELECT * FROM outages WHERE state = ? OR (state = ? AND closed_at >= ?) ORDER BY closed_at",
            (OutageState.OPEN.value, OutageState.CLOSED.value, iso(closed_since)),
        )
    ]
    alerts = [
        OUTAGE_ALERT.validate_json(r["doc"])
        for r in conn.execute(
            "SELECT a.doc FROM outage_alerts a JOIN outages o ON o.id = a.outage_id WHERE o.state = ?"
            " UNION ALL SELECT doc FROM outage_alerts WHERE outage_id IS NULL AND firing = 1",
            (OutageState.OPEN.value,),
        )
    ]
    return outages, alerts


def active_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Open outages per tenant, for micd_outages_active."""
    rows = conn.execute(
        "SELECT tenant, COUNT(*) FROM outages WHERE state = ? GROUP BY tenant", (OutageState.OPEN.value,)
    )
    return {r[0]: int(r[1]) for r in rows}


def _where(tenants: Sequence[str] | None, column: str = "tenant") -> tuple[list[str], list[Any]]:
    if tenants is None:
        return [], []
    if not tenants:
        return ["0"], []
    return [f"{column} IN ({','.join('?' * len(tenants))})"], list(tenants)


def _after(cursor: str | None) -> tuple[str, str] | None:
    if cursor is None:
        return None
    key = decode_cursor(cursor)
    if len(key) != 2 or not all(isinstance(k, str) for k in key):
        raise InvalidInput.field("cursor", "not a cursor this API issued")
    return str(key[0]), str(key[1])


class OutageStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def list(
        self, *, tenants: Sequence[str] | None, state: OutageState | None, limit: int, cursor: str | None
    ) -> Page[Outage]:
        """Newest first. Merged outages are listed too: `merged_into` says where their alerts went."""
        where, args = _where(tenants)
        if state is not None:
            where.append("state = ?")
            args.append(state.value)
        after = _after(cursor)
        limit = max(1, min(limit, MAX_LIMIT))

        def query(conn: sqlite3.Connection) -> Page[Outage]:
            base = " AND ".join(where) or "1"
            total = int(conn.execute(f"SELECT COUNT(*) FROM outages WHERE {base}", args).fetchone()[0])
            page_where, page_args = base, list(args)
            if after is not None:
                page_where += " AND (started_at < ? OR (started_at = ? AND id < ?))"
                page_args += [after[0], after[0], after[1]]
            rows = conn.execute(
                f"SELECT * FROM outages WHERE {page_where} ORDER BY started_at DESC, id DESC LIMIT ?",
                [*page_args, limit + 1],
            ).fetchall()
            nxt = encode_cursor([rows[limit - 1]["started_at"], rows[limit - 1]["id"]]) if len(rows) > limit else None
            return Page[Outage](items=[_outage(r) for r in rows[:limit]], total=total, next=nxt)

        return await self._db.read(query)

    async def get(self, outage_id: str, *, tenants: Sequence[str] | None) -> OutageDetail:
        def query(conn: sqlite3.Connection) -> OutageDetail:
            row = conn.execute("SELECT * FROM outages WHERE id = ?", (outage_id,)).fetchone()
            if row is None or (tenants is not None and row["tenant"] not in tenants):
                raise NotFound(f"outage {outage_id} not found")
            alerts = [
                OUTAGE_ALERT.validate_json(r["doc"])
                for r in conn.execute(
                    "SELECT doc FROM outage_alerts WHERE outage_id = ? ORDER BY starts_at, fingerprint", (outage_id,)
                )
            ]
            return OutageDetail(outage=_outage(row), alerts=alerts)

        return await self._db.read(query)

    async def unmatched(self, *, tenants: Sequence[str] | None, limit: int, cursor: str | None) -> Page[OutageAlert]:
        """Firing alerts that named no catalogued service: candidates for a catalogue alias."""
        where, args = _where(tenants)
        where += ["firing = 1", "service IS NULL"]
        after = _after(cursor)
        limit = max(1, min(limit, MAX_LIMIT))

        def query(conn: sqlite3.Connection) -> Page[OutageAlert]:
            base = " AND ".join(where)
            total = int(conn.execute(f"SELECT COUNT(*) FROM outage_alerts WHERE {base}", args).fetchone()[0])
            page_where, page_args = base, list(args)
            if after is not None:
                page_where += " AND (starts_at < ? OR (starts_at = ? AND fingerprint < ?))"
                page_args += [after[0], after[0], after[1]]
            rows = conn.execute(
                f"SELECT doc, starts_at, fingerprint FROM outage_alerts WHERE {page_where}"
                " ORDER BY starts_at DESC, fingerprint DESC LIMIT ?",
                [*page_args, limit + 1],
            ).fetchall()
            last = rows[limit - 1] if len(rows) > limit else None
            nxt = encode_cursor([last["starts_at"], last["fingerprint"]]) if last is not None else None
            items = [OUTAGE_ALERT.validate_json(r["doc"]) for r in rows[:limit]]
            return Page[OutageAlert](items=items, total=total, next=nxt)

        return await self._db.read(query)
