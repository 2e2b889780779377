"""Alertmanager-compatible label fingerprints, for alerts that arrive without one (Kafka API v2 form)."""

from __future__ import annotations

from collections.abc import Mapping

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK = (1 << 64) - 1
_SEPARATOR = 0xFF


def fingerprint(labels: Mapping[str, str]) -> str:
    """FNV-1a 64 over sorted names and values, as prometheus/common model.LabelSet.Fingerprint."""
    digest = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name.encode(), labels[name].encode()):
            for byte in part:
                digest = ((digest ^ byte) * _FNV_PRIME) & _MASK
            digest = ((digest ^ _SEPARATOR) * _FNV_PRIME) & _MASK
    return f"{digest:016x}"
