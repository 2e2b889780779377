"""Proposals as stored: one row per outage, the full model as JSON beside the columns we filter on.

The sync functions take a connection so that callers record a proposal (or a decision on it) in the same
`Database.write` transaction as the outbox item that delivers it.
"""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from daemon.kernel.errors import Conflict, InvalidInput, NotFound
from daemon.kernel.pages import MAX_LIMIT, Page, decode_cursor, encode_cursor
from daemon.proposals.models import Proposal, ProposalState
from daemon.store.database import Database, Migration, iso

MIGRATIONS = [
    Migration(
        "proposals",
        1,
        """CREATE TABLE proposals (
            id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL,
            outage_id TEXT NOT NULL UNIQUE,
            rule TEXT NOT NULL,
            mode TEXT NOT NULL,
            state TEXT NOT NULL,
            external_id TEXT,
            created_at TEXT NOT NULL,
            decided_at TEXT,
            doc TEXT NOT NULL
        );
        CREATE INDEX proposals_by_tenant ON proposals (tenant, created_at, id);
        CREATE INDEX proposals_by_state ON proposals (state, mode)""",
    )
]

_DECIDED = frozenset({ProposalState.ACCEPTED, ProposalState.REJECTED, ProposalState.CANCELED})


def _load(row: sqlite3.Row) -> Proposal:
    return Proposal.model_validate_json(row["doc"])


def _write(conn: sqlite3.Connection, proposal: Proposal) -> None:
    conn.execute(
        "UPDATE proposals SET rule = ?, mode = ?, state = ?, external_id = ?, decided_at = ?, doc = ? WHERE id = ?",
        (
            proposal.rule,
            proposal.mode,
            proposal.state.value,
            proposal.external_id,
            iso(proposal.decided_at),
            proposal.model_dump_json(),
            proposal.id,
        ),
    )


def fetch(conn: sqlite3.Connection, proposal_id: str) -> Proposal:
    """In-transaction read; NotFound if there is no such proposal."""
    row = conn.execute("SELECT doc FROM proposals WHERE id = ?", (proposal_id,)).fetchone()
    if row is None:
        raise NotFound(f"proposal {proposal_id} not found")
    return _load(row)


def fetch_by_outage(conn: sqlite3.Connection, outage_id: str) -> Proposal | None:
    row = conn.execute("SELECT doc FROM proposals WHERE outage_id = ?", (outage_id,)).fetchone()
    return None if row is None else _load(row)


def insert(conn: sqlite3.Connection, proposal: Proposal) -> None:
    """Record a new proposal. An outage has at most one: a second is a Conflict, never a duplicate row."""
    try:
        conn.execute(
            "INSERT INTO proposals (id, tenant, outage_id, rule, mode, state, external_id, created_at, decided_at, doc)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                proposal.id,
                proposal.tenant,
                proposal.outage_id,
                proposal.rule,
                proposal.mode,
                proposal.state.value,
                proposal.external_id,
                iso(proposal.created_at),
                iso(proposal.decided_at),
                proposal.model_dump_json(),
            ),
        )
    except sqlite3.IntegrityError as exc:
        raise Conflict(f"outage {proposal.outage_id} already has a proposal") from exc


def update_evidence(conn: sqlite3.Connection, proposal: Proposal) -> None:
    """Replace the stored proposal with a grown one (the caller bumps evidence_version)."""
    fetch(conn, proposal.id)
    _write(conn, proposal)


def set_external(
    conn: sqlite3.Connection, proposal_id: str, *, external_id: str, external_number: str, now: datetime
) -> Proposal:
    """Remember the ServiceNow record a proposal was delivered as."""
    updated = fetch(conn, proposal_id).model_copy(
        update={"external_id": external_id, "external_number": external_number, "updated_at": now}
    )
    _write(conn, updated)
    return updated


def set_decision(
    conn: sqlite3.Connection,
    proposal_id: str,
    *,
    state: ProposalState,
    actor: str,
    reason: str | None,
    at: datetime,
) -> Proposal:
    """Record the commander's decision once; a second decision is a Conflict (the first one stands)."""
    current = fetch(conn, proposal_id)
    if current.state is not ProposalState.PROPOSED:
        raise Conflict(f"proposal {proposal_id} was already {current.state.value} by {current.decided_by}")
    return _decided(conn, current, state=state, actor=actor, reason=reason, at=at, now=at)


