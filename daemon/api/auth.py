"""Bearer tokens: stored as SHA-256, compared in constant time, each with a role and a tenant scope."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

from daemon.config.auth import AuthSettings, Role
from daemon.kernel.errors import Forbidden, Unauthenticated


class Permission(StrEnum):
    READ = "read"
    ACT = "act"
    APPROVE = "approve"
    ADMIN = "admin"
    INGEST = "ingest"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.COMMANDER: frozenset({Permission.READ, Permission.ACT}),
    Role.APPROVER: frozenset({Permission.READ, Permission.APPROVE}),
    Role.ADMIN: frozenset(Permission),
}

ALL_TENANTS = "*"


@dataclass(frozen=True)
class Principal:
    name: str
    permissions: frozenset[Permission]
    tenants: frozenset[str]
    bound_tenant: str | None = None

    def can_see(self, tenant: str) -> bool:
        return ALL_TENANTS in self.tenants or tenant in self.tenants

    def require(self, permission: Permission, tenant: str | None = None) -> None:
        if permission not in self.permissions:
            raise Forbidden(f"{self.name} lacks the {permission.value} permission")
        if tenant is not None and not self.can_see(tenant):
            raise Forbidden(f"{self.name} has no access to tenant {tenant!r}")

    def visible(self, tenant: str | None) -> list[str] | None:
        """Tenants a list query may return: None means all of them."""
        if tenant is not None:
            self.require(Permission.READ, tenant)
            return [tenant]
        return None if ALL_TENANTS in self.tenants else sorted(self.tenants)


ANONYMOUS = Principal("anonymous", frozenset(Permission), frozenset({ALL_TENANTS}))


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh token and the hash to put in settings."""
    token = "micd_" + secrets.token_urlsafe(32)
    return token, digest(token)


class Authenticator:
    def __init__(self, settings: AuthSettings) -> None:
        self.enabled = settings.enabled
        self._entries: list[tuple[bytes, Principal]] = []
        for w in settings.webhook_tokens:
            scope = frozenset({w.tenant}) if w.tenant else frozenset({ALL_TENANTS})
            self._entries.append(
                (bytes.fromhex(w.sha256), Principal(w.name, frozenset({Permission.INGEST}), scope, w.tenant))
            )
        for a in settings.api_tokens:
            self._entries.append(
                (bytes.fromhex(a.sha256), Principal(a.name, ROLE_PERMISSIONS[a.role], frozenset(a.tenants)))
            )

    def authenticate(self, authorization: str | None) -> Principal:
        if not self.enabled:
            return ANONYMOUS
        if not authorization:
            raise Unauthenticated("missing Authorization: Bearer token")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("Authorization must be 'Bearer <token>'")
        presented = hashlib.sha256(token.strip().encode()).digest()
        found: Principal | None = None
        for expected, principal in self._entries:
            # Compare against every entry so timing does not reveal which one matched.
            if hmac.compare_digest(presented, expected):
                found = principal
        if found is None:
            raise Unauthenticated("unknown token")
        return found
