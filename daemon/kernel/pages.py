"""Keyset pagination shared by every list endpoint: {"items", "total", "next"}."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Generic, TypeVar

from pydantic import BaseModel

from daemon.kernel.errors import InvalidInput

T = TypeVar("T")

MAX_LIMIT = 1000


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    next: str | None = None


def encode_cursor(key: list[str | int | float | None]) -> str:
    raw = json.dumps(key, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[str | int | float | None]:
    """Decode a cursor made by encode_cursor; anything else is the caller's error."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput.field("cursor", "not a cursor this API issued") from exc
    if not isinstance(value, list):
        raise InvalidInput.field("cursor", "not a cursor this API issued")
    return value
