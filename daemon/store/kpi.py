"""KPI baselines, and the facts KPIs are computed from, read from the command and proposal tables.

Read-only over other domains' tables: the CLI opens the daemon's database beside the running daemon (WAL
lets it read while the daemon writes). Its one write is a baseline snapshot, a single small transaction.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

import orjson

from daemon.command.models import Incident
from daemon.kernel.errors import NotFound, Unavailable
from daemon.kpi.models import DecisionFact, IncidentFact, Records, Snapshot, UpdateFact
from daemon.store.database import Migration, from_iso, iso

MIGRATIONS = [
    Migration(
        "kpi",
        1,
        """CREATE TABLE kpi_baselines (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            taken_at TEXT NOT NULL,
            label TEXT NOT NULL,
            window_start TEXT NOT NULL,
            window_end TEXT NOT NULL,
            doc TEXT NOT NULL
        )""",
    )
]

READS = ("incidents", "incident_updates", "incident_missed_updates", "proposals")
# Incidents that never ran as major incidents (a proposal turned down) count in no KPI.
_NOT_DECLARED = ("proposed", "rejected")
_RESOLVED = ("resolved", "review", "closed")


def missing_tables(conn: sqlite3.Connection) -> list[str]:
    present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return [t for t in READS if t not in present]


def records(conn: sqlite3.Connection, *, start: datetime, end: datetime) -> Records:
    """Every fact that can fall in [start, end). Resolution and update times live only in the JSON documents,
    so rows are narrowed by indexed columns first and the exact times filtered by the core."""
    gone = missing_tables(conn)
    if gone:
        raise Unavailable(f"the database has no {', '.join(gone)} table(s): has `micd serve` run on it?")
    rows = conn.execute(
        "SELECT doc FROM incidents WHERE declared_at < ? AND state NOT IN (?, ?)"
        " AND (declared_at >= ? OR state IN (?, ?, ?))",
        (iso(end), *_NOT_DECLARED, iso(start), *_RESOLVED),
    )
    incidents = []
    for row in rows:
        i = Incident.model_validate_json(row["doc"])
        incidents.append(
            IncidentFact(
                tenant=i.tenant,
                incident_id=i.id,
                declared_at=i.declared_at,
                resolved_at=i.resolved_at,
                repeat=i.predecessor_id is not None,
            )
        )
    updates = []
    for row in conn.execute(
        "SELECT u.tenant, u.on_time, u.doc FROM incident_updates u JOIN incidents i ON i.id = u.incident_id"
        " WHERE i.declared_at < ?",
        (iso(end),),
    ):
        at = datetime.fromisoformat(orjson.loads(row["doc"])["created_at"])
        if start <= at < end:
            updates.append(UpdateFact(tenant=row["tenant"], at=at, on_time=bool(row["on_time"])))
    for row in conn.execute(
        "SELECT tenant, due_at FROM incident_missed_updates WHERE due_at >= ? AND due_at < ?", (iso(start), iso(end))
    ):
        updates.append(UpdateFact(tenant=row["tenant"], at=from_iso(row["due_at"]), on_time=False))
    decisions = [
        DecisionFact(tenant=r["tenant"], at=from_iso(r["decided_at"]), state=r["state"])
        for r in conn.execute(
            "SELECT tenant, state, decided_at FROM proposals WHERE decided_at >= ? AND decided_at < ?",
            (iso(start), iso(end)),
        )
    ]
    return Records(incidents=tuple(incidents), updates=tuple(updates), decisions=tuple(decisions))


def add_baseline(conn: sqlite3.Connection, snapshot: Snapshot) -> Snapshot:
    cur = conn.execute(
        "INSERT INTO kpi_baselines (taken_at, label, window_start, window_end, doc) VALUES (?, ?, ?, ?, ?)",
        (iso(snapshot.taken_at), snapshot.label, iso(snapshot.start), iso(snapshot.end), snapshot.model_dump_json()),
    )
    return snapshot.model_copy(update={"id": int(cur.lastrowid or 0)})


def _load(row: sqlite3.Row) -> Snapshot:
    return Snapshot.model_validate_json(row["doc"]).model_copy(update={"id": row["id"]})


def baseline(conn: sqlite3.Connection, baseline_id: int | None = None) -> Snapshot | None:
    """The snapshot asked for (NotFound if absent), or else the latest taken; None when there is none."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'kpi_baselines'").fetchone() is None:
        if baseline_id is not None:
            raise NotFound(f"no KPI baseline #{baseline_id}: none was ever taken")
        return None  # no baseline was ever taken: reports stay read-only and say so
    if baseline_id is not None:
        row = conn.execute("SELECT id, doc FROM kpi_baselines WHERE id = ?", (baseline_id,)).fetchone()
        if row is None:
            raise NotFound(f"no KPI baseline #{baseline_id}")
        return _load(row)
    row = conn.execute("SELECT id, doc FROM kpi_baselines ORDER BY taken_at DESC, id DESC LIMIT 1").fetchone()
    return None if row is None else _load(row)


def baselines(conn: sqlite3.Connection) -> list[Snapshot]:
    return [_load(r) for r in conn.execute("SELECT id, doc FROM kpi_baselines ORDER BY taken_at, id")]
