"""Alert to service: label precedence with fall-through, exact, alias, fuzzy with its score, or nothing."""

from __future__ import annotations

import pytest

from daemon.catalog.graph import Graph
from daemon.catalog.matching import How, Matcher
from tests.correlation.factory import shipped

LABELS = ["service", "app", "app_kubernetes_io_name", "job", "namespace"]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(shipped().catalog, labels=LABELS, fuzzy_min_score=88.0)


@pytest.mark.parametrize(
    ("tenant", "labels", "expected"),
    [
        ("acme", {"service": "checkout"}, ("checkout", How.EXACT, "service")),
        ("acme", {"job": "node-exporter", "namespace": "checkout"}, ("checkout", How.EXACT, "namespace")),
        (
            "acme",
            {"job": "kube-state-metrics", "app_kubernetes_io_name": "cart"},
            ("cart", How.EXACT, "app_kubernetes_io_name"),
        ),
        ("acme", {"service": "storefront"}, ("web-shop", How.ALIAS, "service")),
        ("acme", {"service": "Payments_API"}, ("payments-api", How.EXACT, "service")),
        ("acme", {"service": "svc-payments"}, ("payments-api", How.ALIAS, "service")),
        ("acme", {"service": "payment-api"}, ("payments-api", How.FUZZY, "service")),
        ("acme", {"service": "svc-payments-api-v2"}, ("payments-api", How.FUZZY, "service")),
        ("acme", {"service": "shipping-api"}, None),
        ("acme", {"service": "payments-api-v2"}, ("payments-api", How.FUZZY, "service")),
        ("acme", {"service": "paymnt-api", "app": "checkout"}, ("checkout", How.EXACT, "app")),
        ("acme", {"service": "postgres"}, ("postgres-shared", How.ALIAS, "service")),
        ("acme", {"job": "kube-state-metrics"}, None),
        ("acme", {"service": "api"}, None),
        ("globex", {"service": "checkout"}, None),
        ("globex", {"app": "portal"}, ("patient-portal", How.ALIAS, "app")),
        ("unknown-tenant", {"service": "sso"}, ("sso", How.EXACT, "service")),
    ],
)
def test_match(matcher: Matcher, tenant: str, labels: dict[str, str], expected: tuple[str, How, str] | None) -> None:
    found = matcher.match(tenant, labels)
    if expected is None:
        assert found is None
        return
    assert found is not None
    assert (found.service, found.how, found.label) == expected
    if found.how is How.FUZZY:
        assert 88.0 <= found.score < 100.0
        assert f"fuzzy {found.score:.1f}" in found.describe()


def test_a_higher_threshold_refuses_the_same_guess() -> None:
    strict = Matcher(shipped().catalog, labels=LABELS, fuzzy_min_score=99.0)
    assert strict.match("acme", {"service": "payment-api"}) is None


@pytest.mark.parametrize(
    ("service", "hops", "near", "far"),
    [
        ("web-shop", 1, {"checkout", "catalog-api", "sso", "ingress-nginx", "k8s-prod-eu"}, {"payments-api"}),
        ("web-shop", 2, {"payments-api", "cart", "postgres-shared", "search"}, {"redis-acme", "kafka-shared"}),
        ("checkout", 2, {"web-shop", "payments-api", "kafka-shared"}, {"reporting", "appointments"}),
        ("cart", 2, {"web-shop", "redis-acme"}, {"catalog-api", "payments-api"}),
        ("payments-api", 0, set(), {"checkout", "postgres-shared"}),
    ],
)
def test_near_follows_call_paths_not_siblings(service: str, hops: int, near: set[str], far: set[str]) -> None:
    graph = Graph(shipped().catalog, max_hops=hops)
    found = graph.near("acme", service)
    assert near <= found
    assert not far & found


def test_hosting_connects_a_host_to_its_services_only() -> None:
    graph = Graph(shipped().catalog, max_hops=0)
    assert {"web-shop", "checkout", "patient-portal"} & graph.near("acme", "k8s-prod-eu") == {"web-shop", "checkout"}
    assert graph.near("acme", "checkout") == {"k8s-prod-eu"}
