"""The link rules, table-driven: which direction a failure spreads in, and where an alert naming no service is."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.catalog.graph import Graph
from daemon.correlation.links import Reach, place
from daemon.proposals.replay import Replay
from tests.correlation.factory import Feed, make_alert, minutes, shipped
from tests.correlation.test_correlator import fire_all, groups

RULES = shipped()
W, LAG = timedelta(minutes=10), timedelta(minutes=5)


@pytest.mark.parametrize(
    ("cause", "effect", "span"),
    [
        (True, False, (W, LAG)),  # a callee or host: up to the window before, only the lag after
        (False, True, (LAG, W)),  # a caller or hosted service: the reverse
        (True, True, (W, W)),  # a cycle: either way
        (False, False, (W, W)),
    ],
)
def test_span_by_direction(cause: bool, effect: bool, span: tuple[timedelta, timedelta]) -> None:
    reach = Reach(Graph(RULES.catalog, max_hops=2), window=W, cause_lag=LAG)
    assert reach.span(cause=cause, effect=effect) == span


def test_reach_gives_callees_and_callers_their_spans() -> None:
    reach = dict(Reach(Graph(RULES.catalog, max_hops=2), window=W, cause_lag=LAG).of("acme", "checkout"))
    assert reach["checkout"] == (W, W)
    assert reach["payments-api"] == (W, LAG)  # checkout calls it
    assert reach["web-shop"] == (LAG, W)  # it calls checkout


@pytest.mark.parametrize(
    ("topology", "expected"),
    [
        ({"node": "n1", "cluster": "c1"}, ("node", "n1")),
        ({"cluster": "c1", "region": "eu"}, ("cluster", "c1")),
        ({"region": "eu"}, ("region", "eu")),
        ({"node": "", "cluster": "c1"}, ("cluster", "c1")),
        ({}, None),
    ],
)
def test_place_is_the_most_specific_value(topology: dict[str, str], expected: tuple[str, str] | None) -> None:
    assert place(topology, ("node", "cluster", "datacenter", "region")) == expected


@pytest.mark.parametrize(
    ("first", "second", "together"),
    [
        # caller after its callee, within the window: the failure spreading up
        (("payments-api", 0), ("web-shop", 8), True),
        # callee (the probable cause) alerting a little after its caller
        (("web-shop", 0), ("payments-api", 4), True),
        # callee alerting a whole window later: something else went wrong
        (("web-shop", 0), ("payments-api", 8), False),
        # the same service: either way within the window
        (("checkout", 0), ("checkout", 9), True),
        (("checkout", 0), ("checkout", 11), False),
    ],
)
def test_call_links_follow_the_direction_of_failure(
    first: tuple[str, float], second: tuple[str, float], together: bool
) -> None:
    for order in (0, 1):
        replay, feed = Replay(RULES), Feed()
        alerts = [
            make_alert("acme", "First", service=first[0], start=minutes(first[1])),
            make_alert("acme", "Second", service=second[0], start=minutes(second[1])),
        ]
        fire_all(replay, feed, alerts if order == 0 else alerts[::-1])
        assert (len(groups(replay)) == 1) is together


@pytest.mark.parametrize(
    ("node_alert", "expected"),
    [
        # a warning on the node a pod of checkout runs on attaches to checkout's outage
        ({"node": "n1", "cluster": "c1", "severity": "warning"}, {frozenset({"Node", "ChkErr"}), frozenset({"Srch"})}),
        # a warning on another node of the same cluster says nothing about either outage
        ({"node": "n9", "cluster": "c1", "severity": "warning"}, {frozenset({"ChkErr"}), frozenset({"Srch"})}),
        # the node itself down: what runs there is one outage
        ({"node": "n1", "cluster": "c1", "severity": "critical"}, {frozenset({"Node", "ChkErr", "Srch"})}),
        # a critical alert placed no closer than the cluster never bridges outages
        ({"cluster": "c1", "severity": "critical"}, {frozenset({"Node", "ChkErr"}), frozenset({"Srch"})}),
        # the node down, but long after the pods failed: not their cause
        (
            {"node": "n1", "cluster": "c1", "severity": "critical", "start": 12},
            {frozenset({"ChkErr"}), frozenset({"Srch"})},
        ),
    ],
)
def test_an_alert_naming_no_service_links_only_where_it_is(
    node_alert: dict[str, object], expected: set[frozenset[str]]
) -> None:
    labels: dict[str, Any] = {k: str(v) for k, v in node_alert.items() if k != "start"}
    start = minutes(float(node_alert.get("start", 0)))  # type: ignore[arg-type]
    for order in (0, 1):
        replay, feed = Replay(RULES), Feed()
        node = make_alert("acme", "Node", job="node-exporter", start=start, **labels)
        pods = [
            make_alert("acme", "ChkErr", service="checkout", node="n1", cluster="c1", start=minutes(1)),
            make_alert("acme", "Srch", service="search", node="n1", cluster="c1", start=minutes(2)),
        ]
        fire_all(replay, feed, [node, *pods] if order == 0 else [*pods, node])
        assert groups(replay) == expected


ACME = ["web-shop", "checkout", "payments-api", "cart", "catalog-api", "search", "redis-acme", "reporting"]
NODE_ALERT = st.tuples(st.sampled_from(["n1", "n2"]), st.integers(min_value=0, max_value=40))


@settings(max_examples=60, deadline=None)
@given(
    alerts=st.lists(
        st.tuples(st.sampled_from(ACME), st.integers(min_value=0, max_value=40), st.sampled_from(["", "n1", "n2"])),
        min_size=1,
        max_size=10,
    ),
    nodes=st.lists(NODE_ALERT, max_size=3),
    seed=st.randoms(use_true_random=False),
)
def test_grouping_with_failed_nodes_does_not_depend_on_arrival_order(
    alerts: list[tuple[str, int, str]], nodes: list[tuple[str, int]], seed: object
) -> None:
    made = [
        make_alert("acme", f"A{i}", service=service, start=minutes(start), **({"node": node} if node else {}))  # type: ignore[arg-type]
        for i, (service, start, node) in enumerate(alerts)
    ] + [
        make_alert("acme", f"N{i}", job="node-exporter", node=node, start=minutes(start))
        for i, (node, start) in enumerate(nodes)
    ]
    shuffled = list(made)
    seed.shuffle(shuffled)  # type: ignore[attr-defined]
    results = []
    for order in (made, shuffled):
        replay, feed = Replay(RULES), Feed()
        for alert in order:
            replay.step([feed.fire(alert)], now=minutes(50))
        results.append(groups(replay))
    assert results[0] == results[1]
