"""Traversals of the catalogue: which services are close enough to share an outage, and which is upstream.

Call edges (depends_on) connect along directed paths only: two callers of a silent database are not
connected by it. Hosting edges (runs_on) connect a service to its host and nothing further, so a cluster
joins an outage only when the cluster itself alerts.
"""

from __future__ import annotations

from collections import deque

from daemon.catalog.models import Catalog


class Graph:
    """Memoised per (tenant, service); the catalogue is immutable, so the cache never goes stale."""

    def __init__(self, catalog: Catalog, *, max_hops: int) -> None:
        self.catalog = catalog
        self.max_hops = max_hops
        self._calls: dict[str, dict[str, tuple[str, ...]]] = {}
        self._callers: dict[str, dict[str, tuple[str, ...]]] = {}
        self._hosted: dict[str, dict[str, tuple[str, ...]]] = {}
        self._near: dict[tuple[str, str], frozenset[str]] = {}
        self._upstream: dict[tuple[str, str], frozenset[str]] = {}
        for tenant in {*catalog.tenants, "platform"}:
            calls: dict[str, tuple[str, ...]] = {}
            callers: dict[str, list[str]] = {}
            hosted: dict[str, list[str]] = {}
            for service in catalog.visible(tenant):
                calls[service.name] = tuple(service.depends_on)
                for dep in service.depends_on:
                    callers.setdefault(dep, []).append(service.name)
                for host in service.runs_on:
                    hosted.setdefault(host, []).append(service.name)
            self._calls[tenant] = calls
            self._callers[tenant] = {k: tuple(v) for k, v in callers.items()}
            self._hosted[tenant] = {k: tuple(v) for k, v in hosted.items()}

    def _tenant(self, tenant: str) -> str:
        return tenant if tenant in self._calls else "platform"

    def near(self, tenant: str, service: str) -> frozenset[str]:
        """Services an alert on `service` may join: within max_hops along calls either way, plus hosting."""
        key = (self._tenant(tenant), service)
        found = self._near.get(key)
        if found is None:
            t = key[0]
            reach = (
                _reach(self._calls[t], service, self.max_hops)
                | _reach(self._callers[t], service, self.max_hops)
                | set(self.hosts(tenant, service))
                | set(self._hosted[t].get(service, ()))
            )
            found = self._near[key] = frozenset(reach - {service})
        return found

    def hosts(self, tenant: str, service: str) -> tuple[str, ...]:
        entry = self.catalog.get(tenant, service)
        return tuple(entry.runs_on) if entry else ()

    def upstream(self, tenant: str, service: str) -> frozenset[str]:
        """Everything `service` calls or runs on, at any depth: where its failure may come from."""
        key = (self._tenant(tenant), service)
        found = self._upstream.get(key)
        if found is None:
            t = key[0]
            edges = {name: (*calls, *self.hosts(tenant, name)) for name, calls in self._calls[t].items()}
            found = frozenset(_reach(edges, service, len(edges)) - {service})
            self._upstream[key] = found
        return found


def _reach(edges: dict[str, tuple[str, ...]], start: str, hops: int) -> set[str]:
    seen = {start}
    queue = deque([(start, 0)])
    while queue:
        node, depth = queue.popleft()
        if depth == hops:
            continue
        for nxt in edges.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append((nxt, depth + 1))
    return seen
