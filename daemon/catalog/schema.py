"""Catalogue files (`kind: catalog`) into a Catalog, with every problem named by file and line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from daemon.catalog.documents import Document, validate
from daemon.catalog.models import PLATFORM, Catalog, Service
from daemon.kernel.errors import FieldProblem


class CatalogFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = Field(pattern="^catalog$")
    tenant: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description=f"a tenant id, or {PLATFORM}")
    services: list[dict[str, Any]] = Field(description="each validated on its own, so one bad entry hides no other")


def build_catalog(docs: Sequence[Document]) -> tuple[Catalog, list[FieldProblem]]:
    """Validate each file, then the references between them (depends_on, runs_on, names, aliases)."""
    problems: list[FieldProblem] = []
    located: dict[tuple[str, str], tuple[Service, Document, int]] = {}
    broken: set[tuple[str, str]] = set()  # invalid entries: reported already, not again as missing references
    for doc in docs:
        parsed, found = validate(doc, CatalogFile, doc.data)
        problems += found
        if parsed is None:
            continue
        for index, raw in enumerate(parsed.services):
            service, found = validate(doc, Service, raw, at=("services", index))
            problems += found
            if service is None:
                if isinstance(raw.get("name"), str):
                    broken.add((parsed.tenant, raw["name"]))
                continue
            key = (parsed.tenant, service.name)
            if key in located:
                _, other, _ = located[key]
                problems.append(doc.problem(("services", index, "name"), f"duplicate service (see {other.source})"))
                continue
            located[key] = (service, doc, index)
    problems += _references(located, broken)
    return Catalog(services={key: found[0] for key, found in located.items()}), problems


def _references(
    located: dict[tuple[str, str], tuple[Service, Document, int]], broken: set[tuple[str, str]]
) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    names_by_tenant: dict[str, set[str]] = {}
    for tenant, name in [*located, *broken]:
        names_by_tenant.setdefault(tenant, set()).add(name)
    shared = names_by_tenant.get(PLATFORM, set())
    claimed: dict[tuple[str, str], str] = {}
    for (tenant, name), (service, doc, index) in located.items():
        at = ("services", index)
        if tenant != PLATFORM and name in shared:
            problems.append(doc.problem((*at, "name"), f"shadows the platform service {name}; rename one"))
        visible = names_by_tenant.get(tenant, set()) | shared
        for field in ("depends_on", "runs_on"):
            for i, ref in enumerate(getattr(service, field)):
                if ref == name:
                    problems.append(doc.problem((*at, field, i), "a service cannot refer to itself"))
                elif ref not in visible:
                    scope = "the platform" if tenant == PLATFORM else f"tenant {tenant} or the platform"
                    problems.append(doc.problem((*at, field, i), f"no service named {ref!r} in {scope}"))
        for i, alias in enumerate(service.aliases):
            scope = PLATFORM if tenant == PLATFORM else tenant
            key = (scope, alias.lower())
            if alias.lower() in visible and alias.lower() != name:
                problems.append(doc.problem((*at, "aliases", i), f"{alias!r} is already a service name"))
            elif key in claimed and claimed[key] != name:
                problems.append(doc.problem((*at, "aliases", i), f"{alias!r} is already an alias of {claimed[key]}"))
            claimed[key] = name
    return problems
