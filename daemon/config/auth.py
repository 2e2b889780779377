"""Who may call micd: webhook tokens for senders, API tokens with a role and a tenant scope."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Role(StrEnum):
    VIEWER = "viewer"
    COMMANDER = "commander"
    APPROVER = "approver"
    ADMIN = "admin"


SHA256_HEX = r"^[0-9a-f]{64}$"


class WebhookToken(BaseModel):
    """A sender's token. With `tenant` set, every alert it posts belongs to that tenant."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    sha256: str = Field(pattern=SHA256_HEX, description="hex SHA-256 of the token; `micd token new` makes both")
    tenant: str | None = None


class ApiToken(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    sha256: str = Field(pattern=SHA256_HEX)
    role: Role
    tenants: list[str] = Field(default_factory=lambda: ["*"], description="tenant scope; '*' is every tenant")


class AuthSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    insecure: bool = Field(False, description="serve without tokens on a non-loopback address")
    webhook_tokens: list[WebhookToken] = Field(default_factory=list)
    api_tokens: list[ApiToken] = Field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return bool(self.webhook_tokens or self.api_tokens)
