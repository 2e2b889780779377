"""`micd incidents`, `micd update`, `micd decide`, `micd action`, `micd review`: the command phase from a terminal.

Every command calls a running daemon's HTTP API (--url, --token or MICD_TOKEN), so the CLI obeys the same
roles, gates and tenant scope as any other client. Exit codes: 0 ok, 1 refused or failed, 2 invalid input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

DEFAULT_URL = "http://127.0.0.1:9095"
LANES = ["commander", "communications", "technical_lead", "service_owner", "executive_liaison"]
COMMANDS = ["mitigate", "monitor", "resolve", "review", "close", "cancel", "reject"]
STEPS = ["precheck", "approve", "start", "succeed", "fail", "rollback", "cancel", "relink"]


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def call(args: argparse.Namespace, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One API call; the answer as JSON (or text for non-JSON answers). Errors carry the daemon's message."""
    headers = {"Accept": "application/json"}
    token = args.token or os.environ.get("MICD_TOKEN", "")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if not args.url.startswith(("http://", "https://")):
        raise ApiError(422, f"--url must be an http(s) URL, not {args.url!r}")
    url = args.url.rstrip("/") + path
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 - scheme checked
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - scheme checked above
            raw = resp.read().decode()
            return json.loads(raw) if resp.headers.get_content_type() == "application/json" else raw
    except urllib.error.HTTPError as exc:
        raise ApiError(exc.code, _describe(exc.read())) from exc
    except urllib.error.URLError as exc:
        raise ApiError(0, f"cannot reach {args.url}: {exc.reason}") from exc


def _describe(raw: bytes) -> str:
    try:
        error = json.loads(raw)["error"]
    except (ValueError, KeyError, TypeError):
        return raw.decode(errors="replace")[:500]
    lines = [str(error.get("message", ""))]
    lines += [f"  - {p['field']}: {p['reason']}" for p in error.get("problems", [])]
    return "\n".join(lines)


def _path(incident: str, suffix: str = "") -> str:
    return f"/api/v1/incidents/{urllib.parse.quote(incident, safe='')}{suffix}"


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True) if not isinstance(value, str) else value, end="")
    if not isinstance(value, str):
        print()


# incidents


def _list(args: argparse.Namespace) -> Any:
    query = {k: v for k, v in {"tenant": args.tenant, "state": args.state, "limit": args.limit}.items() if v}
    page = call(args, "GET", "/api/v1/incidents?" + urllib.parse.urlencode(query))
    if args.json:
        return page
    rows = [f"{'ID':<11} {'TENANT':<12} P {'STATE':<10} {'NEXT UPDATE':<17} TITLE"]
    for i in page["items"]:
        due = (i.get("next_update_due") or "-")[:16].replace("T", " ")
        rows.append(f"{i['id']:<11} {i['tenant']:<12} {i['priority']} {i['state']:<10} {due:<17} {i['title']}")
    rows.append(f"{page['total']} incident(s)" + (f"; more with --cursor {page['next']}" if page["next"] else ""))
    return "\n".join(rows) + "\n"


def _show(args: argparse.Namespace) -> Any:
    view = call(args, "GET", _path(args.incident))
    if args.json:
        return view
    i = view["incident"]
    out = [f"{i['id']} [P{i['priority']}] {i['title']} ({i['tenant']}): {i['state']}"]
    if i.get("predecessor_id"):
        out.append(f"repeat of {i['predecessor_id']}")
    out.append("next update due: " + (i.get("next_update_due") or "-") + (" OVERDUE" if view["update_overdue"] else ""))
    out.append("lanes:")
    out += [f"  {lane:<18} {owner or 'UNOWNED'}" for lane, owner in view["lanes"].items()]
    out.append("gates:")
    out += [
        f"  {cmd:<9} " + ("ready" if not gaps else "missing " + "; ".join(gaps)) for cmd, gaps in view["gates"].items()
    ]
    ready = view["ready_actions"]
    out.append("queue (ready, in order): " + (", ".join(ready) if ready else "none"))
    out.append("actions:")
    for a in sorted(view["actions"], key=lambda a: _index(ready, a["action"]["id"])):  # ready first, in order
        act = a["action"]
        why = f" blocked: {'; '.join(a['blocked_by'])}" if a["blocked_by"] else ""
        offer = f" rollback offered: {act['rollback_plan']}" if a["rollback_offered"] else ""
        out.append(
            f"  {act['id']:<4} P{act['priority']} {act['state']:<11} {act['title']} ({act['owner']}){why}{offer}"
        )
        out += [f"       {link['kind']} {link['service']}: {link['ref']}" for link in act.get("service_links", [])]
    out.append(f"decisions: {len(view['decisions'])} (in force: {view['decisions_in_force']})")
    out.append("updates:")
    for u in view["updates"]:
        timing = "on time" if u["on_time"] else "LATE"
        customer = "" if u["customer"] == "none" else f", customer {u['customer'].replace('_', ' ')}"
        out.append(f"  #{u['id']:<3} {_minute(u['created_at'])} {timing}{customer}: {u['summary']} ({u['created_by']})")
    if view["review"]:
        r = view["review"]
        done = f", completed {_minute(r['completed_at'])}" if r.get("completed_at") else ""
        out.append(f"review due {r['due_on']}, facilitator {r['facilitator'] or 'unassigned'}{done}")
        for item in view["review_actions"]:
            out.append(f"  {item['id']:<4} {item['state']:<6} due {item['due']} {item['title']} ({item['owner']})")
    recent = view["timeline"][-args.timeline :] if args.timeline else []
    if recent:
        out.append(f"timeline (last {len(recent)} of {len(view['timeline'])}):")
        out += [f"  {_minute(e['at'])} {e['lane']:<18} {e['actor']}: {e['text']}" for e in recent]
    return "\n".join(out) + "\n"


