"""`python -m bench.run [--quick]`: micd and a real Alertmanager take the same alert stream; results to JSON.

Both servers run as real processes on loopback and the load comes from separate generator processes
(bench.loadgen), so the numbers include HTTP, JSON and the durable commit, as a sender sees them.
Every figure in the output is documented in bench/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from bench.drive import Plan, exercise, print_run
from bench.kafka import kafka_path
from bench.targets import alertmanager_running, alertmanager_version, micd_running, stored_alerts
from tests.support.procs import REPO

RESULTS = REPO / "bench" / "results.json"
QUICK_RESULTS = REPO / "bench" / "results" / "quick.json"
TARGETS = {
    "webhook_batch100_alerts_per_s": 20_000.0,
    "webhook_batch1_requests_per_s": 3_000.0,
    "p99_ms": 50.0,
    "rss_bytes_per_active_alert": 1024.0,
}

FULL = Plan(
    "full",
    fill=(10_000, 100_000, 1_000_000),
    sweep=((1, 20_000), (10, 70_000), (100, 100_000)) * 3,
    resend=((100, 300_000),),
    paced=((1, 1_500.0, 10.0), (10, 500.0, 10.0), (100, 100.0, 10.0)),
    max_seconds=300.0,
)
QUICK = Plan(
    "quick",
    fill=(10_000, 100_000),
    sweep=((1, 10_000), (10, 30_000), (100, 50_000)),
    resend=((100, 50_000),),
    paced=((1, 1_500.0, 3.0), (100, 100.0, 3.0)),
    max_seconds=15.0,
)
KAFKA_ALERTS = {"full": (200_000, 30_000), "quick": (30_000, 5_000)}


def _by_batch(runs: list[dict[str, Any]], batch: int) -> dict[str, Any] | None:
    """The median run of one batch size by throughput: the machine is shared, so one run can be unlucky."""
    same = sorted((r for r in runs if r["batch"] == batch), key=lambda r: r["alerts_per_s"])
    return same[(len(same) - 1) // 2] if same else None


def summarise(micd: dict[str, Any], am: dict[str, Any]) -> dict[str, Any]:
    """Ratios micd/Alertmanager from the sweep (median run per batch size), and each issue target checked against
    the runs that measure it."""
    ratios = {}
    for batch in (1, 10, 100):
        m, a = _by_batch(micd["sweep"], batch), _by_batch(am["sweep"], batch)
        if m and a and a["alerts_per_s"]:
            ratios[f"batch_{batch}"] = round(m["alerts_per_s"] / a["alerts_per_s"], 2)
    b100, b1 = _by_batch(micd["sweep"], 100), _by_batch(micd["sweep"], 1)
    acked = [r["ack_ms"]["p99"] for r in micd["paced"] if r["ack_ms"]["p99"] is not None]
    correlated = [r["server"].get("micd_correlation_seconds", {}).get("p99_le_ms") for r in micd["paced"]]
    by_correlation = bool(correlated) and all(v is not None for v in correlated)
    # Bucket bounds: "<= 50 ms" is the finest statement the histogram allows about "< 50 ms".
    p99_ok = (
        all(isinstance(v, float) and v <= TARGETS["p99_ms"] for v in correlated)
        if by_correlation
        else (bool(acked) and max(acked) < TARGETS["p99_ms"])
    )
    per_alert = [r["rss_bytes_per_active_alert"] for r in micd["fill"]]
    cpu = [r["server_cpu_us_per_alert"] for r in micd["fill"]]
    met = {
        "webhook_batch100_alerts_per_s": bool(
            b100 and b100["alerts_per_s"] >= TARGETS["webhook_batch100_alerts_per_s"]
        ),
        "webhook_batch1_requests_per_s": bool(b1 and b1["requests_per_s"] >= TARGETS["webhook_batch1_requests_per_s"]),
        "p99_ms": p99_ok,
        "rss_bytes_per_active_alert": bool(per_alert and max(per_alert) < TARGETS["rss_bytes_per_active_alert"]),
    }
    return {
        "throughput_ratio_micd_over_alertmanager": ratios,
        "targets": TARGETS,
        "targets_met": met,
        "p99_measured_as": "receipt-to-correlated, paced runs (micd_correlation_seconds bucket bound)"
        if by_correlation
        else "receipt-to-durable-ack, paced runs (client round trip; correlation not running)",
        "p99_paced_ms": correlated if by_correlation else acked,
        "cpu_per_alert_last_over_first_fill": round(cpu[-1] / cpu[0], 2) if len(cpu) > 1 and cpu[0] else None,
    }


def run_bench(plan: Plan, out: Path, workdir: Path, *, kafka_alerts: tuple[int, int] | None) -> dict[str, Any]:
    starts_at = (datetime.now(UTC) - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    started = time.monotonic()
    results: dict[str, Any] = {
        "mode": plan.name,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "kernel": platform.release(),
            "alertmanager": alertmanager_version(),
            "load_average_at_start": os.getloadavg(),
        },
        "generator": {
            "processes": plan.generators,
            "connections": plan.connections,
            "client": "raw asyncio streams on uvloop, HTTP/1.1 keep-alive, bodies built before timing",
        },
        "plan": dataclasses.asdict(plan),
    }
    print(f"micd benchmark ({plan.name}) on {os.cpu_count()} CPUs; results to {out}", flush=True)
    (workdir / "micd").mkdir()
    with micd_running(workdir / "micd") as micd:
        micd_result = exercise(micd, plan, starts_at, print_run)
        micd.daemon.kill()  # SIGKILL: every acknowledged alert must be in the database anyway
    acked = micd_result["active_alerts"]
    stored = stored_alerts(workdir / "micd" / "micd.sqlite3")
    micd_result["durable"] = {"acknowledged": acked, "stored_after_sigkill": stored, "ok": stored == acked}
    micd_result["db_bytes"] = sum(p.stat().st_size for p in (workdir / "micd").glob("micd.sqlite3*"))
    (workdir / "am").mkdir()
    with alertmanager_running(workdir / "am") as am:
        am_result = exercise(am, plan, starts_at, print_run)
    kafka = (
        kafka_path(
            workdir / "kafka", webhook_alerts=kafka_alerts[0], single_alerts=kafka_alerts[1], starts_at=starts_at
        )
        if kafka_alerts
        else {"measured": False, "why": "skipped (--no-kafka)"}
    )
    results.update(micd=micd_result, alertmanager=am_result, kafka=kafka, **summarise(micd_result, am_result))
    results["machine"]["load_average_at_end"] = os.getloadavg()
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"durable: {micd_result['durable']}")
    print(f"micd/alertmanager throughput: {results['throughput_ratio_micd_over_alertmanager']}")
    print(f"targets met: {results['targets_met']} (p99 is {results['p99_measured_as']})")
    print(f"done in {results['wall_seconds']} s")
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="smaller stages, under two minutes")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--generators", type=int, default=1, help="load-generator processes per run")
    p.add_argument("--no-kafka", action="store_true", help="skip the Kafka path")
    args = p.parse_args(argv)
    plan = dataclasses.replace(QUICK if args.quick else FULL, generators=args.generators)
    with tempfile.TemporaryDirectory(prefix="micd-bench-") as tmp:
        results = run_bench(
            plan,
            args.out or (QUICK_RESULTS if args.quick else RESULTS),
            Path(tmp),
            kafka_alerts=None if args.no_kafka else KAFKA_ALERTS[plan.name],
        )
    return 0 if results["micd"]["durable"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
