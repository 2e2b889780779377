"""Pure bookkeeping for the consumer: which offsets may be committed, and when to pause fetching.

Records are processed in fetch order, one batch at a time, so "done up to offset N" per partition is enough:
committing N + 1 never skips a record that has not been stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


class Partition(NamedTuple):
    topic: str
    partition: int


def names(tps: set[Partition]) -> str:
    """'alerts/0,alerts/1' for logs."""
    return ",".join(sorted(f"{topic}/{partition}" for topic, partition in tps))


@dataclass
class Offsets:
    """Per partition: the next offset the pipeline will store (`position`) and what is stored but not committed."""

    position: dict[Partition, int] = field(default_factory=dict)
    uncommitted: dict[Partition, int] = field(default_factory=dict)

    def stored(self, tp: Partition, offset: int) -> None:
        """Every record of `tp` up to and including `offset` is durable."""
        if offset + 1 > self.position.get(tp, -1):
            self.position[tp] = offset + 1
            self.uncommitted[tp] = offset + 1

    def known(self, tp: Partition, position: int) -> None:
        """A position learnt from the broker (the committed offset at assignment); never moves backwards."""
        if position > self.position.get(tp, -1):
            self.position[tp] = position

    def to_commit(self, tps: set[Partition] | None = None) -> dict[Partition, int]:
        return {tp: o for tp, o in self.uncommitted.items() if tps is None or tp in tps}

    def committed(self, offsets: dict[Partition, int]) -> None:
        for tp, offset in offsets.items():
            if self.uncommitted.get(tp) == offset:
                del self.uncommitted[tp]

    def forget(self, tps: set[Partition]) -> None:
        """After a revoke: another member owns these now and will start from what was committed."""
        for tp in tps:
            self.position.pop(tp, None)
            self.uncommitted.pop(tp, None)

    def lag(self, tp: Partition, highwater: int | None) -> int | None:
        position = self.position.get(tp)
        if highwater is None or position is None:
            return None
        return max(highwater - position, 0)


@dataclass
class Flow:
    """Back-pressure with hysteresis: pause at `limit` records in flight, resume once half of them are done."""

    limit: int
    in_flight: int = 0
    paused: bool = False

    def room(self) -> int:
        return max(self.limit - self.in_flight, 0)

    def taken(self, count: int) -> None:
        self.in_flight += count

    def done(self, count: int) -> None:
        self.in_flight = max(self.in_flight - count, 0)

    @property
    def may_resume(self) -> bool:
        return self.paused and self.in_flight <= self.limit // 2

    def decide(self) -> bool | None:
        """True: pause now; False: resume now; None: keep as is."""
        if not self.paused and self.in_flight >= self.limit:
            self.paused = True
            return True
        if self.may_resume:
            self.paused = False
            return False
        return None
