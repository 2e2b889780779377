"""Major incidents as stored: each record is its model as JSON beside the columns queries filter on.

The sync functions take a connection so the command service records a step, its timeline entry and its
ServiceNow journal item in one `Database.write`. The decision log is append-only in SQL, not just by habit.
"""

from __future__ import annotations

import builtins
import contextlib
import sqlite3
from collections.abc import Sequence
from datetime import date, datetime
from typing import TypeVar

from pydantic import BaseModel

from daemon.command.cadence import StatusUpdate
from daemon.command.decisions import Decision
from daemon.command.lanes import Handover
from daemon.command.lifecycle import Transition
from daemon.command.mitigation import Action
from daemon.command.models import ACTIVE_STATES, Incident, Lane, TimelineEntry
from daemon.command.repeat import Footprint
from daemon.command.review import Review, ReviewAction
from daemon.kernel.errors import NotFound
from daemon.kernel.pages import MAX_LIMIT, Page, decode_cursor, encode_cursor
from daemon.store import proposals
from daemon.store.database import Database, Migration, iso

M = TypeVar("M", bound=BaseModel)

MIGRATIONS = [
    Migration(
        "incidents",
        1,
        """CREATE TABLE incidents (
            id TEXT PRIMARY KEY,
            seq INTEGER NOT NULL UNIQUE,
            tenant TEXT NOT NULL,
            proposal_id TEXT NOT NULL UNIQUE,
            state TEXT NOT NULL,
            declared_at TEXT NOT NULL,
            next_update_due TEXT,
            doc TEXT NOT NULL
        );
        CREATE INDEX incidents_by_tenant ON incidents (tenant, declared_at, id);
        CREATE INDEX incidents_by_due ON incidents (next_update_due);
        CREATE TABLE incident_transitions (
            id INTEGER PRIMARY KEY AUTOINCREMENT, incident_id TEXT NOT NULL REFERENCES incidents (id),
            tenant TEXT NOT NULL, doc TEXT NOT NULL
        );
        CREATE TABLE incident_handovers (
            id INTEGER PRIMARY KEY AUTOINCREMENT, incident_id TEXT NOT NULL REFERENCES incidents (id),
            tenant TEXT NOT NULL, lane TEXT NOT NULL, owner TEXT NOT NULL, doc TEXT NOT NULL
        );
        CREATE TABLE incident_timeline (
            id INTEGER PRIMARY KEY AUTOINCREMENT, incident_id TEXT NOT NULL REFERENCES incidents (id),
            tenant TEXT NOT NULL, doc TEXT NOT NULL
        );
        CREATE TABLE incident_decisions (
            incident_id TEXT NOT NULL REFERENCES incidents (id), number INTEGER NOT NULL,
            tenant TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (incident_id, number)
        );
        CREATE TRIGGER incident_decisions_no_update BEFORE UPDATE ON incident_decisions
        BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END;
        CREATE TRIGGER incident_decisions_no_delete BEFORE DELETE ON incident_decisions
        BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END;
        CREATE TABLE incident_updates (
            id INTEGER PRIMARY KEY AUTOINCREMENT, incident_id TEXT NOT NULL REFERENCES incidents (id),
            tenant TEXT NOT NULL, on_time INTEGER NOT NULL, doc TEXT NOT NULL
        );
        CREATE INDEX incident_updates_by_tenant ON incident_updates (tenant, on_time);
        CREATE TABLE incident_actions (
            incident_id TEXT NOT NULL REFERENCES incidents (id), id TEXT NOT NULL, tenant TEXT NOT NULL,
            state TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (incident_id, id)
        );
        CREATE TABLE incident_reviews (
            incident_id TEXT PRIMARY KEY REFERENCES incidents (id), tenant TEXT NOT NULL, doc TEXT NOT NULL
        );
        CREATE TABLE incident_review_actions (
            incident_id TEXT NOT NULL REFERENCES incidents (id), id TEXT NOT NULL, tenant TEXT NOT NULL,
            state TEXT NOT NULL, due TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (incident_id, id)
        )""",
    ),
    Migration(
        "incidents",
        2,
        """CREATE TABLE incident_missed_updates (
            incident_id TEXT NOT NULL REFERENCES incidents (id), tenant TEXT NOT NULL, due_at TEXT NOT NULL,
            recorded_at TEXT NOT NULL, PRIMARY KEY (incident_id, due_at)
        )""",
    ),
]

_ACTIVE = tuple(s.value for s in ACTIVE_STATES)


