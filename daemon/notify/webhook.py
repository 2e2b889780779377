"""Incoming-webhook delivery over aiohttp: one poster, three payload shapes (generic, Slack, Teams)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp

from daemon.config.tenants import Channel
from daemon.notify.models import Message, NotifyError

Payload = Callable[[Message], dict[str, Any]]

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def generic_payload(message: Message) -> dict[str, Any]:
    return message.model_dump()


class WebhookNotifier:
    """Posts JSON to the channel's URL. Errors name the channel, never the URL (it carries the key)."""

    def __init__(self, session: aiohttp.ClientSession, payload: Payload = generic_payload) -> None:
        self._session = session
        self._payload = payload

    async def send(self, channel: Channel, message: Message) -> None:
        if channel.url is None:
            raise NotifyError(f"channel {channel.name!r} has no url", retryable=False)
        try:
            async with self._session.post(
                channel.url.get_secret_value(),
                json=self._payload(message),
                timeout=aiohttp.ClientTimeout(total=10),
            ) as response:
                if response.status >= 300:
                    raise NotifyError(
                        f"channel {channel.name!r} answered HTTP {response.status}",
                        retryable=response.status in RETRYABLE_STATUS,
                    )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise NotifyError(f"channel {channel.name!r} unreachable: {type(exc).__name__}", retryable=True) from exc
