"""The load generator: a separate process that posts a pre-built alert stream over loopback keep-alive connections.

Bodies are built before the clock starts so that the generator measures the server, not its own JSON work, and
requests go out over raw asyncio streams (uvloop) because an HTTP client library would cost more CPU than the
server it measures. Bounded twice: by `--count` alerts and by `--max-seconds`.

Protocol with the parent (bench.run): the generator prints `ready` once its bodies are built, waits for a line on
stdin, runs, and prints one JSON object with its counts, its start/end on the system-wide monotonic clock and every
request's latency in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson

WEBHOOK = "webhook"
AM_V2 = "am-v2"
TENANTS = 4
ALERTNAMES = 97
SERVICES = 200


def labels_of(index: int, group: int) -> dict[str, str]:
    return {
        "alertname": f"BenchAlert{group % ALERTNAMES}",
        "tenant": f"t{group % TENANTS}",
        "service": f"svc-{index % SERVICES}",
        "instance": f"host-{index}:9100",
        "job": "node",
        "severity": "critical" if index % 3 == 0 else "warning",
    }


def group_bodies(*, first: int, count: int, batch: int, fmt: str, starts_at: str) -> Iterator[bytes]:
    """Alerts first..first+count-1, `batch` per body, grouped by (alertname, tenant) as Alertmanager groups them."""
    for start in range(first, first + count, batch):
        group = start // batch
        alerts = []
        for index in range(start, min(start + batch, first + count)):
            labels = labels_of(index, group)
            alert: dict[str, Any] = {
                "labels": labels,
                "annotations": {
                    "summary": f"{labels['alertname']} on {labels['instance']}",
                    "runbook_url": "https://runbooks.example/bench",
                },
                "startsAt": starts_at,
                "generatorURL": f"http://prometheus.example/graph?g0.expr=up%7Binstance%3D%22host-{index}%22%7D",
            }
            if fmt == WEBHOOK:
                # Alertmanager sends a label-derived fingerprint; a unique hex id stands in for it here.
                alert.update(status="firing", endsAt="0001-01-01T00:00:00Z", fingerprint=f"{index:016x}")
            alerts.append(alert)
        if fmt == AM_V2:
            yield orjson.dumps(alerts)
            continue
        common = {"alertname": alerts[0]["labels"]["alertname"], "tenant": alerts[0]["labels"]["tenant"]}
        yield orjson.dumps(
            {
                "version": "4",
                "groupKey": f"{{}}:{orjson.dumps(common).decode()}",
                "truncatedAlerts": 0,
                "status": "firing",
                "receiver": "micd",
                "groupLabels": common,
                "commonLabels": common,
                "commonAnnotations": {},
                "externalURL": "http://alertmanager.example:9093",
                "alerts": alerts,
            }
        )


def requests_for(url: str, bodies: Iterator[bytes], token: str | None) -> list[bytes]:
    parts = urlsplit(url)
    head = f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
    if token:
        head += f"Authorization: Bearer {token}\r\n"
    return [(head + f"Content-Length: {len(b)}\r\n\r\n").encode() + b for b in bodies]


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    done: int = 0


async def connection(
    host: str,
    port: int,
    requests: list[bytes],
    queue: Iterator[int],
    tally: Tally,
    *,
    deadline: float,
    t0: float,
    interval: float,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for k in queue:
            if time.monotonic() >= deadline:
                return
            due = t0 + k * interval
            if interval:
                # Paced (open loop): latency counts from when the request was due, not when it went out,
                # so a stalled server is not hidden by the generator waiting on it.
                await asyncio.sleep(max(0.0, due - time.monotonic()))
            sent = due if interval else time.monotonic()
            writer.write(requests[k])
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            tally.latencies_ms.append(round((time.monotonic() - sent) * 1000.0, 3))
            if head[9:10] != b"2":
                tally.errors += 1
                tally.first_error = tally.first_error or (head[:12] + body[:300]).decode(errors="replace")
            else:
                tally.done += 1
    finally:
        writer.close()


async def run(args: argparse.Namespace, requests: list[bytes]) -> dict[str, Any]:
    parts = urlsplit(args.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"loadgen only targets loopback, not {host}")
    tally = Tally()
    queue = iter(range(len(requests)))
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    interval = 1.0 / args.rate if args.rate else 0.0
    deadline = t0 + args.max_seconds
    await asyncio.gather(
        *(
            connection(host, port, requests, queue, tally, deadline=deadline, t0=t0, interval=interval)
            for _ in range(args.connections)
        )
    )
    t1 = time.monotonic()
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage1.ru_utime + usage1.ru_stime - usage0.ru_utime - usage0.ru_stime
    alerts = min(tally.done * args.batch, args.count)
    return {
        "requests": tally.done,
        "alerts": alerts,
        "errors": tally.errors,
        "first_error": tally.first_error,
        "start": t0,
        "end": t1,
        "cpu_s": round(cpu, 3),
        "latencies_ms": tally.latencies_ms,
        "timed_out": t1 >= deadline,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--url", required=True)
    p.add_argument("--format", choices=[WEBHOOK, AM_V2], default=WEBHOOK)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--first", type=int, default=0, help="index of the first alert (alerts are unique per index)")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--max-seconds", type=float, default=60.0)
    p.add_argument("--rate", type=float, default=0.0, help="requests/s, open loop; 0 = as fast as answered")
    p.add_argument("--starts-at", required=True, help="startsAt of every alert, RFC 3339")
    p.add_argument("--token", default=None)
    args = p.parse_args(argv)
    bodies = group_bodies(
        first=args.first, count=args.count, batch=args.batch, fmt=args.format, starts_at=args.starts_at
    )
    requests = requests_for(args.url, bodies, args.token)
    print("ready", flush=True)
    sys.stdin.readline()
    try:
        import uvloop

        result = uvloop.run(run(args, requests))
    except ImportError:
        result = asyncio.run(run(args, requests))
    sys.stdout.buffer.write(orjson.dumps(result) + b"\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