def _docs(conn: sqlite3.Connection, model: type[M], sql: str, params: Sequence[object]) -> list[M]:
    return [model.model_validate_json(row["doc"]) for row in conn.execute(sql, params)]


# incidents


def next_id(conn: sqlite3.Connection) -> tuple[int, str]:
    seq = int(conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM incidents").fetchone()[0])
    return seq, f"MI-{seq:06d}"


def insert(conn: sqlite3.Connection, incident: Incident, *, seq: int) -> None:
    conn.execute(
        "INSERT INTO incidents (id, seq, tenant, proposal_id, state, declared_at, next_update_due, doc)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            incident.id,
            seq,
            incident.tenant,
            incident.proposal_id,
            incident.state.value,
            iso(incident.declared_at),
            iso(incident.next_update_due),
            incident.model_dump_json(),
        ),
    )


def save(conn: sqlite3.Connection, incident: Incident) -> None:
    conn.execute(
        "UPDATE incidents SET state = ?, next_update_due = ?, doc = ? WHERE id = ?",
        (incident.state.value, iso(incident.next_update_due), incident.model_dump_json(), incident.id),
    )


def fetch(conn: sqlite3.Connection, incident_id: str) -> Incident:
    row = conn.execute("SELECT doc FROM incidents WHERE id = ?", (incident_id,)).fetchone()
    if row is None:
        raise NotFound(f"incident {incident_id} not found")
    return Incident.model_validate_json(row["doc"])


def by_proposal(conn: sqlite3.Connection, proposal_id: str) -> Incident | None:
    row = conn.execute("SELECT doc FROM incidents WHERE proposal_id = ?", (proposal_id,)).fetchone()
    return None if row is None else Incident.model_validate_json(row["doc"])


def footprints(conn: sqlite3.Connection, *, tenant: str, since: datetime) -> list[Footprint]:
    """Earlier incidents of the tenant, for repeat detection; rejected proposals never count."""
    rows = conn.execute(
        "SELECT doc FROM incidents WHERE tenant = ? AND declared_at >= ? AND state NOT IN ('rejected', 'proposed')",
        (tenant, iso(since)),
    )
    found = [Incident.model_validate_json(r["doc"]) for r in rows]
    return [
        Footprint(
            incident_id=i.id, services=frozenset(i.services), probable_cause=i.probable_cause, declared_at=i.declared_at
        )
        for i in found
    ]


def firing_alerts(conn: sqlite3.Connection, incident: Incident) -> int:
    """The outage's alerts still firing: those at declaration plus any the proposal's evidence gained since."""
    prints = set(incident.alert_fingerprints)
    # A proposal recorded elsewhere (an import) leaves the fingerprints captured at declaration.
    with contextlib.suppress(NotFound):
        prints |= {a.fingerprint for a in proposals.fetch(conn, incident.proposal_id).evidence.alerts}
    ordered = sorted(prints)
    firing = 0
    for start in range(0, len(ordered), 400):
        chunk = ordered[start : start + 400]
        marks = ",".join("?" * len(chunk))
        row = conn.execute(
            f"SELECT COUNT(*) FROM alerts WHERE tenant = ? AND status = 'firing' AND fingerprint IN ({marks})",
            (incident.tenant, *chunk),
        ).fetchone()
        firing += int(row[0])
    return firing


def reminders_due(conn: sqlite3.Connection, *, now: datetime) -> list[Incident]:
    """Active incidents whose update is overdue; the caller filters those already reminded."""
    marks = ",".join("?" * len(_ACTIVE))
    return _docs(
        conn,
        Incident,
        f"SELECT doc FROM incidents WHERE next_update_due < ? AND state IN ({marks}) ORDER BY next_update_due",
        (iso(now), *_ACTIVE),
    )


# history of one incident


def add_transition(conn: sqlite3.Connection, step: Transition, *, tenant: str) -> None:
    conn.execute(
        "INSERT INTO incident_transitions (incident_id, tenant, doc) VALUES (?, ?, ?)",
        (step.incident_id, tenant, step.model_dump_json()),
    )


def transitions(conn: sqlite3.Connection, incident_id: str) -> list[Transition]:
    return _docs(
        conn, Transition, "SELECT doc FROM incident_transitions WHERE incident_id = ? ORDER BY id", (incident_id,)
    )


def add_handover(conn: sqlite3.Connection, handover: Handover, *, tenant: str) -> None:
    conn.execute(
        "INSERT INTO incident_handovers (incident_id, tenant, lane, owner, doc) VALUES (?, ?, ?, ?, ?)",
        (handover.incident_id, tenant, handover.lane.value, handover.owner, handover.model_dump_json()),
    )


