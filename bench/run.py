"""`python -m bench.run [--quick]`: micd and a real Alertmanager take the same alert stream; results to JSON.

Both servers run as real processes on loopback and the load comes from separate generator processes
(bench.loadgen), so the numbers include HTTP, JSON and the durable commit, as a sender sees them.
Every figure in the output is documented in bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import orjson
import yaml

from bench import measure
from bench.loadgen import AM_V2, WEBHOOK
from daemon.api.auth import new_token
from tests.support.alertmanager import Alertmanager
from tests.support.procs import REPO, Daemon

RESULTS = REPO / "bench" / "results.json"
QUICK_RESULTS = REPO / "bench" / "results" / "quick.json"
TARGETS = {
    "webhook_batch100_alerts_per_s": 20_000.0,
    "webhook_batch1_requests_per_s": 3_000.0,
    "p99_ms": 50.0,
    "rss_bytes_per_active_alert": 1024.0,
}


@dataclass(frozen=True)
class Plan:
    """fill: active-alert checkpoints reached in batches of 100; sweep: (batch, alerts) runs made after the fill;
    paced: (batch, requests/s, seconds) open-loop runs for latency below saturation."""

    name: str
    fill: tuple[int, ...]
    sweep: tuple[tuple[int, int], ...]
    paced: tuple[tuple[int, float, float], ...]
    max_seconds: float
    connections: int = 16
    generators: int = 1


FULL = Plan(
    "full",
    fill=(10_000, 100_000, 1_000_000),
    sweep=((1, 60_000), (10, 200_000), (100, 300_000)),
    paced=((1, 1_500.0, 10.0), (10, 500.0, 10.0), (100, 100.0, 10.0)),
    max_seconds=300.0,
)
QUICK = Plan(
    "quick",
    fill=(10_000, 100_000),
    sweep=((1, 10_000), (10, 30_000), (100, 50_000)),
    paced=((1, 1_500.0, 3.0), (100, 100.0, 3.0)),
    max_seconds=15.0,
)


class Target(Protocol):
    """A server under load: where to post, in which format, and its process for /proc readings."""

    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def fmt(self) -> str: ...
    @property
    def token(self) -> str | None: ...
    @property
    def pid(self) -> int: ...


@dataclass
class Micd:
    daemon: Daemon
    token: str
    name: str = "micd"
    fmt: str = WEBHOOK

    @property
    def url(self) -> str:
        return self.daemon.url + "/api/v1/alerts/alertmanager"

    @property
    def pid(self) -> int:
        assert self.daemon.proc is not None
        return self.daemon.proc.pid


@dataclass
class Am:
    am: Alertmanager
    name: str = "alertmanager"
    fmt: str = AM_V2
    token: str | None = None

    @property
    def url(self) -> str:
        return self.am.url + "/api/v2/alerts"

    @property
    def pid(self) -> int:
        assert self.am.proc is not None
        return self.am.proc.pid


def null_alertmanager(workdir: Path) -> Alertmanager:
    """Alertmanager with its usual grouping but a receiver that sends nothing, so only its ingest is measured.
    resolve_timeout is long so that alerts stay active for the whole run."""
    am = Alertmanager(workdir, webhook_url="http://127.0.0.1:9/unused")
    config = {
        "global": {"resolve_timeout": "6h"},
        "route": {
            "receiver": "null",
            "group_by": ["alertname", "tenant"],
            "group_wait": "0s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [{"name": "null"}],
    }
    (workdir / "alertmanager.yml").write_text(yaml.safe_dump(config))
    return am


def generate(
    target: Target,
    *,
    batch: int,
    first: int,
    count: int,
    plan: Plan,
    starts_at: str,
    rate: float = 0.0,
    max_seconds: float | None = None,
) -> dict[str, Any]:
    """Run the generator processes against one target and fold their reports into one run."""
    procs = 1 if rate else plan.generators
    per = -(-count // batch // procs) * batch
    children = []
    for k in range(procs):
        n = min(per, count - k * per)
        if n <= 0:
            break
        cmd = [
            sys.executable,
            "-m",
            "bench.loadgen",
            "--url",
            target.url,
            "--format",
            target.fmt,
            "--batch",
            str(batch),
            "--first",
            str(first + k * per),
            "--count",
            str(n),
            "--connections",
            str(plan.connections),
            "--max-seconds",
            str(max_seconds or plan.max_seconds),
            "--rate",
            str(rate),
            "--starts-at",
            starts_at,
        ]
        if target.token:
            cmd += ["--token", target.token]
        children.append(subprocess.Popen(cmd, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE))
    for child in children:
        assert child.stdout is not None
        if child.stdout.readline().strip() != b"ready":
            raise RuntimeError(f"load generator exited with {child.wait()}")
    cpu0 = measure.cpu_seconds(target.pid)
    for child in children:
        assert child.stdin is not None
        child.stdin.write(b"go\n")
        child.stdin.flush()
    # Read through the same buffered pipe that gave `ready`; each generator stops itself at --max-seconds.
    reports = [orjson.loads(child.stdout.read()) for child in children if child.stdout is not None]
    for child in children:
        child.wait(timeout=60)
    server_cpu = measure.cpu_seconds(target.pid) - cpu0
    latencies = sorted(v for r in reports for v in r["latencies_ms"])
    span = max(r["end"] for r in reports) - min(r["start"] for r in reports)
    alerts = sum(r["alerts"] for r in reports)
    requests = sum(r["requests"] for r in reports)
    errors = sum(r["errors"] for r in reports)
    if errors:
        print(f"  {target.name}: {errors} errors, first: {next(r['first_error'] for r in reports if r['errors'])}")
    return {
        "batch": batch,
        "alerts": alerts,
        "requests": requests,
        "errors": errors,
        "seconds": round(span, 3),
        "alerts_per_s": round(alerts / span, 1),
        "requests_per_s": round(requests / span, 1),
        "ack_ms": {
            "p50": measure.percentile(latencies, 0.50),
            "p99": measure.percentile(latencies, 0.99),
            "max": latencies[-1] if latencies else None,
        },
        "server_cpu_us_per_alert": round(server_cpu / alerts * 1e6, 1) if alerts else None,
        "server_cpu_cores": round(server_cpu / span, 2),
        "generator_cpu_cores": round(sum(r["cpu_s"] for r in reports) / span, 2),
        "timed_out": any(r["timed_out"] for r in reports),
        **({"rate_rps": rate} if rate else {}),
    }


def server_latency(target: Target, before: str | None) -> tuple[dict[str, Any], str | None]:
    """Server-side histograms since `before` (micd only): store time and, once it exists, receipt-to-correlated."""
    if not isinstance(target, Micd):
        return {}, None
    text = measure.scrape(target.daemon.url)
    out: dict[str, Any] = {}
    for name in ("micd_ingest_seconds", "micd_correlation_seconds"):
        hist = measure.histogram(text, name)
        if before is not None:
            hist = hist.minus(measure.histogram(before, name))
        q50, q99 = hist.quantile(0.5), hist.quantile(0.99)
        out[name] = {
            "observations": int(hist.count),
            "p50_le_ms": None if q50 is None else q50 * 1000,
            "p99_le_ms": None if q99 is None else q99 * 1000,
        }
    return out, text


def exercise(target: Target, plan: Plan, starts_at: str, log: Any) -> dict[str, Any]:
    """The same sequence for every target: fill to each checkpoint, then the batch sweep, then paced runs."""
    base = measure.memory_kib(target.pid)
    result: dict[str, Any] = {"base_rss_kib": base["VmRSS"], "fill": [], "sweep": [], "paced": []}
    active = 0
    for checkpoint in plan.fill:
        run = generate(target, batch=100, first=active, count=checkpoint - active, plan=plan, starts_at=starts_at)
        active += run["alerts"]
        mem = measure.memory_kib(target.pid)
        run.update(
            active_alerts=active,
            rss_kib=mem["VmRSS"],
            peak_rss_kib=mem["VmHWM"],
            rss_bytes_per_active_alert=round((mem["VmRSS"] - base["VmRSS"]) * 1024 / active, 1),
        )
        result["fill"].append(run)
        log(target.name, "fill", run)
    for batch, count in plan.sweep:
        run = generate(target, batch=batch, first=active, count=count, plan=plan, starts_at=starts_at)
        active += run["alerts"]
        run["active_alerts"] = active
        result["sweep"].append(run)
        log(target.name, "sweep", run)
    for batch, rate, seconds in plan.paced:
        count = int(rate * seconds) * batch
        _, before = server_latency(target, None)
        run = generate(
            target,
            batch=batch,
            first=active,
            count=count,
            plan=plan,
            starts_at=starts_at,
            rate=rate,
            max_seconds=seconds * 3,
        )
        active += run["alerts"]
        hist, _ = server_latency(target, before)
        run.update(active_alerts=active, server=hist)
        result["paced"].append(run)
        log(target.name, "paced", run)
    mem = measure.memory_kib(target.pid)
    result.update(active_alerts=active, rss_kib=mem["VmRSS"], peak_rss_kib=mem["VmHWM"])
    return result


def print_run(target: str, phase: str, run: dict[str, Any]) -> None:
    extra = f" rss/alert={run['rss_bytes_per_active_alert']}B" if "rss_bytes_per_active_alert" in run else ""
    print(
        f"  {target:12} {phase:5} batch={run['batch']:<3} alerts={run['alerts']:<8} "
        f"{run['alerts_per_s']:>9.0f} alerts/s {run['requests_per_s']:>7.0f} req/s  ack p50={run['ack_ms']['p50']}ms "
        f"p99={run['ack_ms']['p99']}ms  cpu={run['server_cpu_us_per_alert']}us/alert "
        f"(server {run['server_cpu_cores']} cores, generator {run['generator_cpu_cores']}){extra}",
        flush=True,
    )


@contextmanager
def micd_running(workdir: Path) -> Iterator[Micd]:
    token, sha = new_token()
    daemon = Daemon(workdir, {"auth": {"webhook_tokens": [{"name": "bench", "sha256": sha}]}}).start()
    try:
        yield Micd(daemon, token)
    finally:
        daemon.kill()


def stored_alerts(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM alerts").fetchone()[0])


def alertmanager_version() -> str:
    out = subprocess.run(["/usr/bin/prometheus-alertmanager", "--version"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else "unknown"


def best(runs: list[dict[str, Any]], batch: int) -> dict[str, Any] | None:
    return next((r for r in runs if r["batch"] == batch), None)


def summarise(micd: dict[str, Any], am: dict[str, Any]) -> dict[str, Any]:
    ratios = {}
    for batch in (1, 10, 100):
        m, a = best(micd["sweep"], batch), best(am["sweep"], batch)
        if m and a and a["alerts_per_s"]:
            ratios[f"batch_{batch}"] = round(m["alerts_per_s"] / a["alerts_per_s"], 2)
    b100, b1 = best(micd["sweep"], 100), best(micd["sweep"], 1)
    p99s = [r["ack_ms"]["p99"] for r in micd["paced"] if r["ack_ms"]["p99"] is not None]
    per_alert = [r["rss_bytes_per_active_alert"] for r in micd["fill"]]
    cpu = [r["server_cpu_us_per_alert"] for r in micd["fill"]]
    met = {
        "webhook_batch100_alerts_per_s": bool(
            b100 and b100["alerts_per_s"] >= TARGETS["webhook_batch100_alerts_per_s"]
        ),
        "webhook_batch1_requests_per_s": bool(b1 and b1["requests_per_s"] >= TARGETS["webhook_batch1_requests_per_s"]),
        "p99_ms": bool(p99s and max(p99s) < TARGETS["p99_ms"]),
        "rss_bytes_per_active_alert": bool(per_alert and max(per_alert) < TARGETS["rss_bytes_per_active_alert"]),
    }
    flat = round(cpu[-1] / cpu[0], 2) if len(cpu) > 1 and cpu[0] else None
    return {
        "throughput_ratio_micd_over_alertmanager": ratios,
        "targets": TARGETS,
        "targets_met": met,
        "cpu_per_alert_last_over_first_fill": flat,
    }


def kafka_status() -> dict[str, Any]:
    if not (REPO / "daemon" / "kafka" / "ingestor.py").exists():
        return {"measured": False, "why": "daemon/kafka does not exist yet"}
    return {
        "measured": False,
        "why": "the Kafka path exists but is not wired into `micd serve` and has no bench "
        "driver yet; left for a follow-up",
    }


def run_bench(plan: Plan, out: Path, workdir: Path) -> dict[str, Any]:
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
        },
        "generator": {
            "processes": plan.generators,
            "connections": plan.connections,
            "client": "raw asyncio streams on uvloop, HTTP/1.1 keep-alive, bodies built before timing",
        },
        "plan": {"fill": plan.fill, "sweep": plan.sweep, "paced": plan.paced, "max_seconds": plan.max_seconds},
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
    am = null_alertmanager(workdir / "am").start()
    try:
        am_result = exercise(Am(am), plan, starts_at, print_run)
    finally:
        am.stop()
    results.update(micd=micd_result, alertmanager=am_result, kafka=kafka_status(), **summarise(micd_result, am_result))
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"durable: {micd_result['durable']}")
    print(f"micd/alertmanager throughput: {results['throughput_ratio_micd_over_alertmanager']}")
    print(f"targets met: {results['targets_met']}  ({results['wall_seconds']} s)")
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="smaller stages, under two minutes")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--generators", type=int, default=None, help="load-generator processes (default 1)")
    args = p.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.generators:
        plan = Plan(**{**plan.__dict__, "generators": args.generators})
    with tempfile.TemporaryDirectory(prefix="micd-bench-") as tmp:
        results = run_bench(plan, args.out or (QUICK_RESULTS if args.quick else RESULTS), Path(tmp))
    return 0 if results["micd"]["durable"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
