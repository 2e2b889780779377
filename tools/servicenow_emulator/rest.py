"""The Table API as a plain function of (method, path, params, body, account): used by HTTP and by the Batch API.

Answers carry ServiceNow's shapes: `{"result": ...}`, `X-Total-Count` on every list, 201 on insert, 204 with
no body on delete, and errors as `{"error": {"message", "detail"}, "status": "failure"}`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from yarl import URL

from tools.servicenow_emulator.query import QueryError, parse
from tools.servicenow_emulator.tables import DisplayMode, Row, Store, UnknownTable

DEFAULT_LIMIT = 10000


@dataclass(frozen=True)
class Account:
    user_name: str
    password: str
    read_only: bool = False


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def failure(status: int, message: str, detail: str | None = None, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"error": {"message": message, "detail": detail}, "status": "failure"}, headers or {})


NOT_AUTHENTICATED = ("User Not Authenticated", "Required to provide Auth information")


class TableApi:
    def __init__(self, store: Store, *, base_url: str) -> None:
        self.store = store
        self.base_url = base_url

    def dispatch(self, method: str, path: str, params: Mapping[str, str], body: Any, account: Account) -> Reply:
        parts = [p for p in path.split("/") if p]
        # /api/now/table/{t}[/{id}] and the versioned /api/now/v1/table/{t}[/{id}]
        if parts[2:3] == ["v1"]:
            parts = parts[:2] + parts[3:]
        if parts[:3] != ["api", "now", "table"] or len(parts) not in (4, 5):
            return failure(400, "Requested URI does not represent any resource", path)
        table, sys_id = parts[3], (parts[4] if len(parts) == 5 else None)
        try:
            self.store.table(table)
        except UnknownTable:
            return failure(400, f"Invalid table {table}")
        if method != "GET" and account.read_only:
            verb = {"POST": "Insert", "DELETE": "Delete"}.get(method, "Update")
            return failure(403, "Operation Failed", f"ACL Exception {verb} Failed due to security constraints")
        try:
            if method == "GET":
                return self._get(table, sys_id, params) if sys_id else self._list(table, params)
            if method == "POST" and sys_id is None:
                return self._insert(table, params, body, account)
            if method in ("PATCH", "PUT") and sys_id:
                return self._update(table, sys_id, params, body, account)
            if method == "DELETE" and sys_id:
                return Reply(204) if self.store.delete(table, sys_id) else _no_record()
        except QueryError as exc:
            return failure(400, "Invalid query", str(exc))
        except ValueError as exc:
            return failure(400, "Invalid parameter", str(exc))
        return failure(405, "Method not Supported", f"{method} is not supported for this resource")

    def _render(self, table: str, row: Row, params: Mapping[str, str]) -> dict[str, Any]:
        mode = params.get("sysparm_display_value", "false").lower()
        display: DisplayMode = "all" if mode == "all" else "true" if mode == "true" else "false"
        fields = [f.strip() for f in params.get("sysparm_fields", "").split(",") if f.strip()] or None
        links = params.get("sysparm_exclude_reference_link", "false").lower() != "true"
        return self.store.render(table, row, mode=display, fields=fields, links=links, base_url=self.base_url)

    def _list(self, table: str, params: Mapping[str, str]) -> Reply:
        rows = self.store.select(table, parse(params.get("sysparm_query", "")))
        limit = _count(params, "sysparm_limit", DEFAULT_LIMIT)
        offset = _count(params, "sysparm_offset", 0)
        page = rows[offset : offset + limit]
        headers = {"X-Total-Count": str(len(rows))}
        if params.get("sysparm_suppress_pagination_header", "false").lower() != "true":
            headers["Link"] = self._links(table, params, total=len(rows), limit=limit, offset=offset)
        return Reply(200, {"result": [self._render(table, r, params) for r in page]}, headers)

    def _links(self, table: str, params: Mapping[str, str], *, total: int, limit: int, offset: int) -> str:
        url = URL(f"{self.base_url}/api/now/table/{table}")
        last = max(0, (math.ceil(total / limit) - 1) * limit) if limit else 0
        pages = {"first": 0, "last": last}
        if offset + limit < total:
            pages["next"] = offset + limit
        if offset > 0:
            pages["prev"] = max(0, offset - limit)
        return ",".join(
            f'<{url.with_query({**params, "sysparm_offset": str(o), "sysparm_limit": str(limit)})}>;rel="{rel}"'
            for rel, o in pages.items()
        )

    def _get(self, table: str, sys_id: str, params: Mapping[str, str]) -> Reply:
        row = self.store.get(table, sys_id)
        return _no_record() if row is None else Reply(200, {"result": self._render(table, row, params)})

    def _insert(self, table: str, params: Mapping[str, str], body: Any, account: Account) -> Reply:
        if not isinstance(body, dict):
            return failure(400, "Exception while reading request", "The payload is not valid JSON.")
        row = self.store.insert(table, body, user=account.user_name)
        location = f"{self.base_url}/api/now/table/{table}/{row['sys_id']}"
        return Reply(201, {"result": self._render(table, row, params)}, {"Location": location})

    def _update(self, table: str, sys_id: str, params: Mapping[str, str], body: Any, account: Account) -> Reply:
        if not isinstance(body, dict):
            return failure(400, "Exception while reading request", "The payload is not valid JSON.")
        row = self.store.update(table, sys_id, body, user=account.user_name)
        return _no_record() if row is None else Reply(200, {"result": self._render(table, row, params)})


def _no_record() -> Reply:
    return failure(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")


def _count(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name, "")
    if raw == "":
        return default
    if not raw.isdigit():
        raise ValueError(f"{name} must be a non-negative integer, got {raw!r}")
    return int(raw)