def handovers(conn: sqlite3.Connection, incident_id: str) -> list[Handover]:
    return _docs(conn, Handover, "SELECT doc FROM incident_handovers WHERE incident_id = ? ORDER BY id", (incident_id,))


def lanes(conn: sqlite3.Connection, incident_id: str) -> dict[Lane, str]:
    """Current owner of each lane: the latest handover wins."""
    return {h.lane: h.owner for h in handovers(conn, incident_id)}


def add_note(conn: sqlite3.Connection, entry: TimelineEntry, *, tenant: str) -> None:
    conn.execute(
        "INSERT INTO incident_timeline (incident_id, tenant, doc) VALUES (?, ?, ?)",
        (entry.incident_id, tenant, entry.model_dump_json(exclude={"id"})),
    )


def timeline(conn: sqlite3.Connection, incident_id: str) -> list[TimelineEntry]:
    rows = conn.execute("SELECT id, doc FROM incident_timeline WHERE incident_id = ? ORDER BY id", (incident_id,))
    return [TimelineEntry.model_validate_json(r["doc"]).model_copy(update={"id": r["id"]}) for r in rows]


def add_decision(conn: sqlite3.Connection, decision: Decision, *, tenant: str) -> None:
    conn.execute(
        "INSERT INTO incident_decisions (incident_id, number, tenant, doc) VALUES (?, ?, ?, ?)",
        (decision.incident_id, decision.number, tenant, decision.model_dump_json()),
    )


def decisions(conn: sqlite3.Connection, incident_id: str) -> list[Decision]:
    return _docs(
        conn, Decision, "SELECT doc FROM incident_decisions WHERE incident_id = ? ORDER BY number", (incident_id,)
    )


def add_update(conn: sqlite3.Connection, update: StatusUpdate) -> StatusUpdate:
    cur = conn.execute(
        "INSERT INTO incident_updates (incident_id, tenant, on_time, doc) VALUES (?, ?, ?, ?)",
        (update.incident_id, update.tenant, int(update.on_time), update.model_dump_json()),
    )
    stored = update.model_copy(update={"id": int(cur.lastrowid or 0)})
    save_update(conn, stored)
    return stored


def save_update(conn: sqlite3.Connection, update: StatusUpdate) -> None:
    conn.execute("UPDATE incident_updates SET doc = ? WHERE id = ?", (update.model_dump_json(), update.id))


def updates(conn: sqlite3.Connection, incident_id: str) -> list[StatusUpdate]:
    return _docs(
        conn, StatusUpdate, "SELECT doc FROM incident_updates WHERE incident_id = ? ORDER BY id", (incident_id,)
    )


def put_action(conn: sqlite3.Connection, action: Action, *, tenant: str) -> None:
    conn.execute(
        "INSERT INTO incident_actions (incident_id, id, tenant, state, doc) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (incident_id, id) DO UPDATE SET state = excluded.state, doc = excluded.doc",
        (action.incident_id, action.id, tenant, action.state.value, action.model_dump_json()),
    )


def actions(conn: sqlite3.Connection, incident_id: str) -> list[Action]:
    return _docs(conn, Action, "SELECT doc FROM incident_actions WHERE incident_id = ? ORDER BY rowid", (incident_id,))


def put_review(conn: sqlite3.Connection, review: Review, *, tenant: str) -> None:
    conn.execute(
        "INSERT INTO incident_reviews (incident_id, tenant, doc) VALUES (?, ?, ?)"
        " ON CONFLICT (incident_id) DO UPDATE SET doc = excluded.doc",
        (review.incident_id, tenant, review.model_dump_json()),
    )


def review(conn: sqlite3.Connection, incident_id: str) -> Review | None:
    found = _docs(conn, Review, "SELECT doc FROM incident_reviews WHERE incident_id = ?", (incident_id,))
    return found[0] if found else None


def put_review_action(conn: sqlite3.Connection, action: ReviewAction, *, tenant: str) -> None:
    conn.execute(
        "INSERT INTO incident_review_actions (incident_id, id, tenant, state, due, doc) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (incident_id, id) DO UPDATE SET state = excluded.state, due = excluded.due,"
        " doc = excluded.doc",
        (action.incident_id, action.id, tenant, action.state.value, action.due.isoformat(), action.model_dump_json()),
    )


