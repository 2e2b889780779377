"""The emulator answers the way pysnc needs, checked with the real pysnc (and requests for raw wire details)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import pysnc
import pytest
import requests

from tools.servicenow_emulator.query import QueryError, parse
from tools.servicenow_emulator.server import Emulator

pytestmark = pytest.mark.timeout(60)
T = TypeVar("T")
INCIDENTS = [
    {"short_description": "Payments down", "impact": "1", "urgency": "1", "category": "network"},
    {"short_description": "Checkout slow", "impact": "2", "urgency": "2", "category": "software"},
    {"short_description": "Payroll batch late", "impact": "3", "urgency": "3", "category": ""},
]


def client(emulator: Emulator, user: str = "admin", password: str = "admin") -> pysnc.ServiceNowClient:  # noqa: S107
    return pysnc.ServiceNowClient(emulator.url, (user, password))


async def sync(fn: Callable[[], T]) -> T:
    return await asyncio.to_thread(fn)


@pytest.fixture
async def seeded(emulator: Emulator) -> Emulator:
    for values in INCIDENTS:
        emulator.store.insert("incident", values, user="admin")
    return emulator


def descriptions(emulator: Emulator, encoded: str, *, order: str | None = None) -> list[str]:
    gr = client(emulator).GlideRecord("incident")
    gr.add_encoded_query(encoded)
    if order:
        gr.order_by_desc(order)
    gr.query()
    return [str(r.short_description) for r in gr]


@pytest.mark.parametrize(
    ("encoded", "expected"),
    [
        ("impact=1", ["Payments down"]),
        ("impact!=1", ["Checkout slow", "Payroll batch late"]),
        ("short_descriptionLIKEpay", ["Payments down", "Payroll batch late"]),
        ("short_descriptionSTARTSWITHcheck", ["Checkout slow"]),
        ("impactIN1,3", ["Payments down", "Payroll batch late"]),
        ("categoryISEMPTY", ["Payroll batch late"]),
        ("categoryISNOTEMPTY^impact=2", ["Checkout slow"]),
        ("impact=1^ORurgency=3", ["Payments down", "Payroll batch late"]),
        ("impact=1^NQcategory=software", ["Payments down", "Checkout slow"]),
        ("priority<=3", ["Payments down", "Checkout slow"]),
    ],
)
async def test_query_operators_through_pysnc(seeded: Emulator, encoded: str, expected: list[str]) -> None:
    found = await sync(lambda: descriptions(seeded, encoded, order="impact"))
    assert sorted(found) == sorted(expected)
    assert found == sorted(
        found, key=lambda d: -int(next(i["impact"] for i in INCIDENTS if i["short_description"] == d))
    )


async def test_display_values_and_full_schema_rows(seeded: Emulator) -> None:
    def read(display: Any) -> pysnc.GlideRecord:
        gr = client(seeded).GlideRecord("incident")
        gr.display_value = display
        gr.add_query("impact", "1")
        gr.query()
        assert gr.next()
        return gr

    both = await sync(lambda: read("all"))
    assert (both.impact.get_value(), both.impact.get_display_value()) == ("1", "1 - High")
    assert both.priority.get_display_value() == "1 - Critical"
    assert both.get_value("major_incident_state") == ""  # every field is there, empty when unset
    assert set(seeded.store.tables["incident"].fields) <= set(both.fields or [])
    values = await sync(lambda: read(False))
    assert values.get_value("impact") == "1"
    shown = await sync(lambda: read(True))
    assert shown.get_value("impact") == "1 - High"


async def test_lists_carry_x_total_count_and_page(seeded: Emulator) -> None:
    def get(params: dict[str, str]) -> requests.Response:
        url = f"{seeded.url}/api/now/table/incident"
        return requests.get(url, params=params, auth=("admin", "admin"), timeout=5)

    page = await sync(lambda: get({"sysparm_limit": "2", "sysparm_offset": "1", "sysparm_fields": "number"}))
    assert page.status_code == 200
    assert page.headers["X-Total-Count"] == "3"
    assert page.json() == {"result": [{"number": "INC0010002"}, {"number": "INC0010003"}]}
    assert 'rel="first"' in page.headers["Link"]
    assert (await sync(lambda: get({"unknown_param": "x"}))).status_code == 200

    def walk() -> tuple[int, list[str]]:
        gr = client(seeded).GlideRecord("incident", batch_size=2)
        gr.query()
        return len(gr), [str(r.number) for r in gr]  # pysnc pages through with sysparm_offset

    total, numbers = await sync(walk)
    assert total == 3
    assert sorted(numbers) == ["INC0010001", "INC0010002", "INC0010003"]


async def test_errors_as_servicenow_writes_them(seeded: Emulator) -> None:
    url = f"{seeded.url}/api/now/table/incident"
    unauthenticated = await sync(lambda: requests.get(url, auth=("admin", "wrong"), timeout=5))
    assert unauthenticated.status_code == 401
    assert unauthenticated.json() == {
        "error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"},
        "status": "failure",
    }
    with pytest.raises(pysnc.exceptions.AuthenticationException):
        await sync(client(seeded, password="wrong").GlideRecord("incident").query)

    def insert_as_auditor() -> None:
        gr = client(seeded, "auditor", "auditor").GlideRecord("incident")
        gr.initialize()
        gr.short_description = "nope"
        gr.insert()

    with pytest.raises(pysnc.exceptions.RoleException):
        await sync(insert_as_auditor)
    assert await sync(lambda: client(seeded).GlideRecord("incident").get("0" * 32)) is False
    missing = await sync(lambda: requests.get(f"{url}/{'0' * 32}", auth=("admin", "admin"), timeout=5))
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "No Record found"
    assert missing.json()["status"] == "failure"
    bad_table = await sync(lambda: requests.get(f"{seeded.url}/api/now/table/nope", auth=("admin", "admin"), timeout=5))
    assert bad_table.status_code == 400
    assert bad_table.json()["error"]["message"] == "Invalid table nope"


async def test_insert_update_delete_and_journal(emulator: Emulator) -> None:
    def work() -> tuple[str, str, int]:
        gr = client(emulator).GlideRecord("incident")
        gr.initialize()
        gr.short_description = "Disk full"
        gr.work_notes = "first note"
        sys_id = str(gr.insert())
        again = client(emulator).GlideRecord("incident")
        assert again.get(sys_id)
        again.work_notes = "second note"
        again.update()
        journal = str(again.work_notes.get_display_value())
        deleted = requests.delete(f"{emulator.url}/api/now/table/incident/{sys_id}", auth=("admin", "admin"), timeout=5)
        return journal, deleted.text, deleted.status_code

    journal, body, status = await sync(work)
    assert journal.index("second note") < journal.index("first note")  # newest first, as an instance shows it
    assert "(Work notes)" in journal
    assert (status, body) == (204, "")


async def test_batch_api_as_pysnc_uses_it(seeded: Emulator) -> None:
    def work() -> bool:
        gr = client(seeded).GlideRecord("incident")
        gr.add_query("impact", "IN", "2,3")
        gr.query()
        for record in gr:
            record.category = "batched"
        updated: bool = gr.update_multiple()
        return updated

    assert await sync(work) is True
    batch_posts = [r for r in seeded.state.requests if r["path"] == "/api/now/v1/batch"]
    assert len(batch_posts) == 1
    assert {r["category"] for r in seeded.store.select("incident", parse("impactIN2,3"))} == {"batched"}


async def test_control_api_faults_and_request_log(seeded: Emulator) -> None:
    def call() -> requests.Response:
        return requests.get(f"{seeded.url}/api/now/table/incident", auth=("admin", "admin"), timeout=5)

    control = f"{seeded.url}/_emulator/faults"
    posted = await sync(lambda: requests.post(control, json={"kind": "throttle", "retry_after": 3}, timeout=5))
    assert posted.status_code == 201
    throttled = await sync(call)
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "3")
    assert (await sync(call)).status_code == 200  # count=1: used up
    when = {"kind": "throttle", "retry_at": "2026-01-05T10:00:07+01:00"}  # the other form RFC 9110 allows
    assert (await sync(lambda: requests.post(control, json=when, timeout=5))).status_code == 201
    dated = await sync(call)
    assert (dated.status_code, dated.headers["Retry-After"]) == (429, "Mon, 05 Jan 2026 09:00:07 GMT")
    bad = await sync(lambda: requests.post(control, json={"kind": "flood"}, timeout=5))
    assert bad.status_code == 400
    log = await sync(lambda: requests.get(f"{seeded.url}/_emulator/requests", timeout=5))
    assert [r["status"] for r in log.json()["requests"]] == [429, 200, 429]


@pytest.mark.parametrize(
    ("text", "message"),
    [("=1", "expected a field name"), ("impact~1", "no known operator"), ("fieldISEMPTYx", "takes no value")],
)
def test_unreadable_queries_name_the_term(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse(text)


def test_carets_in_values_are_escaped_by_doubling() -> None:
    query = parse("short_description=a^^b^impact=1")
    assert query.matches({"short_description": "a^b", "impact": "1"})
    assert not query.matches({"short_description": "a", "impact": "1"})


async def test_user_references_resolve_by_sys_id_or_display_name_only(emulator: Emulator) -> None:
    """As on an instance: a user's display value is its name, and a user_name is no way to set a reference."""
    jane = emulator.store.user_id("jane.doe")
    assert jane is not None

    def write(value: str) -> tuple[str, str]:
        gr = client(emulator).GlideRecord("incident")
        gr.initialize()
        gr.assigned_to = value
        sys_id = str(gr.insert())
        back = client(emulator).GlideRecord("incident")
        assert back.get(sys_id)
        return str(back.assigned_to.get_value()), str(back.assigned_to.get_display_value())

    assert await sync(lambda: write(jane)) == (jane, "Jane Doe")
    assert await sync(lambda: write("Jane Doe")) == (jane, "Jane Doe")
    assert await sync(lambda: write("jane.doe")) == ("jane.doe", "jane.doe")  # matches no user: kept as given
    names = {r["user_name"]: r["name"] for r in emulator.store.select("sys_user", parse(""))}
    assert {
        "admin": "System Administrator",
        "jane.doe": "Jane Doe",
        "john.smith": "John Smith",
    }.items() <= names.items()

    # the control API's commander must be a user as well
    proposed = emulator.store.insert("incident", {"major_incident_state": "proposed"}, user="admin")["sys_id"]
    accept = f"{emulator.url}/_emulator/incidents/{proposed}/accept"

    def act(actor: str) -> requests.Response:
        return requests.post(accept, json={"actor": actor}, verify=str(emulator.ca_path), timeout=5)

    ghost = await sync(lambda: act("ghost"))
    assert (ghost.status_code, ghost.json()["error"]["detail"]) == (400, "no sys_user with user_name 'ghost'")
    john = await sync(lambda: act("john.smith"))
    assert john.json()["result"]["promoted_by"]["display_value"] == "John Smith"
