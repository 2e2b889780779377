"""The incident desk: the ServiceNow operations micd needs, each one pysnc call sequence in a worker thread.

Records that are updated are always fetched whole (pysnc silently sends an empty PATCH for a field that was not
fetched); only read-only queries limit their fields.

User references (assigned_to, promoted_by) are written as sys_ids: an instance resolves any other value only
by the user's display name, so a user_name micd knows would silently match nobody. A user name that is not
found is still written as given (it may be a display name) and the journal entry of the same write says so.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

import pysnc

from daemon.kernel.errors import NotFound
from daemon.proposals.models import ProposalState
from daemon.servicenow.connection import Connection
from daemon.servicenow.tickets import MARKER_PREFIX, unknown_user_note

log = logging.getLogger("micd.servicenow")
SN_TIME = "%Y-%m-%d %H:%M:%S"
USER_FIELDS = ("assigned_to", "promoted_by")
DECIDED = (ProposalState.ACCEPTED, ProposalState.REJECTED, ProposalState.CANCELED)
IDS_PER_QUERY = 50
NOTES_SCANNED = 20


@dataclass(frozen=True)
class IncidentRef:
    sys_id: str
    number: str


@dataclass(frozen=True)
class IncidentDecision:
    """A commander's decision as ServiceNow holds it."""

    sys_id: str
    state: ProposalState
    actor: str
    at: datetime | None
    reason: str


def sn_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime(SN_TIME)


def _parse_time(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, SN_TIME).replace(tzinfo=UTC)
    except ValueError:
        return None


def _incident(client: pysnc.ServiceNowClient, sys_id: str) -> pysnc.GlideRecord:
    gr = client.GlideRecord("incident")
    if not gr.get(sys_id):
        raise NotFound(f"ServiceNow incident {sys_id} not found")
    return gr


def _has_entry(client: pysnc.ServiceNowClient, *, sys_id: str, field: str, mark: str) -> bool:
    gr = client.GlideRecord("sys_journal_field")
    gr.fields = "sys_id"
    gr.add_query("element_id", sys_id)
    gr.add_query("element", field)
    gr.add_query("value", "LIKE", mark)
    gr.limit = 1
    gr.query()
    return len(gr) > 0


def _latest_reason(client: pysnc.ServiceNowClient, sys_id: str) -> str:
    """The newest work note not written by micd: where a commander gives the reason for a rejection."""
    gr = client.GlideRecord("sys_journal_field")
    gr.fields = "value,sys_created_on"
    gr.add_query("element_id", sys_id)
    gr.add_query("element", "work_notes")
    gr.order_by_desc("sys_created_on")
    gr.limit = NOTES_SCANNED
    gr.query()
    for entry in gr:
        text = str(entry.get_value("value") or "")
        if MARKER_PREFIX not in text:
            return text.strip()
    return ""