def review_actions(conn: sqlite3.Connection, incident_id: str) -> list[ReviewAction]:
    return _docs(
        conn,
        ReviewAction,
        "SELECT doc FROM incident_review_actions WHERE incident_id = ? ORDER BY rowid",
        (incident_id,),
    )


class Stats(BaseModel):
    """Per-tenant numbers the metrics refresher mirrors into gauges."""

    active: dict[str, int]
    updates: dict[str, tuple[int, int]]
    overdue: dict[str, int]
    actions: dict[tuple[str, str], int]
    pir_open: dict[str, int]
    pir_overdue: dict[str, int]


def add_missed_update(conn: sqlite3.Connection, incident: Incident, *, due: datetime, now: datetime) -> bool:
    """An update slot that passed unsent before the update clock stopped; False if it was recorded already."""
    cur = conn.execute(
        "INSERT OR IGNORE INTO incident_missed_updates (incident_id, tenant, due_at, recorded_at) VALUES (?, ?, ?, ?)",
        (incident.id, incident.tenant, iso(due), iso(now)),
    )
    return cur.rowcount == 1


def stats(conn: sqlite3.Connection, *, now: datetime, today: date) -> Stats:
    marks = ",".join("?" * len(_ACTIVE))

    def by_tenant(sql: str, params: Sequence[object] = ()) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in conn.execute(sql, params)}

    active_sql = f"SELECT tenant, COUNT(*) FROM incidents WHERE state IN ({marks}) GROUP BY tenant"
    return Stats(
        active=by_tenant(active_sql, _ACTIVE),
        updates={
            r[0]: (int(r[1]), int(r[2]))
            for r in conn.execute(
                "SELECT tenant, SUM(on_time), COUNT(*) FROM ("
                " SELECT tenant, on_time FROM incident_updates"
                " UNION ALL SELECT tenant, 0 FROM incident_missed_updates) GROUP BY tenant"
            )
        },
        overdue=by_tenant(
            f"SELECT tenant, COUNT(*) FROM incidents WHERE state IN ({marks}) AND next_update_due < ? GROUP BY tenant",
            (*_ACTIVE, iso(now)),
        ),
        actions={
            (r[0], r[1]): int(r[2])
            for r in conn.execute(
                "SELECT a.tenant, a.state, COUNT(*) FROM incident_actions a JOIN incidents i ON i.id = a.incident_id"
                f" WHERE i.state IN ({marks}) GROUP BY a.tenant, a.state",
                _ACTIVE,
            )
        },
        pir_open=by_tenant("SELECT tenant, COUNT(*) FROM incident_review_actions WHERE state = 'open' GROUP BY tenant"),
        pir_overdue=by_tenant(
            "SELECT tenant, COUNT(*) FROM incident_review_actions WHERE state = 'open' AND due < ? GROUP BY tenant",
            (today.isoformat(),),
        ),
    )


class IncidentStore:
    """Async reads for the API and the metrics refresher; writes go through the command service."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def list(
        self, *, tenants: builtins.list[str] | None, state: str | None, limit: int = 100, cursor: str | None = None
    ) -> Page[Incident]:
        """Newest first; keyset cursor on (declared_at, id)."""
        limit = max(1, min(limit, MAX_LIMIT))
        where: builtins.list[str] = []
        params: builtins.list[object] = []
        if tenants is not None:
            where.append(f"tenant IN ({','.join('?' * len(tenants))})" if tenants else "0")
            params += tenants
        if state is not None:
            where.append("state = ?")
            params.append(state)
        filters = " AND ".join(where) or "1"
        page_where = filters
        page_params = list(params)
        if cursor:
            key = decode_cursor(cursor)
            page_where += " AND (declared_at, id) < (?, ?)"
            page_params += key[:2]

        def query(conn: sqlite3.Connection) -> Page[Incident]:
            total = int(conn.execute(f"SELECT COUNT(*) FROM incidents WHERE {filters}", params).fetchone()[0])
            rows = conn.execute(
                f"SELECT declared_at, id, doc FROM incidents WHERE {page_where}"
                " ORDER BY declared_at DESC, id DESC LIMIT ?",
                (*page_params, limit + 1),
            ).fetchall()
            items = [Incident.model_validate_json(r["doc"]) for r in rows[:limit]]
            nxt = encode_cursor([rows[limit - 1]["declared_at"], rows[limit - 1]["id"]]) if len(rows) > limit else None
            return Page[Incident](items=items, total=total, next=nxt)

        return await self._db.read(query)

    async def stats(self, *, now: datetime, today: date) -> Stats:
        return await self._db.read(lambda conn: stats(conn, now=now, today=today))
