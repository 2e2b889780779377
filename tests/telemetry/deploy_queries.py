"""Every PromQL query micd ships (Prometheus rules and Grafana dashboards), ready to check or to run.

Shared by the static checks (promtool parses each query) and the live checks (each query runs against a real
Prometheus scraping micd), so both see exactly the same queries with the same dashboard variables filled in.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "deploy" / "prometheus"
DASHBOARDS_DIR = REPO / "deploy" / "grafana" / "dashboards"
PROMTOOL = "promtool"

# Grafana's built-in variables, with values that make a dashboard query a valid instant query.
GRAFANA_BUILTINS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}
# label_values(METRIC, LABEL) is Grafana syntax, not PromQL: its METRIC selector is the PromQL part.
_LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>\w+)\)$")
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


@dataclass(frozen=True)
class Query:
    """One PromQL expression and where it comes from, for error messages a person can act on."""

    origin: str
    expr: str


def rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.rules.yml"))


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS_DIR.glob("*.json"))


def load_dashboard(path: Path) -> dict[str, Any]:
    board: dict[str, Any] = json.loads(path.read_text())
    return board


def all_panels(board: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Panels at every depth: a collapsed row keeps its panels inside it."""
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def rule_queries() -> list[Query]:
    queries = []
    for path in rule_files():
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                name = rule.get("record") or rule.get("alert")
                queries.append(Query(f"{path.name} group {group['name']} rule {name}", str(rule["expr"]).strip()))
    return queries


def variable_defaults(board: Mapping[str, Any]) -> dict[str, str]:
    """The value each dashboard variable starts with; multi-value and All-able variables match everything."""
    values = dict(GRAFANA_BUILTINS)
    for variable in board.get("templating", {}).get("list", []):
        if variable["type"] == "datasource":
            continue
        if variable.get("includeAll") or variable.get("multi"):
            values[variable["name"]] = variable.get("allValue") or ".*"
        else:
            values[variable["name"]] = str(variable["current"]["value"])
    return values


def interpolate(expr: str, values: Mapping[str, str]) -> str:
    """Fill dashboard variables as Grafana would; an unknown variable is an error, not a silent pass."""

    def fill(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        if name not in values:
            raise KeyError(f"undefined dashboard variable ${name} in {expr!r}")
        return values[name]

    return _VARIABLE.sub(fill, expr)


def dashboard_queries(overrides: Mapping[str, str] | None = None) -> list[Query]:
    """Panel targets and variable queries of every dashboard, variables filled (defaults, then `overrides`)."""
    queries = []
    for path in dashboard_files():
        board = load_dashboard(path)
        values = {**variable_defaults(board), **(overrides or {})}
        for variable in board.get("templating", {}).get("list", []):
            if variable["type"] == "query":
                selector = _LABEL_VALUES.match(variable["query"]["query"])
                if selector is None:
                    raise ValueError(f"{path.name} variable {variable['name']}: expected label_values(metric, label)")
                queries.append(Query(f"{path.name} variable {variable['name']}", selector["selector"]))
        for panel in all_panels(board):
            for target in panel.get("targets", []):
                origin = f"{path.name} panel {panel['id']} {panel['title']!r} target {target['refId']}"
                queries.append(Query(origin, interpolate(target["expr"], values)))
    return queries


def all_queries(overrides: Mapping[str, str] | None = None) -> list[Query]:
    return rule_queries() + dashboard_queries(overrides)


def recorded_names() -> set[str]:
    names: set[str] = set()
    for path in rule_files():
        for group in yaml.safe_load(path.read_text())["groups"]:
            names.update(rule["record"] for rule in group["rules"] if "record" in rule)
    return names


def promtool_parse_errors(queries: list[Query], workdir: Path) -> dict[Query, str]:
    """Parse every query with the real Prometheus parser (`promtool check rules`); returns the ones that fail.

    Each query becomes the recording rule of its own group, so promtool's message names the failing query.
    """
    groups = [
        {"name": f"q{index}", "rules": [{"record": f"check:q{index}", "expr": query.expr}]}
        for index, query in enumerate(queries)
    ]
    rules_file = workdir / "queries.rules.yml"
    rules_file.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    done = subprocess.run([PROMTOOL, "check", "rules", str(rules_file)], capture_output=True, text=True, check=False)
    report = done.stdout + done.stderr
    errors: dict[Query, str] = {}
    for index, query in enumerate(queries):
        lines = [line for line in report.splitlines() if f'group "q{index}"' in line]
        if lines:
            errors[query] = "\n".join(lines)
    if done.returncode != 0 and not errors:
        raise RuntimeError(f"promtool failed without naming a query:\n{report}")
    return errors
