"""What the benchmark reads from the outside: /proc for memory and CPU, /metrics for server-side histograms."""

from __future__ import annotations

import math
import os
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (peak resident) of a process, in KiB."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of a process and all its threads so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    # After the command name: state is fields[0], utime and stime are stat fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class Histogram:
    """Cumulative bucket counts of one Prometheus histogram, by upper bound."""

    buckets: tuple[tuple[float, float], ...]

    @property
    def count(self) -> float:
        return self.buckets[-1][1] if self.buckets else 0.0

    def minus(self, earlier: Histogram) -> Histogram:
        before = dict(earlier.buckets)
        return Histogram(tuple((le, n - before.get(le, 0.0)) for le, n in self.buckets))

    def quantile(self, q: float) -> float | None:
        """The upper bound of the bucket holding the q-quantile: an upper estimate, never an interpolation
        that pretends to a precision the buckets do not have."""
        if self.count <= 0:
            return None
        wanted = q * self.count
        for le, n in self.buckets:
            if n >= wanted:
                return le
        return math.inf


def scrape(url: str) -> str:
    with urllib.request.urlopen(url + "/metrics", timeout=30) as resp:  # noqa: S310 - loopback
        return str(resp.read().decode())


def histogram(text: str, name: str) -> Histogram:
    for family in text_string_to_metric_families(text):
        if family.name == name and family.type == "histogram":
            rows = [(float(s.labels["le"]), s.value) for s in family.samples if s.name == name + "_bucket"]
            return Histogram(tuple(sorted(rows)))
    return Histogram(())
