"""Which catalogued service an alert is about, and how sure we are: the answer becomes evidence.

Two passes over the configured labels, in precedence order: first exact names and aliases, then fuzzy
matches. A label whose value names no known service falls through to the next (`job="node-exporter"`
names an exporter, not a service), and an exact alias on a later label beats a fuzzy guess on an earlier one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz import fuzz, process

from daemon.catalog.models import Catalog


class How(StrEnum):
    EXACT = "exact"
    ALIAS = "alias"
    FUZZY = "fuzzy"


@dataclass(frozen=True)
class Match:
    service: str
    label: str
    value: str
    how: How
    score: float = 100.0

    def describe(self) -> str:
        """For evidence: `service="payment-api" -> payments-api (fuzzy 95.7)`."""
        detail = f"{self.how.value} {self.score:.1f}" if self.how is How.FUZZY else self.how.value
        return f'{self.label}="{self.value}" -> {self.service} ({detail})'


def _score(query: str, choice: str, **_: object) -> float:
    """Edit-distance ratio, or a slightly discounted substring match when lengths are close.

    WRatio's substring credit would match `api` to `payments-api`; requiring comparable lengths keeps the
    credit for decorations such as `svc-payments-api` or `payments-api-v2`.
    """
    plain = float(fuzz.ratio(query, choice))
    shorter, longer = sorted((len(query), len(choice)))
    if longer and shorter / longer >= 0.6:
        return max(plain, 0.95 * float(fuzz.partial_ratio(query, choice)))
    return plain


def _norm(value: str) -> str:
    return value.strip().lower().replace("_", "-")


class Matcher:
    """Name lookups per tenant, built once per catalogue; fuzzy answers are memoised (values repeat a lot)."""

    def __init__(self, catalog: Catalog, *, labels: Sequence[str], fuzzy_min_score: float) -> None:
        self.labels = tuple(labels)
        self.fuzzy_min_score = fuzzy_min_score
        self._catalog = catalog
        self._names: dict[str, dict[str, tuple[str, How]]] = {}
        self._fuzzy: dict[tuple[str, str], tuple[str, float] | None] = {}

    def _lookup(self, tenant: str) -> dict[str, tuple[str, How]]:
        found = self._names.get(tenant)
        if found is None:
            found = {}
            for service in self._catalog.visible(tenant):
                for alias in service.aliases:
                    found.setdefault(_norm(alias), (service.name, How.ALIAS))
            for service in self._catalog.visible(tenant):
                found[_norm(service.name)] = (service.name, How.EXACT)
            self._names[tenant] = found
        return found

    def match(self, tenant: str, labels: Mapping[str, str]) -> Match | None:
        names = self._lookup(tenant)
        present = [(label, labels[label]) for label in self.labels if labels.get(label)]
        for label, value in present:
            hit = names.get(_norm(value))
            if hit is not None:
                return Match(service=hit[0], label=label, value=value, how=hit[1])
        for label, value in present:
            fuzzy = self._fuzzy_one(tenant, value, names)
            if fuzzy is not None:
                return Match(service=fuzzy[0], label=label, value=value, how=How.FUZZY, score=fuzzy[1])
        return None

    def _fuzzy_one(self, tenant: str, value: str, names: Mapping[str, tuple[str, How]]) -> tuple[str, float] | None:
        key = (tenant, _norm(value))
        if key not in self._fuzzy:
            best = process.extractOne(key[1], list(names), scorer=_score, score_cutoff=self.fuzzy_min_score)
            self._fuzzy[key] = None if best is None else (names[best[0]][0], round(float(best[1]), 1))
        return self._fuzzy[key]
