"""Which alert episodes may link, and how far apart their starts may be: the rules, apart from the indexes.

Every rule is a symmetric test on a pair of episodes, so the outages (the connected sets of linked episodes)
do not depend on the order alerts arrive in. Real outages start where they are caused and spread to what
depends on the cause: a caller alerts during or after its callee, while a callee (the probable cause) may
alert a little later than its callers (a slower signal, a longer `for:`) but not a whole window later.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import timedelta

from daemon.catalog.graph import Graph

Span = tuple[timedelta, timedelta]  # how long before, and how long after, an episode's start a neighbour may start
Place = tuple[str, str]  # topology label, value


class Reach:
    """The services an alert on a service may link to, each with its span; memoised per (tenant, service)."""

    def __init__(self, graph: Graph, *, window: timedelta, cause_lag: timedelta) -> None:
        self.graph = graph
        self.window = window
        self.cause_lag = cause_lag
        self._memo: dict[tuple[str, str], tuple[tuple[str, Span], ...]] = {}

    def of(self, tenant: str, service: str) -> tuple[tuple[str, Span], ...]:
        found = self._memo.get((tenant, service))
        if found is None:
            spans = [(service, (self.window, self.window))]
            causes = self.graph.upstream(tenant, service)
            for other in sorted(self.graph.near(tenant, service)):
                spans.append(
                    (other, self.span(cause=other in causes, effect=service in self.graph.upstream(tenant, other)))
                )
            found = self._memo[(tenant, service)] = tuple(spans)
        return found

    def span(self, *, cause: bool, effect: bool) -> Span:
        """A neighbour that is a cause (callee or host) may start up to the window before, but only
        `cause_lag` after; an effect (caller, hosted service) the reverse. Both or neither: the window."""
        if cause and not effect:
            return self.window, self.cause_lag
        if effect and not cause:
            return self.cause_lag, self.window
        return self.window, self.window


def place(topology: Mapping[str, str], labels: Sequence[str]) -> Place | None:
    """The most specific topology value an alert carries (`labels` list the most specific first).

    An alert naming no service links only through it: a disk warning on node n7 says nothing about an
    outage elsewhere in its cluster, however busy the cluster is.
    """
    for label in labels:
        value = topology.get(label)
        if value:
            return label, value
    return None


def host_down(spot: Place | None, severity: str, host_labels: Sequence[str], failures: Collection[str]) -> bool:
    """Placed on one machine (not a shared cluster) at a failure severity: the machine itself is down."""
    return spot is not None and spot[0] in host_labels and severity in failures