class Users:
    """sys_user lookups, remembered for the life of the process: a user's sys_id never changes.

    Only answers found are remembered, so a user created in ServiceNow later is found on the next write.
    Worker threads share it; each dict operation is atomic, and two threads at worst look up the same user twice.
    """

    def __init__(self) -> None:
        self._ids: dict[str, str] = {}
        self._names: dict[str, str] = {}

    def sys_id(self, client: pysnc.ServiceNowClient, user: str) -> str | None:
        """The sys_id of the user with this user_name (or this sys_id), None when the instance has none."""
        if user in self._ids:
            return self._ids[user]
        escaped = user.replace("^", "^^")  # the encoded-query separator, doubled as an instance expects
        gr = client.GlideRecord("sys_user")
        gr.fields = "sys_id,user_name"
        gr.add_query("user_name", escaped).add_or_condition("sys_id", escaped)
        gr.limit = 1
        gr.query()
        if not gr.next():
            return None
        sys_id = str(gr.get_value("sys_id"))
        self._remember(sys_id, str(gr.get_value("user_name")))
        self._ids[user] = sys_id
        return sys_id

    def user_name(self, client: pysnc.ServiceNowClient, sys_id: str, shown: str) -> str:
        """A promoter's user_name (a stable id for micd), else the name ServiceNow shows."""
        if not sys_id:
            return shown
        if sys_id not in self._names:
            user = client.GlideRecord("sys_user")
            if not user.get(sys_id):
                return shown or sys_id
            self._remember(sys_id, str(user.get_value("user_name") or ""))
        return self._names[sys_id] or shown or sys_id

    def _remember(self, sys_id: str, user_name: str) -> None:
        self._names[sys_id] = user_name
        if user_name:
            self._ids[user_name] = sys_id

    def references(self, client: pysnc.ServiceNowClient, values: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
        """`values` with each user field set to the user's sys_id; the notes for users not found."""
        out = dict(values)
        notes: list[str] = []
        for field in USER_FIELDS:
            user = values.get(field)
            if not user:
                continue
            sys_id = self.sys_id(client, user)
            if sys_id is None:
                notes.append(unknown_user_note(field=field, user=user))
            else:
                out[field] = sys_id
        return out, notes


class IncidentDesk:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection
        self.users = Users()

    async def find(self, *, correlation_id: str) -> IncidentRef | None:
        def run(client: pysnc.ServiceNowClient) -> IncidentRef | None:
            gr = client.GlideRecord("incident")
            gr.fields = "sys_id,number"
            gr.add_query("correlation_id", correlation_id)
            gr.order_by("sys_created_on")
            gr.limit = 1
            gr.query()
            if not gr.next():
                return None
            return IncidentRef(str(gr.get_value("sys_id")), str(gr.get_value("number")))

        return await self._conn.call("find", run)

    async def create(self, *, fields: Mapping[str, str]) -> IncidentRef:
        def run(client: pysnc.ServiceNowClient) -> IncidentRef:
            values, notes = self.users.references(client, fields)
            if notes:
                values["work_notes"] = "\n".join([*notes, values.get("work_notes", "")]).strip()
            gr = client.GlideRecord("incident")
            gr.initialize()
            for name, value in values.items():
                gr.set_value(name, value)
            gr.insert()
            for note in notes:
                log.warning("%s", note, extra={"incident": str(gr.get_value("number"))})
            return IncidentRef(str(gr.get_value("sys_id")), str(gr.get_value("number")))

        return await self._conn.call("create", run)

    async def append(
        self, *, sys_id: str, field: str, text: str, mark: str, fields: Mapping[str, str] | None = None
    ) -> bool:
        """Add a journal entry unless the one carrying `mark` is there already; False when it was. `fields` are
        set in the same update, so they change exactly when the entry is written."""

        def run(client: pysnc.ServiceNowClient) -> bool:
            if _has_entry(client, sys_id=sys_id, field=field, mark=mark):
                return False
            gr = _incident(client, sys_id)
            for name, value in (fields or {}).items():
                gr.set_value(name, value)
            gr.set_value(field, text)
            gr.update()
            return True

        return await self._conn.call("journal", run)

    async def decide(
        self,
        *,
        sys_id: str,
        state: ProposalState,
        actor: str,
        at: datetime,
        note: str,
        mark: str,
        commander: str | None = None,
    ) -> ProposalState:
        """Write micd's decision unless ServiceNow already holds one; returns the state ServiceNow ends with.

        An accept names who promoted it and assigns the incident to its commander (the promoter by default)."""

        def run(client: pysnc.ServiceNowClient) -> ProposalState:
            gr = _incident(client, sys_id)
            current = str(gr.get_value("major_incident_state") or "")
            if current in {s.value for s in DECIDED}:
                if current == state.value and not _has_entry(client, sys_id=sys_id, field="work_notes", mark=mark):
                    gr.set_value("work_notes", note)
                    gr.update()
                return ProposalState(current)
            values = {"major_incident_state": state.value}
            if state is ProposalState.ACCEPTED:
                values.update(promoted_by=actor, promoted_on=sn_time(at), assigned_to=commander or actor)
            values, notes = self.users.references(client, values)
            for name, value in values.items():
                gr.set_value(name, value)
            gr.set_value("work_notes", "\n".join([*notes, note]))
            gr.update()
            for warning in notes:
                log.warning("%s", warning, extra={"incident": str(gr.get_value("number"))})
            return state

        return await self._conn.call("decide", run)

    async def decisions(self, *, sys_ids: list[str]) -> list[IncidentDecision]:
        """Decisions taken in ServiceNow on these incidents; undecided ones are left out."""
        found: list[IncidentDecision] = []
        for start in range(0, len(sys_ids), IDS_PER_QUERY):
            chunk = sys_ids[start : start + IDS_PER_QUERY]
            found += await self._conn.call("poll", partial(self._decided, sys_ids=chunk))
        return found

    def _decided(self, client: pysnc.ServiceNowClient, *, sys_ids: list[str]) -> list[IncidentDecision]:
        gr = client.GlideRecord("incident")
        gr.fields = "sys_id,major_incident_state,promoted_by,promoted_on,sys_updated_on,sys_updated_by"
        gr.add_query("sys_id", "IN", ",".join(sys_ids))
        gr.add_query("major_incident_state", "IN", ",".join(s.value for s in DECIDED))
        gr.query()
        found = []
        for row in gr:
            sys_id = str(row.get_value("sys_id"))
            state = ProposalState(str(row.get_value("major_incident_state")))
            if state is ProposalState.ACCEPTED:
                actor = self.users.user_name(
                    client, str(row.get_value("promoted_by") or ""), str(row.get_display_value("promoted_by") or "")
                )
                at = _parse_time(str(row.get_value("promoted_on") or ""))
                reason = ""
            else:
                actor = str(row.get_value("sys_updated_by") or "servicenow")
                at = _parse_time(str(row.get_value("sys_updated_on") or ""))
                reason = _latest_reason(client, sys_id)
            found.append(IncidentDecision(sys_id, state, actor, at, reason))
        return found
