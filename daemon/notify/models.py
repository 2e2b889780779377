"""The notifier interface: one message, one channel of the message's own tenant."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from daemon.config.tenants import Channel, TenantSettings
from daemon.kernel.errors import MicdError


class Message(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant: str
    incident_id: str
    audience: str
    subject: str
    text: str


class NotifyError(MicdError):
    """A delivery failed; `retryable` says whether the outbox should try again."""

    code = "notify_failed"

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Notifier(Protocol):
    async def send(self, channel: Channel, message: Message) -> None:
        """Deliver or raise NotifyError. Never log channel.url: it is a secret."""
        ...


def channels_for(tenant: TenantSettings | None, audience: str) -> list[Channel]:
    """The tenant's channels that take this audience. Only ever the incident's own tenant's settings."""
    return [] if tenant is None else [c for c in tenant.channels if audience in c.audiences]
