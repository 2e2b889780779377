"""Static checks of the shipped Prometheus rules, Grafana dashboards and metric catalogue, with the real promtool.

The live half (every query answering against a Prometheus that scrapes micd) reuses deploy_queries.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from daemon.telemetry.metrics import Metrics
from tests.telemetry.deploy_queries import (
    PROMTOOL,
    REPO,
    RULES_DIR,
    Query,
    all_panels,
    all_queries,
    dashboard_files,
    dashboard_queries,
    interpolate,
    load_dashboard,
    promtool_parse_errors,
    recorded_names,
    rule_files,
)

pytestmark = pytest.mark.skipif(shutil.which(PROMTOOL) is None, reason="promtool (Debian package prometheus) missing")

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
SELECTOR = re.compile(r"(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)\{(?P<matchers>[^}]*)\}")
MATCHER_LABEL = re.compile(r"(\w+)\s*(?:=~|!~|!=|=)")
TENANT_QUERY = "label_values(micd_alerts_received_total, tenant)"


def catalogue() -> dict[str, set[str]]:
    """Every exposed micd_* series name with the labels it carries (prometheus_client adds _total and _bucket)."""
    exposed: dict[str, set[str]] = {}
    for metric in vars(Metrics()).values():
        if not isinstance(metric, MetricWrapperBase):
            continue
        labels = set(metric._labelnames)
        if metric._type == "counter":
            exposed[f"{metric._name}_total"] = labels
        elif metric._type == "histogram":
            exposed[f"{metric._name}_bucket"] = labels | {"le"}
            exposed[f"{metric._name}_count"] = labels
            exposed[f"{metric._name}_sum"] = labels
        else:
            exposed[metric._name] = labels
    return exposed


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, check=False)


def test_shipped_artifacts_exist() -> None:
    assert [p.name for p in rule_files()] == ["micd-alerts.rules.yml", "micd-recording.rules.yml"]
    assert {p.stem for p in dashboard_files()} == {"micd-executive", "micd-command", "micd-operations"}


@pytest.mark.parametrize("path", rule_files(), ids=lambda p: p.name)
def test_promtool_check_rules_passes(path: Path) -> None:
    done = promtool("check", "rules", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_rule_unit_tests_pass() -> None:
    """Exact KPI values and alert firing, computed by Prometheus's own rule engine."""
    done = promtool("test", "rules", str(RULES_DIR / "tests" / "micd-rules.test.yml"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_query_parses(tmp_path: Path) -> None:
    queries = all_queries()
    assert len(queries) > 60
    errors = promtool_parse_errors(queries, tmp_path)
    assert errors == {}, "\n".join(f"{q.origin}: {e}" for q, e in errors.items())


def test_parse_check_names_the_broken_query(tmp_path: Path) -> None:
    good = Query("good", "sum(rate(micd_alerts_received_total[5m]))")
    unclosed = Query("unclosed", "sum(rate(micd_alerts_received_total[5m])")
    wrong_type = Query("wrong type", "rate(micd_alerts_received_total)")
    errors = promtool_parse_errors([good, unclosed, wrong_type], tmp_path)
    assert set(errors) == {unclosed, wrong_type}
    assert "unclosed left parenthesis" in errors[unclosed]
    assert "expected type range vector" in errors[wrong_type]


def test_dashboard_variables_are_filled() -> None:
    assert (
        interpolate(
            'x{tenant=~"$tenant"}[$__rate_interval] offset ${baseline}',
            {"tenant": ".*", "__rate_interval": "5m", "baseline": "8w"},
        )
        == 'x{tenant=~".*"}[5m] offset 8w'
    )
    with pytest.raises(KeyError, match=r"\$nope"):
        interpolate("x offset $nope", {})
    exprs = [q.expr for q in dashboard_queries({"baseline": "4w"})]
    assert not [e for e in exprs if "$" in e]
    assert any("offset 4w" in e for e in exprs)


def test_every_referenced_metric_exists() -> None:
    exposed = catalogue()
    recorded = recorded_names()
    unknown = {
        (query.origin, name)
        for query in all_queries()
        for name in NAME.findall(query.expr)
        if "micd_" in name and name not in exposed and name not in recorded
    }
    assert unknown == set()
    used = {name for query in all_queries() for name in NAME.findall(query.expr)}
    assert recorded <= used, f"recording rules no dashboard or alert reads: {recorded - used}"


def test_label_matchers_name_real_labels() -> None:
    exposed = catalogue()
    recorded = {name: {"tenant"} for name in recorded_names()}
    scrape_labels = {"job", "instance"}
    wrong = []
    for query in all_queries():
        for selector in SELECTOR.finditer(query.expr):
            labels = exposed.get(selector["name"]) or recorded.get(selector["name"])
            if labels is None:
                continue
            for label in MATCHER_LABEL.findall(selector["matchers"]):
                if label not in labels | scrape_labels:
                    wrong.append(f"{query.origin}: {selector['name']} has no label {label!r}")
    assert wrong == []


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.name)
def test_dashboard_is_provisionable(path: Path) -> None:
    board = load_dashboard(path)
    assert board["uid"] == path.stem
    assert "micd" in board["tags"]
    panels = list(all_panels(board))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {path.name}"
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["tenant"]["query"]["query"] == TENANT_QUERY
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
    assert_no_overlap(panels)


def assert_no_overlap(panels: list[dict[str, Any]]) -> None:
    taken: dict[tuple[int, int], str] = {}
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] >= 0, panel["title"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in taken, f"{panel['title']!r} overlaps {taken[(x, y)]!r}"
                taken[(x, y)] = panel["title"]


def test_dashboard_uids_are_unique() -> None:
    uids = [load_dashboard(p)["uid"] for p in dashboard_files()]
    assert len(uids) == len(set(uids))


def test_provisioning_points_at_a_dashboard_folder() -> None:
    provider = yaml.safe_load((REPO / "deploy/grafana/provisioning/dashboards/micd.yaml").read_text())
    assert provider["apiVersion"] == 1
    assert [p["type"] for p in provider["providers"]] == ["file"]
    assert provider["providers"][0]["options"]["path"].startswith("/")


def test_metric_catalogue_documents_every_metric() -> None:
    """docs/metrics.md names each exposed metric in a table row; a metric added in code needs its row."""
    doc = (REPO / "docs" / "metrics.md").read_text()
    documented = set(re.findall(r"^\| `(micd_[a-z0-9_]+)`", doc, flags=re.MULTILINE))
    families = {re.sub(r"_(bucket|count|sum)$", "", name) for name in catalogue()}
    assert families - documented == set(), "undocumented metrics"
    assert documented - families == set(), "documented metrics that micd does not expose"