def supersede_decision(
    conn: sqlite3.Connection,
    proposal_id: str,
    *,
    state: ProposalState,
    actor: str,
    reason: str,
    at: datetime,
    now: datetime,
) -> Proposal:
    """ServiceNow's decision replaces micd's when both were taken before either saw the other: the record of
    the major incident stands. `reason` must say what it replaced."""
    current = fetch(conn, proposal_id)
    if current.state is ProposalState.PROPOSED:
        raise Conflict(f"proposal {proposal_id} is undecided: record the decision, do not supersede")
    return _decided(conn, current, state=state, actor=actor, reason=reason, at=at, now=now)


def _decided(
    conn: sqlite3.Connection,
    current: Proposal,
    *,
    state: ProposalState,
    actor: str,
    reason: str | None,
    at: datetime,
    now: datetime,
) -> Proposal:
    if state not in _DECIDED:
        raise Conflict(f"{state.value} is not a decision")
    updated = current.model_copy(
        update={"state": state, "decided_by": actor, "decision_reason": reason, "decided_at": at, "updated_at": now}
    )
    _write(conn, updated)
    return updated


def rejected_since(conn: sqlite3.Connection, *, tenant: str, since: datetime) -> list[Proposal]:
    """Rejections recent enough to hold back a new proposal (the cooldown)."""
    rows = conn.execute(
        "SELECT doc FROM proposals WHERE tenant = ? AND state = ? AND decided_at >= ? ORDER BY decided_at",
        (tenant, ProposalState.REJECTED.value, iso(since)),
    ).fetchall()
    return [_load(r) for r in rows]


class ProposalStore:
    """Async reads for the API and the delivery workers."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, proposal_id: str, *, tenant: str | None = None) -> Proposal:
        """NotFound also when the proposal belongs to another tenant, so ids do not leak across tenants."""
        proposal = await self._db.read(lambda c: fetch(c, proposal_id))
        if tenant is not None and proposal.tenant != tenant:
            raise NotFound(f"proposal {proposal_id} not found")
        return proposal

    async def list(
        self,
        *,
        tenant: str | None = None,
        state: ProposalState | None = None,
        limit: int = 100,
        cursor: str | None = None,
        tenants: Sequence[str] | None = None,
    ) -> Page[Proposal]:
        """Newest first; `next` continues after the last item returned. `tenants` limits to a caller's scope."""
        limit = max(1, min(limit, MAX_LIMIT))
        where: builtins.list[str] = []
        args: builtins.list[Any] = []
        if tenant is not None:
            where.append("tenant = ?")
            args.append(tenant)
        if tenants is not None:
            where.append(f"tenant IN ({','.join('?' * len(tenants))})" if tenants else "0")
            args.extend(tenants)
        if state is not None:
            where.append("state = ?")
            args.append(state.value)
        filters = list(where)
        filter_args = list(args)
        if cursor is not None:
            key = decode_cursor(cursor)
            if len(key) != 2:
                raise InvalidInput.field("cursor", "not a cursor this API issued")
            where.append("(created_at < ? OR (created_at = ? AND id < ?))")
            args.extend([key[0], key[0], key[1]])

        def query(conn: sqlite3.Connection) -> Page[Proposal]:
            clause = f" WHERE {' AND '.join(where)}" if where else ""
            rows = conn.execute(
                f"SELECT doc, created_at, id FROM proposals{clause} ORDER BY created_at DESC, id DESC LIMIT ?",
                [*args, limit + 1],
            ).fetchall()
            count_clause = f" WHERE {' AND '.join(filters)}" if filters else ""
            total = int(conn.execute(f"SELECT COUNT(*) FROM proposals{count_clause}", filter_args).fetchone()[0])
            items = [_load(r) for r in rows[:limit]]
            more = len(rows) > limit
            nxt = encode_cursor([rows[limit - 1]["created_at"], rows[limit - 1]["id"]]) if more else None
            return Page[Proposal](items=items, total=total, next=nxt)

        return await self._db.read(query)

    async def by_outage(self, outage_id: str) -> Proposal | None:
        return await self._db.read(lambda c: fetch_by_outage(c, outage_id))

    async def awaiting_decision(self) -> builtins.list[Proposal]:
        """Live proposals delivered to ServiceNow and not yet decided: what the decision poller watches."""

        def query(conn: sqlite3.Connection) -> builtins.list[Proposal]:
            rows = conn.execute(
                "SELECT doc FROM proposals WHERE state = ? AND mode = 'live' AND external_id IS NOT NULL"
                " ORDER BY created_at",
                (ProposalState.PROPOSED.value,),
            ).fetchall()
            return [_load(r) for r in rows]

        return await self._db.read(query)
