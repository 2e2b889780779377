"""Services as the catalogue declares them, and the catalogue of every tenant plus the shared platform."""

from __future__ import annotations

from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field

PLATFORM = "platform"


class Service(BaseModel):
    """A service of one tenant, or of the shared platform that every tenant may call (the catalogue keys it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,79}$")
    aliases: list[str] = Field(default_factory=list)
    tier: int = Field(3, ge=1, le=4, description="business criticality, 1 = most critical")
    customer_facing: bool = False
    regulated: list[str] = Field(default_factory=list, description="regulatory scopes such as pci, hipaa, sox")
    owner: str = ""
    service_owner: str = ""
    depends_on: list[str] = Field(default_factory=list, description="services this one calls")
    runs_on: list[str] = Field(default_factory=list, description="hosts or clusters this one runs on")
    runbook: str = ""
    knowledge: list[str] = Field(default_factory=list)
    cmdb_ci: str | None = Field(None, description="ServiceNow configuration item (cmdb_ci), by name or sys_id")
    business_service: str | None = Field(
        None, description="ServiceNow business service (cmdb_ci_service) it belongs to, by name or sys_id"
    )


class Catalog(BaseModel):
    """Every tenant's services plus the platform's. A tenant sees its own services and the platform's."""

    model_config = ConfigDict(frozen=True)

    services: dict[tuple[str, str], Service] = Field(default_factory=dict, description="(tenant, name) -> service")

    def visible(self, tenant: str) -> list[Service]:
        """A tenant not in the catalogue still sees the platform's services."""
        return self._visible.get(tenant, self._visible[PLATFORM])

    def get(self, tenant: str, name: str) -> Service | None:
        """Resolve a name as `tenant` sees it: its own service first, then the platform's."""
        return self.services.get((tenant, name)) or self.services.get((PLATFORM, name))

    @property
    def tenants(self) -> list[str]:
        return sorted({t for t, _ in self.services if t != PLATFORM})

    @cached_property
    def _visible(self) -> dict[str, list[Service]]:
        shared = [s for (t, _), s in self.services.items() if t == PLATFORM]
        out: dict[str, list[Service]] = {PLATFORM: shared}
        for tenant in self.tenants:
            out[tenant] = [s for (t, _), s in self.services.items() if t == tenant] + shared
        return out
