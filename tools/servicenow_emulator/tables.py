"""The emulator's records: full-schema rows, journal entries, reference resolution and Major Incident states.

Values are stored as an instance stores them (strings; references as sys_ids); display values are computed
when a row is rendered. A reference set to something other than a sys_id resolves, as on an instance, only
by the referenced table's display value (a user's name, never its user_name); a value that matches nothing
is kept as given. Journal fields (work_notes, comments) are never stored on the row: each write adds a
sys_journal_field entry and reading the field shows the entries newest first, as an instance does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from tools.servicenow_emulator.query import EncodedQuery
from tools.servicenow_emulator.schema import JOURNAL_LABELS, USERS, Table, tables

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DisplayMode = Literal["true", "false", "all"]
Row = dict[str, str]


class UnknownTable(LookupError):
    pass


class DecisionError(ValueError):
    """A commander action the record's current major_incident_state does not allow."""


class UnknownUser(ValueError):
    """No sys_user has this user_name."""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):  # pysnc may send {"value": ..., "display_value": ...}
        return _text(value.get("value", value.get("display_value")))
    return str(value)


def _priority(impact: str, urgency: str) -> str:
    """The default priority lookup: impact 1 + urgency 1 is Critical, 3 + 3 is Planning."""
    try:
        return str(min(5, max(1, int(impact) + int(urgency) - 1)))
    except ValueError:
        return "5"


