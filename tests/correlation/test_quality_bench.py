"""The quality benchmark's own arithmetic, and that its storms carry the traps they promise."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bench.quality.__main__ import pairwise
from bench.quality.storm import generate

T = datetime(2026, 1, 1, tzinfo=UTC)


def ep(n: int) -> tuple[str, str, datetime]:
    return ("t", f"f{n}", T)


@pytest.mark.parametrize(
    ("truth", "predicted", "expected"),
    [
        ("aabb", "aabb", (1.0, 1.0)),
        ("aabb", "aaaa", (2 / 6, 1.0)),
        ("aabb", "abcd", (1.0, 0.0)),
        ("aaab", "aabb", (1 / 2, 1 / 3)),
    ],
)
def test_pairwise_precision_recall(truth: str, predicted: str, expected: tuple[float, float]) -> None:
    t = {ep(i): c for i, c in enumerate(truth)}
    p = {ep(i): c for i, c in enumerate(predicted)}
    found = pairwise(t, p)
    assert (found["precision"], found["recall"]) == pytest.approx(expected)


def test_storms_have_flapping_drift_noise_and_shared_platform() -> None:
    storm = generate(seed=3, hours=6)
    labels = [e.alert.labels for e in storm.events]
    assert any(k.startswith("long-") for k in storm.truth.values())
    assert any(tenant == "platform" for tenant, _, _ in storm.truth)
    assert any(v.startswith("svc-") or "_" in v for lab in labels for v in lab.values())
    assert any(lab.get("job") == "node-exporter" and "service" not in lab for lab in labels)
    episodes_per_fp: dict[str, int] = {}
    for _tenant, fp, _ in storm.truth:
        episodes_per_fp[fp] = episodes_per_fp.get(fp, 0) + 1
    assert max(episodes_per_fp.values()) >= 2
    assert storm.majors


def test_storms_have_failed_nodes_node_warnings_and_critical_noise() -> None:
    storm = generate(seed=3, hours=6)
    fired = {(e.alert.tenant, e.alert.fingerprint, e.alert.starts_at): e.alert.labels for e in storm.events}
    down = [k for k, lab in fired.items() if lab["alertname"] == "KubeNodeNotReady"]
    assert down
    for key in down:  # the failed node's own alert belongs to an incident with the pods on that node
        node = fired[key]["node"]
        mates = [k for k, t in storm.truth.items() if t == storm.truth[key] and k != key]
        assert mates
        assert any(fired[k].get("node") == node for k in mates)
    warnings = [lab for lab in fired.values() if lab["alertname"] == "NodeFilesystemAlmostFull"]
    assert warnings
    assert all("node" in lab for lab in warnings)
    noise = [fired[k] for k, t in storm.truth.items() if t.startswith("noise-")]
    assert {lab["severity"] for lab in noise} == {"warning", "critical"}
