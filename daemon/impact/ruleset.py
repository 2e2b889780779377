"""The rules in force: catalogue plus impact rules, parsed from the files of a rules directory.

Pure: the shell reads the files and hands over their text. Every problem in every file is collected,
named by file, line and field, so one `micd rules check` run shows them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from jinja2 import TemplateError, TemplateSyntaxError

from daemon.alerts.models import DEFAULT_TENANT
from daemon.catalog.documents import Document, fail, parse, validate
from daemon.catalog.models import Catalog
from daemon.catalog.schema import build_catalog
from daemon.impact.evaluate import RuleBook, build, compile_template
from daemon.impact.models import Facts, ImpactFile
from daemon.kernel.errors import ConfigError, FieldProblem

KINDS = ("catalog", "impact")

_SAMPLE = Facts(
    tenant="sample",
    services=["checkout", "payments"],
    service_count=2,
    highest_tier=1,
    customer_facing=True,
    customer_facing_services=["checkout"],
    regulated=["pci"],
    severities=["critical"],
    alert_count=3,
    firing_count=3,
    started_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
    duration_minutes=5.0,
    business_hours=True,
    probable_cause="payments",
    probable_cause_reasoning="sample",
).model_dump(mode="json")


@dataclass(frozen=True)
class Ruleset:
    catalog: Catalog
    book: RuleBook
    sources: tuple[str, ...]


def parse_ruleset(files: Mapping[str, str]) -> Ruleset:
    """`files` maps a display path to its YAML text. Raises ConfigError listing every problem found."""
    problems: list[FieldProblem] = []
    catalogs: list[Document] = []
    impacts: list[tuple[Document, ImpactFile]] = []
    for source in sorted(files):
        try:
            doc = parse(source, files[source])
        except ConfigError as exc:
            problems += exc.problems
            continue
        kind = doc.data.get("kind") if isinstance(doc.data, dict) else None
        if kind == "catalog":
            catalogs.append(doc)
        elif kind == "impact":
            parsed, found = validate(doc, ImpactFile, doc.data)
            problems += found + (_templates(doc, parsed) if parsed else [])
            if parsed is not None:
                impacts.append((doc, parsed))
        else:
            problems.append(doc.problem(("kind",), f"must be one of {', '.join(KINDS)}, not {kind!r}"))
    catalog, found = build_catalog(catalogs)
    problems += found
    if not found:
        problems += [p for doc, file in impacts for p in _references(doc, file, catalog)]
    names: dict[str, int] = {}
    for _, file in impacts:
        for rule in file.rules:
            names[rule.name] = names.get(rule.name, 0) + 1
    problems += [FieldProblem(f"rules.{n}", "rule name used more than once") for n, c in names.items() if c > 1]
    if not catalogs and not problems:
        problems.append(FieldProblem("(rules directory)", "no file with kind: catalog"))
    if problems:
        raise fail(problems)
    return Ruleset(catalog=catalog, book=build([file for _, file in impacts]), sources=tuple(sorted(files)))


def _references(doc: Document, file: ImpactFile, catalog: Catalog) -> list[FieldProblem]:
    """Tenants and regulated tags a rule names must exist in the catalogue: a typo would never match."""
    tenants = {*catalog.tenants, DEFAULT_TENANT}
    tags = {tag for service in catalog.services.values() for tag in service.regulated}
    problems: list[FieldProblem] = []
    for index, rule in enumerate(file.rules):
        for i, tenant in enumerate(rule.when.tenants or ()):
            if tenant not in tenants:
                known = ", ".join(sorted(tenants))
                reason = f"no catalog file for tenant {tenant!r} (known: {known}); add one or fix the name"
                problems.append(doc.problem(("rules", index, "when", "tenants", i), reason))
        for i, tag in enumerate(rule.when.regulated or ()):
            if tag not in tags:
                known = ", ".join(sorted(tags)) or "none"
                reason = f"no catalogued service carries regulated tag {tag!r} (tags in use: {known})"
                problems.append(doc.problem(("rules", index, "when", "regulated", i), reason))
    return problems


def _templates(doc: Document, file: ImpactFile) -> list[FieldProblem]:
    """Compile and trial-render each template, so a typo in a fact name fails the check, not a proposal."""
    problems: list[FieldProblem] = []
    for index, rule in enumerate(file.rules):
        for field in ("title", "business_impact"):
            path = ("rules", index, field)
            try:
                compile_template(getattr(rule, field)).render(_SAMPLE)
            except TemplateSyntaxError as exc:
                problems.append(doc.problem(path, f"template line {exc.lineno}: {exc.message}"))
            except TemplateError as exc:
                problems.append(doc.problem(path, f"template does not render: {exc}"))
    return problems