class Store:
    def __init__(self, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._clock = clock
        self.tables: dict[str, Table] = tables()
        self.rows: dict[str, dict[str, Row]] = {name: {} for name in self.tables}
        self._numbers: dict[str, int] = {}
        for user_name, first, last in USERS:
            self.add_user(user_name, f"{first} {last}", first_name=first, last_name=last)

    def now(self) -> str:
        return self._clock().astimezone(UTC).strftime(TIME_FORMAT)

    def table(self, name: str) -> Table:
        if name not in self.tables:
            raise UnknownTable(name)
        return self.tables[name]

    def select(self, table: str, query: EncodedQuery) -> list[Row]:
        self.table(table)
        matched = [r for r in self.rows[table].values() if query.matches(r)]
        return [dict(r) for r in query.sort(matched)]

    def get(self, table: str, sys_id: str) -> Row | None:
        self.table(table)
        row = self.rows[table].get(sys_id)
        return None if row is None else dict(row)

    # writes

    def insert(self, table: str, values: Mapping[str, Any], *, user: str) -> Row:
        schema = self.table(table)
        now = self.now()
        row: Row = {name: f.default for name, f in schema.fields.items()}
        given = _text(values.get("sys_id"))
        row["sys_id"] = given if len(given) == 32 else uuid.uuid4().hex
        row.update(sys_created_on=now, sys_created_by=user, sys_updated_on=now, sys_updated_by=user)
        if schema.number_prefix:
            self._numbers[table] = self._numbers.get(table, 10000) + 1
            row["number"] = f"{schema.number_prefix}{self._numbers[table]:07d}"
        if table == "incident":
            row.update(opened_at=now, opened_by=self.user_id(user) or user)
        self.rows[table][row["sys_id"]] = row
        self._apply(table, row, values, user=user, now=now, created=True)
        return dict(row)

    def update(self, table: str, sys_id: str, values: Mapping[str, Any], *, user: str) -> Row | None:
        self.table(table)
        row = self.rows[table].get(sys_id)
        if row is None:
            return None
        self._apply(table, row, values, user=user, now=self.now(), created=False)
        return dict(row)

    def delete(self, table: str, sys_id: str) -> bool:
        self.table(table)
        return self.rows[table].pop(sys_id, None) is not None

    def _apply(self, table: str, row: Row, values: Mapping[str, Any], *, user: str, now: str, created: bool) -> None:
        schema = self.tables[table]
        changed = False
        for name, raw in values.items():
            spec = schema.fields.get(name)
            if spec is None or name in ("sys_id", "number") or name.startswith("sys_"):
                continue  # an instance ignores fields it does not have and protects system fields
            value = _text(raw)
            if spec.kind == "journal":
                if value.strip():
                    self.add_journal(table, row["sys_id"], name, value, user=user)
                    changed = True
                continue
            if spec.kind == "reference" and value:
                value = self.resolve(spec.reference, value)
            if row[name] != value:
                row[name] = value
                changed = True
        if table == "incident":
            changed |= self._incident_rules(row, user=user, now=now)
        if changed and not created:
            row.update(sys_updated_on=now, sys_updated_by=user, sys_mod_count=str(int(row["sys_mod_count"]) + 1))

    def _incident_rules(self, row: Row, *, user: str, now: str) -> bool:
        """The business rules an instance runs on incident writes that micd depends on."""
        before = dict(row)
        row["priority"] = _priority(row["impact"], row["urgency"])
        state = row["major_incident_state"]
        if state == "proposed" and not row["proposed_on"]:
            row.update(proposed_on=now, proposed_by=row["proposed_by"] or self.user_id(user) or user)
        if state == "accepted" and not row["promoted_on"]:
            row.update(promoted_on=now, promoted_by=row["promoted_by"] or self.user_id(user) or user)
        return row != before

    # journal

    def add_journal(self, table: str, sys_id: str, element: str, text: str, *, user: str) -> Row:
        entry = {"element": element, "element_id": sys_id, "name": table, "value": text}
        return self.insert("sys_journal_field", entry, user=user)

    def journal(self, table: str, sys_id: str, element: str) -> str:
        """A journal field as read on the record: every entry, newest first, with its author and time."""
        elements = set(JOURNAL_LABELS) if element == "comments_and_work_notes" else {element}
        entries = [
            e
            for e in self.rows["sys_journal_field"].values()
            if e["element_id"] == sys_id and e["name"] == table and e["element"] in elements
        ]
        lines = []
        for entry in reversed(entries):
            user_id = self.user_id(entry["sys_created_by"])
            author = self.display("sys_user", user_id) if user_id else entry["sys_created_by"]
            label = JOURNAL_LABELS.get(entry["element"], entry["element"])
            lines.append(f"{entry['sys_created_on']} - {author} ({label})\n{entry['value']}\n\n")
        return "".join(lines)

    # references

    def user_id(self, user_name: str) -> str | None:
        """The sys_id of the sys_user with this user_name, if there is one."""
        return next((r["sys_id"] for r in self.rows["sys_user"].values() if r["user_name"] == user_name), None)

    def add_user(self, user_name: str, name: str, **more: str) -> str:
        """A sys_user (display value `name`) unless one has this user_name already; its sys_id either way."""
        found = self.user_id(user_name)
        if found is not None:
            return found
        return self.insert("sys_user", {"user_name": user_name, "name": name, **more}, user="system")["sys_id"]

    def resolve(self, table: str, value: str) -> str:
        """A reference set by sys_id or by display value stores the sys_id; unknown values stay as given."""
        if table not in self.tables:
            return value
        rows = self.rows[table]
        if value in rows:
            return value
        shown = self.tables[table].display_field
        return next((sys_id for sys_id, row in rows.items() if row[shown] == value), value)

    def display(self, table: str, value: str) -> str:
        if table not in self.tables or value not in self.rows[table]:
            return value
        return self.rows[table][value][self.tables[table].display_field]

    # rendering

    def render(
        self,
        table: str,
        row: Row,
        *,
        mode: DisplayMode,
        fields: list[str] | None,
        links: bool,
        base_url: str,
    ) -> dict[str, Any]:
        schema = self.tables[table]
        names = [f for f in fields if f in schema.fields] if fields else list(schema.fields)
        out: dict[str, Any] = {}
        for name in names:
            spec = schema.fields[name]
            value = row[name]
            if spec.kind == "journal":
                value, shown = "", self.journal(table, row["sys_id"], name)
            elif spec.kind == "reference":
                shown = self.display(spec.reference, value) if value else ""
            elif spec.kind == "choice":
                shown = spec.label(value)
            else:
                shown = value
            link = f"{base_url}/api/now/table/{spec.reference}/{value}" if spec.kind == "reference" and value else ""
            if mode == "all":
                out[name] = {"display_value": shown, "value": value} | ({"link": link} if links and link else {})
            elif links and link:
                out[name] = {("display_value" if mode == "true" else "value"): shown if mode == "true" else value}
                out[name]["link"] = link
            else:
                out[name] = shown if mode == "true" else value
        return out

    # Major Incident Management

    def decide(self, sys_id: str, *, action: str, actor: str, reason: str) -> Row:
        """What a commander does in the Major Incident workbench: accept (promote), reject, or cancel (demote)."""
        row = self.rows["incident"].get(sys_id)
        if row is None:
            raise LookupError(sys_id)
        state = row["major_incident_state"]
        allowed = {"accept": ("proposed",), "reject": ("proposed",), "cancel": ("proposed", "accepted")}
        if action not in allowed:
            raise DecisionError(f"unknown action {action!r}: use accept, reject or cancel")
        if state not in allowed[action]:
            raise DecisionError(f"{row['number']} is {state or 'not a major incident candidate'}: cannot {action}")
        if action != "accept" and not reason.strip():
            raise DecisionError(f"{action} needs a reason")
        actor_id = self.user_id(actor)
        if actor_id is None:
            raise UnknownUser(f"no sys_user with user_name {actor!r}")
        now = self.now()
        if action == "accept":
            values = {"major_incident_state": "accepted", "promoted_by": actor_id, "assigned_to": actor_id}
            row["promoted_on"] = now
            note = "Major incident proposal accepted" + (f": {reason}" if reason else "")
        else:
            values = {"major_incident_state": "rejected" if action == "reject" else "canceled"}
            note = reason
        values["work_notes"] = note
        self._apply("incident", row, values, user=actor, now=now, created=False)
        return dict(row)
