"""The tables the emulator knows, with the field kinds that change how values are stored and displayed.

Rows are full schema: every field of the table is present, as an empty string when unset, because pysnc
silently sends an empty PATCH for a field that was missing from the record it fetched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["string", "reference", "choice", "journal", "datetime", "boolean", "integer"]


@dataclass(frozen=True)
class Field:
    kind: Kind = "string"
    reference: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    default: str = ""

    def label(self, value: str) -> str:
        return dict(self.choices).get(value, value)


@dataclass(frozen=True)
class Table:
    name: str
    fields: dict[str, Field]
    display_field: str
    number_prefix: str = ""


def _ref(table: str) -> Field:
    return Field("reference", reference=table)


def _when() -> Field:
    return Field("datetime")


_LEVELS = (("1", "1 - High"), ("2", "2 - Medium"), ("3", "3 - Low"))
PRIORITIES = (("1", "1 - Critical"), ("2", "2 - High"), ("3", "3 - Moderate"), ("4", "4 - Low"), ("5", "5 - Planning"))
MAJOR_INCIDENT_STATES = (
    ("proposed", "Proposed"),
    ("accepted", "Accepted"),
    ("rejected", "Rejected"),
    ("canceled", "Canceled"),
)
STATES = (
    ("1", "New"),
    ("2", "In Progress"),
    ("3", "On Hold"),
    ("6", "Resolved"),
    ("7", "Closed"),
    ("8", "Canceled"),
)


def _system() -> dict[str, Field]:
    return {
        "sys_id": Field(),
        "sys_created_on": _when(),
        "sys_created_by": Field(),
        "sys_updated_on": _when(),
        "sys_updated_by": Field(),
        "sys_mod_count": Field("integer", default="0"),
        "sys_tags": Field(),
        "sys_domain": Field(default="global"),
        "sys_domain_path": Field(default="/"),
    }


_INCIDENT_STRINGS = [
    "additional_assignee_list",
    "approval_history",
    "business_duration",
    "business_impact",
    "business_stc",
    "calendar_duration",
    "calendar_stc",
    "category",
    "cause",
    "close_code",
    "close_notes",
    "contact_type",
    "correlation_display",
    "correlation_id",
    "description",
    "group_list",
    "hold_reason",
    "lessons_learned",
    "location",
    "notify",
    "order",
    "origin_id",
    "origin_table",
    "overview",
    "route_reason",
    "severity",
    "short_description",
    "subcategory",
    "task_effective_number",
    "time_worked",
    "timeline",
    "universal_request",
    "upon_approval",
    "upon_reject",
    "user_input",
    "watch_list",
    "work_notes_list",
    "child_incidents",
    "activity_due",
    "approval",
    "delivery_plan",
    "delivery_task",
    "escalation",
]
_INCIDENT_REFERENCES = {
    "assigned_to": "sys_user",
    "assignment_group": "sys_user_group",
    "business_service": "cmdb_ci_service",
    "caller_id": "sys_user",
    "caused_by": "change_request",
    "closed_by": "sys_user",
    "cmdb_ci": "cmdb_ci",
    "company": "core_company",
    "contract": "ast_contract",
    "opened_by": "sys_user",
    "parent": "task",
    "parent_incident": "incident",
    "problem_id": "problem",
    "promoted_by": "sys_user",
    "proposed_by": "sys_user",
    "reopened_by": "sys_user",
    "resolved_by": "sys_user",
    "rfc": "change_request",
    "service_offering": "service_offering",
    "trigger_rule": "major_incident_trigger_rule",
}
_INCIDENT_TIMES = [
    "approval_set",
    "closed_at",
    "due_date",
    "expected_start",
    "follow_up",
    "opened_at",
    "promoted_on",
    "proposed_on",
    "reopened_time",
    "resolved_at",
    "sla_due",
    "work_end",
    "work_start",
]


def _incident() -> Table:
    fields: dict[str, Field] = {name: Field() for name in _INCIDENT_STRINGS}
    fields.update({name: _ref(table) for name, table in _INCIDENT_REFERENCES.items()})
    fields.update({name: _when() for name in _INCIDENT_TIMES})
    fields.update(
        {
            "number": Field(),
            "active": Field("boolean", default="true"),
            "knowledge": Field("boolean", default="false"),
            "made_sla": Field("boolean", default="true"),
            "impact": Field("choice", choices=_LEVELS, default="3"),
            "urgency": Field("choice", choices=_LEVELS, default="3"),
            "priority": Field("choice", choices=PRIORITIES, default="5"),
            "state": Field("choice", choices=STATES, default="1"),
            "incident_state": Field("choice", choices=STATES, default="1"),
            "major_incident_state": Field("choice", choices=MAJOR_INCIDENT_STATES),
            "reassignment_count": Field("integer", default="0"),
            "reopen_count": Field("integer", default="0"),
            "sys_class_name": Field(default="incident"),
            "work_notes": Field("journal"),
            "comments": Field("journal"),
            "comments_and_work_notes": Field("journal"),
        }
    )
    fields.update(_system())
    return Table("incident", dict(sorted(fields.items())), display_field="number", number_prefix="INC")


def _simple(name: str, *extra: str, display: str = "name") -> Table:
    fields = {"name": Field(), **{f: Field() for f in extra}, **_system()}
    if "active" in fields:
        fields["active"] = Field("boolean", default="true")
    return Table(name, fields, display_field=display)


def _journal() -> Table:
    fields = {
        "element": Field(),
        "element_id": Field(),
        "name": Field(),
        "value": Field(),
        **_system(),
    }
    return Table("sys_journal_field", fields, display_field="value")


def tables() -> dict[str, Table]:
    """A fresh catalogue of the tables served; unknown table names answer 400 as on an instance."""
    known = [
        _incident(),
        _journal(),
        _simple("sys_user", "user_name", "email", "first_name", "last_name", "active"),
        _simple("sys_user_group", "description", "email", "manager", "active"),
        _simple("core_company", "customer", "vendor"),
        _simple("cmdb_ci", "sys_class_name", "operational_status", "company"),
        # "busines_criticality" is spelt as on an instance.
        _simple("cmdb_ci_service", "sys_class_name", "operational_status", "busines_criticality", "company"),
        _simple("major_incident_trigger_rule", "condition", "active"),
    ]
    return {t.name: t for t in known}


# The users every emulated instance starts with (user_name, first name, last name), as on a demo instance;
# a user's display value is its name, "first last".
USERS = (
    ("admin", "System", "Administrator"),
    ("jane.doe", "Jane", "Doe"),
    ("john.smith", "John", "Smith"),
    ("abel.tuter", "Abel", "Tuter"),
)

# How the emulator prints journal entries when work_notes is read, as an instance does (newest first).
JOURNAL_LABELS = {"work_notes": "Work notes", "comments": "Additional comments"}
