"""Alert starts per (bucket, outage), sorted, so "which outages have an alert starting near t here?" is a
bisect per outage in the bucket rather than a scan of every alert: a storm of thousands of alerts on one
service costs each new alert O(outages in the bucket x log alerts)."""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from collections.abc import Hashable
from datetime import datetime
from typing import Generic, TypeVar

B = TypeVar("B", bound=Hashable)
Key = tuple[str, str, datetime]  # tenant, fingerprint, starts_at


class TimeIndex(Generic[B]):
    def __init__(self) -> None:
        self._lists: dict[B, dict[str, list[tuple[datetime, Key]]]] = {}
        self._where: dict[str, set[B]] = {}

    def add(self, bucket: B, outage: str, key: Key) -> None:
        insort(self._lists.setdefault(bucket, {}).setdefault(outage, []), (key[2], key))
        self._where.setdefault(outage, set()).add(bucket)

    def near(self, bucket: B, earliest: datetime, latest: datetime) -> set[str]:
        """Outages with an alert in `bucket` whose start lies between `earliest` and `latest`."""
        found: set[str] = set()
        for outage, items in self._lists.get(bucket, {}).items():
            i = bisect_left(items, (earliest,))
            if i < len(items) and items[i][0] <= latest:
                found.add(outage)
        return found

    def drop(self, outage: str) -> None:
        for bucket in self._where.pop(outage, set()):
            lists = self._lists[bucket]
            lists.pop(outage, None)
            if not lists:
                del self._lists[bucket]

    def merge(self, source: str, target: str) -> None:
        for bucket in self._where.pop(source, set()):
            lists = self._lists[bucket]
            moved = lists.pop(source)
            lists[target] = list(heapq.merge(lists.get(target, []), moved))
            self._where.setdefault(target, set()).add(bucket)