def _index(items: list[str], item: str) -> int:
    """Position in `items`; anything not there sorts after them (sorted() keeps its order)."""
    return items.index(item) if item in items else len(items)


def _minute(iso: str) -> str:
    return iso[:16].replace("T", " ")


def _move(args: argparse.Namespace) -> Any:
    body = {"command": args.command_name, "note": args.note, "evidence_links": args.link}
    return call(args, "POST", _path(args.incident, "/transitions"), body)


def _assign(args: argparse.Namespace) -> Any:
    return call(
        args, "POST", _path(args.incident, "/lanes"), {"lane": args.lane, "owner": args.owner, "note": args.note}
    )


def _review_md(args: argparse.Namespace) -> Any:
    return call(args, "GET", _path(args.incident, "/review.md"))


def _note(args: argparse.Namespace) -> Any:
    body = {"lane": args.lane, "text": args.text, "links": args.link}
    return call(args, "POST", _path(args.incident, "/notes"), body)


def _closure(args: argparse.Namespace) -> Any:
    given = {
        "validation_note": args.validation_note,
        "customer_confirmed_by": args.confirmed_by,
        "customer_confirmed_at": args.confirmed_at,
        "residual_risk": args.residual_risk,
    }
    body = {k: v for k, v in given.items() if v is not None}
    if not body:
        raise ApiError(
            422, "closure: give at least one of --validation-note, --confirmed-by/--confirmed-at, --residual-risk"
        )
    return call(args, "POST", _path(args.incident, "/closure"), body)


def _review_edit(args: argparse.Namespace) -> Any:
    sections: dict[str, str] = {}
    for given in args.section:
        name, sep, text = given.partition("=")
        if not sep:
            raise ApiError(422, f"--section: {given!r} is not NAME=TEXT (e.g. root_cause='disk firmware')")
        sections[name.strip()] = text
    body: dict[str, Any] = {"sections": sections}
    if args.facilitator is not None:
        body["facilitator"] = args.facilitator
    return call(args, "POST", _path(args.incident, "/review"), body)


def _review_action(args: argparse.Namespace) -> Any:
    body = {"title": args.title, "owner": args.owner, "due": args.due}
    return call(args, "POST", _path(args.incident, "/review/actions"), body)


def _review_close(args: argparse.Namespace) -> Any:
    item = urllib.parse.quote(args.item, safe="")
    return call(args, "POST", _path(args.incident, f"/review/actions/{item}/close"), {"note": args.note})


# update, decide, action


def _update(args: argparse.Namespace) -> Any:
    if args.approve is not None:
        return call(args, "POST", _path(args.incident, f"/updates/{args.approve}/approve"))
    if not args.summary:
        raise ApiError(422, "summary: give --summary (or --approve UPDATE_ID)")
    body: dict[str, Any] = {"summary": args.summary, "impact": args.impact, "evidence_links": args.link}
    if args.audience:
        body["audiences"] = args.audience
    return call(args, "POST", _path(args.incident, "/updates"), body)


def _decide(args: argparse.Namespace) -> Any:
    body = {
        "decision": args.decision,
        "rationale": args.rationale,
        "owner": args.owner,
        "alternatives": args.alternative,
        "evidence_links": args.link,
        "corrects": args.corrects,
    }
    return call(args, "POST", _path(args.incident, "/decisions"), body)


def _action_add(args: argparse.Namespace) -> Any:
    body = {
        "title": args.title,
        "owner": args.owner,
        "priority": args.priority,
        "precheck": args.precheck,
        "depends_on": args.depends_on,
        "risk": args.risk,
        "rollback_plan": args.rollback,
        "links": args.link,
        "services": args.service,
    }
    return call(args, "POST", _path(args.incident, "/actions"), body)


def _action_step(args: argparse.Namespace) -> Any:
    body: dict[str, Any] = {"step": args.step, "note": args.note}
    if args.step == "precheck":
        body["passed"] = not args.failed
    if args.step == "relink":
        body["depends_on"] = args.depends_on
    return call(args, "POST", _path(args.incident, f"/actions/{urllib.parse.quote(args.action, safe='')}"), body)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", default=os.environ.get("MICD_URL", DEFAULT_URL), help=f"daemon URL (default {DEFAULT_URL})")
    p.add_argument("--token", default=None, help="API token (default: $MICD_TOKEN)")
    p.add_argument("--json", action="store_true", help="print the API answer as JSON")


