"""Probable cause: the most upstream alerting service of an outage, given as a hint with its reasoning."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from daemon.catalog.graph import Graph


def probable_cause(graph: Graph, tenant: str, starts: Mapping[str, datetime]) -> tuple[str | None, str]:
    """Among alerting services, those that depend on no other alerting one; the one most others depend on wins.

    Ties go to the more critical tier, then the earlier start: failures usually show first where they begin.
    """
    if not starts:
        return None, "no alert names a catalogued service"
    alerting = set(starts)
    upstream = {s: graph.upstream(tenant, s) & alerting for s in alerting}
    roots = [s for s in alerting if not upstream[s]] or list(alerting)
    dependents = {r: sorted(s for s in alerting if r in upstream[s]) for r in roots}

    def tier(name: str) -> int:
        entry = graph.catalog.get(tenant, name)
        return entry.tier if entry else 5

    best = min(roots, key=lambda r: (-len(dependents[r]), tier(r), starts[r], r))
    if len(alerting) == 1:
        return best, f"{best} is the only alerting service"
    below = dependents[best]
    if below:
        reason = (
            f"{best} depends on no other alerting service, and {len(below)} alerting service(s) depend on it: "
            + ", ".join(below)
        )
    else:
        reason = f"no dependency links the alerting services; {best} started first among the most critical"
    if len(roots) > 1:
        others = ", ".join(sorted(r for r in roots if r != best))
        reason += f" (other independent alerting services: {others})"
    return best, reason
