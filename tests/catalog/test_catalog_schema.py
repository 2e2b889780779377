"""Rules files: the shipped ones load; every broken one names file, line and what is wrong."""

from __future__ import annotations

import pytest

from daemon.catalog.models import PLATFORM
from daemon.impact.ruleset import parse_ruleset
from daemon.kernel.errors import ConfigError
from tests.correlation.factory import shipped

CATALOG = """kind: catalog
tenant: acme
services:
  - name: shop
    tier: 1
    depends_on: [db]
  - name: db
    tier: 2
"""

IMPACT = """kind: impact
rules:
  - name: big
    when:
      min_services: 2
    impact: 1
    urgency: 1
    business_impact: "{{ services | join(', ') }} down"
"""


def test_shipped_rules_load_two_tenants_and_a_shared_platform() -> None:
    rules = shipped()
    assert rules.catalog.tenants == ["acme", "globex"]
    assert len(rules.catalog.services) >= 15
    assert any(t == PLATFORM for t, _ in rules.catalog.services)
    assert all(r.mode == "live" for r in rules.book.rules)


@pytest.mark.parametrize(
    ("catalog", "impact", "where", "says"),
    [
        (CATALOG.replace("tier: 1", "tier: 7"), IMPACT, "catalog.yaml:5", "less than or equal to 4"),
        (CATALOG.replace("    tier: 2", "    tire: 2"), IMPACT, "catalog.yaml:8", "unknown field"),
        (CATALOG.replace("[db]", "[dbx]"), IMPACT, "catalog.yaml:6", "no service named 'dbx'"),
        (CATALOG.replace("name: db", "name: shop"), IMPACT, "catalog.yaml:7", "duplicate service"),
        (CATALOG.replace("services:", "services: [oops"), IMPACT, "catalog.yaml:", "not valid YAML"),
        (CATALOG.replace("kind: catalog", "kind: catalogue"), IMPACT, "catalog.yaml:1", "must be one of"),
        (CATALOG, IMPACT.replace("impact: 1", "impact: 4"), "impact.yaml:6", "less than or equal to 3"),
        (CATALOG, IMPACT.replace("min_services", "min_service"), "impact.yaml:5", "unknown field"),
        (CATALOG, IMPACT.replace("join(', ') }}", "join(', ') }"), "impact.yaml:8", "template line 1"),
        (CATALOG, IMPACT.replace("services |", "servces |"), "impact.yaml:8", "'servces' is undefined"),
        (CATALOG, IMPACT.replace("    impact: 1\n", ""), "impact.yaml:3", "required field is missing"),
        (
            CATALOG.replace("tier: 2\n", "tier: 2\n    tier: 3\n"),
            IMPACT,
            "catalog.yaml:9",
            "given twice (first on line 8)",
        ),
        (
            CATALOG,
            IMPACT.replace("min_services: 2", "min_services: 2\n      tenants: [acmee]"),
            "impact.yaml:6",
            "no catalog file for tenant 'acmee' (known: acme, default)",
        ),
        (
            CATALOG,
            IMPACT.replace("min_services: 2", "min_services: 2\n      regulated: [hipa]"),
            "impact.yaml:6",
            "no catalogued service carries regulated tag 'hipa' (tags in use: none)",
        ),
    ],
)
def test_errors_name_file_line_and_reason(catalog: str, impact: str, where: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_ruleset({"catalog.yaml": catalog, "impact.yaml": impact})
    text = "\n".join(f"{p.field}: {p.reason}" for p in caught.value.problems)
    assert where in text, text
    assert says in text, text


def test_every_problem_is_reported_at_once() -> None:
    broken = CATALOG.replace("tier: 2", "tier: 0").replace("[db]", "[nope]")
    with pytest.raises(ConfigError) as caught:
        parse_ruleset({"catalog.yaml": broken, "impact.yaml": IMPACT.replace("urgency: 1", "urgency: 9")})
    assert len(caught.value.problems) == 3


def test_a_tenant_service_may_not_shadow_a_platform_one() -> None:
    platform = "kind: catalog\ntenant: platform\nservices:\n  - name: db\n"
    with pytest.raises(ConfigError, match=r"catalog.yaml:7.*shadows the platform service db"):
        parse_ruleset({"catalog.yaml": CATALOG, "platform.yaml": platform, "impact.yaml": IMPACT})


def test_an_empty_directory_is_an_error() -> None:
    with pytest.raises(ConfigError, match="no file with kind: catalog"):
        parse_ruleset({})


def test_rules_may_name_the_default_tenant_and_tags_services_carry() -> None:
    tagged = CATALOG.replace("    tier: 2\n", "    tier: 2\n    regulated: [pci]\n")
    scoped = IMPACT.replace(
        "min_services: 2", "min_services: 2\n      tenants: [acme, default]\n      regulated: [pci]"
    )
    rules = parse_ruleset({"catalog.yaml": tagged, "impact.yaml": scoped})
    assert rules.book.rules[0].rule.when.regulated == ["pci"]
