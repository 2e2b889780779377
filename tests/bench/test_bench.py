"""The benchmark machinery on a tiny stream: real micd, real Alertmanager, real broker, no timing asserted."""

from __future__ import annotations

import math
from pathlib import Path

import orjson
import pytest

from bench.drive import WARMUP_ALERTS, Plan
from bench.loadgen import AM_V2, WEBHOOK, group_bodies
from bench.measure import Histogram, percentile
from bench.run import run_bench
from daemon.ingest.alertmanager import parse_webhook

TINY = Plan("tiny", fill=(1_500,), sweep=((1, 40), (10, 200), (100, 300)), paced=((1, 20.0, 1.0),), max_seconds=120.0)


def test_generated_webhook_bodies_are_payloads_micd_accepts() -> None:
    bodies = list(group_bodies(first=7, count=250, batch=100, fmt=WEBHOOK, starts_at="2026-12-03T10:00:00Z"))
    alerts = [a for body in bodies for a in parse_webhook(body, tenant_label="tenant")]
    assert [len(orjson.loads(b)["alerts"]) for b in bodies] == [100, 100, 50]
    assert len({(a.tenant, a.fingerprint) for a in alerts}) == 250
    assert {a.tenant for a in alerts} <= {"t0", "t1", "t2", "t3"}
    api = list(group_bodies(first=0, count=3, batch=1, fmt=AM_V2, starts_at="2026-12-03T10:00:00Z"))
    assert all(isinstance(orjson.loads(b), list) and "status" not in orjson.loads(b)[0] for b in api)


def test_histogram_quantiles_are_bucket_bounds_of_the_difference() -> None:
    before = Histogram(((0.001, 1.0), (0.01, 1.0), (0.1, 1.0), (math.inf, 1.0)))
    after = Histogram(((0.001, 51.0), (0.01, 99.0), (0.1, 101.0), (math.inf, 101.0)))
    delta = after.minus(before)
    assert delta.count == 100
    assert delta.quantile(0.5) == 0.001
    assert delta.quantile(0.99) == 0.1
    assert Histogram(()).quantile(0.5) is None
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.99) == 4.0


@pytest.mark.integration
def test_tiny_benchmark_writes_results_and_every_ack_is_durable(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    work = tmp_path / "work"
    work.mkdir()
    run_bench(TINY, out, work, kafka_alerts=(300, 40))
    results = orjson.loads(out.read_bytes())

    micd, am = results["micd"], results["alertmanager"]
    sent = 1_500 + 40 + 200 + 300 + 20
    assert micd["active_alerts"] == sent
    assert am["active_alerts"] == sent
    assert micd["durable"] == {"acknowledged": sent, "stored_after_sigkill": sent, "ok": True}
    assert micd["warmup_alerts"] == WARMUP_ALERTS
    for runs in (micd["sweep"], am["sweep"]):
        assert [(r["batch"], r["alerts"], r["errors"]) for r in runs] == [(1, 40, 0), (10, 200, 0), (100, 300, 0)]
    fill = micd["fill"][0]
    assert fill["rss_kib"] > 0
    assert fill["peak_rss_kib"] >= fill["rss_kib"]
    assert fill["server"]["micd_ingest_seconds"]["observations"] == (1_500 - WARMUP_ALERTS) // 100
    assert set(results["throughput_ratio_micd_over_alertmanager"]) == {"batch_1", "batch_10", "batch_100"}
    assert set(results["targets_met"]) == set(results["targets"])
    kafka = results["kafka"]
    assert kafka["measured"] is True
    assert kafka["webhook_batch100"]["complete"] is True
    assert kafka["api_v2_single"]["complete"] is True
