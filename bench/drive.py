"""Drive one server through the benchmark sequence with load-generator processes, and read it from outside."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from bench import measure
from bench.targets import Target
from tests.support.procs import REPO

WARMUP_ALERTS = 1_000
CATCH_UP_SECONDS = 300.0

Log = Callable[[str, str, dict[str, Any]], None]


@dataclass(frozen=True)
class Plan:
    """fill: active-alert checkpoints reached in batches of 100; sweep: (batch, alerts) runs of new alerts made
    after the fill; resend: (batch, alerts) runs that post alerts already held again, unchanged, as Alertmanager
    does every repeat_interval; paced: (batch, requests/s, seconds) open-loop runs for latency below saturation."""

    name: str
    fill: tuple[int, ...]
    sweep: tuple[tuple[int, int], ...]
    paced: tuple[tuple[int, float, float], ...]
    max_seconds: float
    resend: tuple[tuple[int, int], ...] = ()
    connections: int = 16
    generators: int = 1


def generate(
    target: Target,
    plan: Plan,
    *,
    batch: int,
    first: int,
    count: int,
    starts_at: str,
    rate: float = 0.0,
    max_seconds: float | None = None,
) -> dict[str, Any]:
    """Run the generator processes against one target and fold their reports into one run."""
    limit = max_seconds or plan.max_seconds
    procs = 1 if rate else plan.generators
    per = -(-count // batch // procs) * batch
    children = []
    for k in range(procs):
        n = min(per, count - k * per)
        if n <= 0:
            break
        cmd = [sys.executable, "-m", "bench.loadgen", "--url", target.url, "--format", target.fmt]
        cmd += ["--batch", str(batch), "--first", str(first + k * per), "--count", str(n)]
        cmd += ["--connections", str(plan.connections), "--max-seconds", str(limit), "--rate", str(rate)]
        cmd += ["--starts-at", starts_at] + (["--token", target.token] if target.token else [])
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
    errors = sum(r["errors"] for r in reports)
    if errors:
        print(f"  {target.name}: {errors} errors, first: {next(r['first_error'] for r in reports if r['errors'])}")
    return {
        "batch": batch,
        "alerts": alerts,
        "requests": sum(r["requests"] for r in reports),
        "errors": errors,
        "seconds": round(span, 3),
        "alerts_per_s": round(alerts / span, 1),
        "requests_per_s": round(sum(r["requests"] for r in reports) / span, 1),
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


def _quantiles(hist: measure.Histogram) -> dict[str, Any]:
    """Bucket upper bounds in ms; a quantile beyond the last finite bucket is reported as the string ">N"."""
    finite = max((le for le, _ in hist.buckets if math.isfinite(le)), default=0.0) * 1000
    out: dict[str, Any] = {"observations": int(hist.count)}
    for name, q in (("p50_le_ms", 0.5), ("p99_le_ms", 0.99)):
        value = hist.quantile(q)
        out[name] = None if value is None else (value * 1000 if math.isfinite(value) else f">{finite:g}")
    return out


def server_side(target: Target, before: str | None, *, events: int) -> tuple[dict[str, Any], str | None]:
    """micd's own histograms since `before`: store time, and receipt-to-correlated once correlation runs.

    When correlation runs, wait (bounded) until it has caught up with every event so far, so that one run's
    backlog does not spill into the next; how long that took after the load stopped is reported too."""
    if target.metrics_url is None:
        return {}, None
    text = measure.scrape(target.metrics_url)
    started = time.monotonic()
    correlated = measure.histogram(text, "micd_correlation_seconds").count
    while 0 < correlated < events and time.monotonic() - started < CATCH_UP_SECONDS:
        time.sleep(0.2)
        text = measure.scrape(target.metrics_url)
        correlated = measure.histogram(text, "micd_correlation_seconds").count
    out: dict[str, Any] = {}
    for name in ("micd_ingest_seconds", "micd_correlation_seconds"):
        hist = measure.histogram(text, name)
        out[name] = _quantiles(hist.minus(measure.histogram(before, name)) if before else hist)
    if correlated:
        out["correlation_caught_up"] = correlated >= events
        out["correlation_catch_up_s"] = round(time.monotonic() - started, 2)
    return out, text


def exercise(target: Target, plan: Plan, starts_at: str, log: Log) -> dict[str, Any]:
    """The same sequence for every target: warm up, fill to each checkpoint, then the batch sweep, then paced runs.

    RSS per alert counts from the warmed-up process (imports done, caches and pools sized), which is the fixed
    base; the marginal figure between checkpoints is what shows whether the cost per alert stays flat."""
    generate(target, plan, batch=100, first=0, count=WARMUP_ALERTS, starts_at=starts_at)
    active = WARMUP_ALERTS
    _, text = server_side(target, None, events=active)
    base = measure.memory_kib(target.pid)
    result: dict[str, Any] = {"warmup_alerts": active, "base_rss_kib": base["VmRSS"], "fill": [], "sweep": []}
    result.update(resend=[], paced=[])
    previous = (active, base["VmRSS"])

    def run(
        phase: str, batch: int, count: int, rate: float = 0.0, max_seconds: float | None = None, fresh: bool = True
    ) -> None:
        nonlocal active, text, previous
        ran = generate(
            target,
            plan,
            batch=batch,
            first=active if fresh else WARMUP_ALERTS,
            count=count,
            starts_at=starts_at,
            rate=rate,
            max_seconds=max_seconds,
        )
        active += ran["alerts"] if fresh else 0
        ran["active_alerts"] = active
        ran["server"], text = server_side(target, text, events=active)
        if fresh and ran["server"].get("correlation_caught_up"):
            # Ingest can outrun correlation; this is the rate at which alerts got all the way to an outage.
            ran["correlated_alerts_per_s"] = round(
                ran["alerts"] / (ran["seconds"] + ran["server"]["correlation_catch_up_s"]), 1
            )
        if phase == "fill":
            mem = measure.memory_kib(target.pid)
            ran.update(
                rss_kib=mem["VmRSS"],
                peak_rss_kib=mem["VmHWM"],
                rss_bytes_per_active_alert=round((mem["VmRSS"] - base["VmRSS"]) * 1024 / (active - WARMUP_ALERTS), 1),
                rss_bytes_per_alert_since_previous=round(
                    (mem["VmRSS"] - previous[1]) * 1024 / (active - previous[0]), 1
                ),
            )
            previous = (active, mem["VmRSS"])
        result[phase].append(ran)
        log(target.name, phase, ran)

    for checkpoint in plan.fill:
        run("fill", 100, checkpoint - active)
    for batch, count in plan.sweep:
        run("sweep", batch, count)
    for batch, count in plan.resend:
        run("resend", batch, count, fresh=False)
    for batch, rate, seconds in plan.paced:
        run("paced", batch, int(rate * seconds) * batch, rate=rate, max_seconds=seconds * 3)
    mem = measure.memory_kib(target.pid)
    result.update(active_alerts=active, rss_kib=mem["VmRSS"], peak_rss_kib=mem["VmHWM"])
    return result


def print_run(target: str, phase: str, run: dict[str, Any]) -> None:
    extra = ""
    if "rss_bytes_per_active_alert" in run:
        extra = (
            f" rss/alert={run['rss_bytes_per_active_alert']}B (marginal {run['rss_bytes_per_alert_since_previous']}B)"
        )
    corr = run.get("server", {}).get("micd_correlation_seconds", {})
    if corr.get("observations"):
        extra += f" correlated p50<={corr['p50_le_ms']}ms p99<={corr['p99_le_ms']}ms"
    if "correlated_alerts_per_s" in run:
        extra += f" ({run['correlated_alerts_per_s']:.0f} alerts/s correlated)"
    print(
        f"  {target:12} {phase:5} batch={run['batch']:<3} alerts={run['alerts']:<8} "
        f"{run['alerts_per_s']:>8.0f} alerts/s {run['requests_per_s']:>6.0f} req/s "
        f"ack p50={run['ack_ms']['p50']}ms p99={run['ack_ms']['p99']}ms "
        f"cpu={run['server_cpu_us_per_alert']}us/alert ({run['server_cpu_cores']} cores, "
        f"generator {run['generator_cpu_cores']}){extra}",
        flush=True,
    )