def _leaf(sub: Any, name: str, fn: Any, help_text: str, *, incident: bool = True) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
    _common(p)
    if incident:
        p.add_argument("incident", help="incident id, e.g. MI-000001")
    p.set_defaults(run=_run, call=fn)
    return p


def register(sub: Any) -> None:
    inc = sub.add_parser("incidents", help="list, show and move major incidents").add_subparsers(
        dest="incidents_command", required=True, metavar="ACTION"
    )
    p = _leaf(inc, "list", _list, "major incidents, newest first", incident=False)
    p.add_argument("--tenant")
    p.add_argument("--state")
    p.add_argument("--limit", type=int, default=50)
    p = _leaf(inc, "show", _show, "one incident: lanes, gates, queue, decisions, updates, review, timeline")
    p.add_argument("--timeline", type=int, default=10, metavar="N", help="last N timeline entries (0: none)")
    p = _leaf(inc, "move", _move, "run a lifecycle command; missing gates are listed")
    p.add_argument("command_name", choices=COMMANDS, metavar="COMMAND", help=", ".join(COMMANDS))
    p.add_argument("--note", default="")
    p.add_argument("--link", action="append", default=[])
    p = _leaf(inc, "assign", _assign, "assign or hand over a role lane")
    p.add_argument("lane", choices=LANES)
    p.add_argument("owner")
    p.add_argument("--note", default="")
    _leaf(inc, "review-md", _review_md, "print the post-incident review as Markdown")
    p = _leaf(inc, "note", _note, "add a note to a lane of the timeline")
    p.add_argument("lane", choices=LANES)
    p.add_argument("text")
    p.add_argument("--link", action="append", default=[])
    p = _leaf(inc, "closure", _closure, "record closure evidence: validation, customer confirmation, residual risk")
    p.add_argument("--validation-note", help="how the service was validated")
    p.add_argument("--confirmed-by", help="who at the customer confirmed the service is back")
    p.add_argument("--confirmed-at", help="when they confirmed, ISO 8601 with offset (2026-12-04T10:30:00+01:00)")
    p.add_argument("--residual-risk", help="what risk remains after the fix")

    rev = sub.add_parser("review", help="the post-incident review and its action items").add_subparsers(
        dest="review_command", required=True, metavar="ACTION"
    )
    p = _leaf(rev, "edit", _review_edit, "set the facilitator and write template sections")
    p.add_argument("--facilitator")
    p.add_argument(
        "--section",
        action="append",
        default=[],
        metavar="NAME=TEXT",
        help="summary, timeline, root_cause, went_well or went_badly",
    )
    p = _leaf(rev, "action", _review_action, "add an action item with an owner and a due date")
    p.add_argument("--title", required=True)
    p.add_argument("--owner", required=True)
    p.add_argument("--due", required=True, help="YYYY-MM-DD")
    p = _leaf(rev, "close", _review_close, "close an action item")
    p.add_argument("item", help="action item id, e.g. R1")
    p.add_argument("--note", default="")

    p = _leaf(sub, "update", _update, "publish a status update, or --approve the customer part of one")
    p.add_argument("--summary", default="")
    p.add_argument("--impact", default="")
    p.add_argument("--audience", action="append", choices=["technical", "executive", "customer"])
    p.add_argument("--link", action="append", default=[])
    p.add_argument("--approve", type=int, metavar="UPDATE_ID")

    p = _leaf(sub, "decide", _decide, "append to the decision log")
    p.add_argument("--decision", required=True)
    p.add_argument("--rationale", required=True)
    p.add_argument("--owner", required=True)
    p.add_argument("--alternative", action="append", default=[])
    p.add_argument("--link", action="append", default=[])
    p.add_argument("--corrects", type=int)

    act = sub.add_parser("action", help="mitigation actions").add_subparsers(
        dest="action_command", required=True, metavar="ACTION"
    )
    p = _leaf(act, "add", _action_add, "queue a mitigation action")
    p.add_argument("--title", required=True)
    p.add_argument("--owner", required=True)
    p.add_argument("--precheck", required=True)
    p.add_argument("--priority", type=int, default=3)
    p.add_argument("--depends-on", action="append", default=[])
    p.add_argument("--risk", choices=["low", "risky", "high"], default="low")
    p.add_argument("--rollback", default="")
    p.add_argument("--link", action="append", default=[])
    p.add_argument(
        "--service",
        action="append",
        default=[],
        help="catalogue service acted on, for its runbook and knowledge links (default: the incident's)",
    )
    p = _leaf(act, "step", _action_step, "precheck, approve, start, succeed, fail, rollback, cancel or relink")
    p.add_argument("action")
    p.add_argument("step", choices=STEPS)
    p.add_argument("--note", default="")
    p.add_argument("--failed", action="store_true", help="with precheck: the pre-check failed")
    p.add_argument("--depends-on", action="append", default=[])


def _run(args: argparse.Namespace) -> int:
    try:
        _print(args.call(args))
    except ApiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if exc.status in (400, 413, 415, 422) else 1
    return 0
