"""Runbook and knowledge links for mitigation actions: the command phase's port and its catalogue adapter.

The port is the command phase's own (it asks only for what it attaches), so the service does not depend on
how rules are loaded; `CatalogLinks` answers from the catalogue in force, so a rules reload applies to the
next action queued.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from daemon.command.mitigation import ServiceLink
from daemon.runtime.rules import RulesHolder


class ServiceLinks(Protocol):
    """Links of a tenant's services by name; a name the catalogue does not know is left out of the answer."""

    def links(self, *, tenant: str, services: Sequence[str]) -> Mapping[str, list[ServiceLink]]: ...


class CatalogLinks:
    def __init__(self, rules: RulesHolder) -> None:
        self._rules = rules

    def links(self, *, tenant: str, services: Sequence[str]) -> Mapping[str, list[ServiceLink]]:
        """A tenant sees its own services and the platform's, as everywhere else in micd."""
        catalog = self._rules.current.catalog
        found: dict[str, list[ServiceLink]] = {}
        for name in services:
            service = catalog.get(tenant, name)
            if service is None:
                continue
            runbook = [ServiceLink(service=name, kind="runbook", ref=service.runbook)] if service.runbook else []
            found[name] = runbook + [ServiceLink(service=name, kind="knowledge", ref=k) for k in service.knowledge]
        return found
