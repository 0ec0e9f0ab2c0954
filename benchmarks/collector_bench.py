"""Load test of the collector on 127.0.0.1: 50-event batches, events/s accepted, p50/p99 latency.

The server is `uvicorn` in processes of its own, as `ottlake collector` runs it: with
the SDK's NullSink behind the writer (the collector's own cost: HTTP, parsing, the
contract's validation, queueing), and end to end into the embedded stack's Kinesis
stream (`ottlake collector` itself). The load is a small asyncio HTTP/1.1 client with
keep-alive connections, each sending one request at a time, bounded in time and in
count; every answer must be 200 with all 50 accepted.

    python -m benchmarks.run collector [--events N]
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from benchmarks import BenchOptions, Measurement

BATCH = 50
CONNECTIONS = 8
MAX_SECONDS = 15.0
TARGET_RATE = 20_000  # events/s: the target, with p99 under 50 ms
KEY = "bench-key"


def null_app() -> Any:
    """uvicorn's factory for the NullSink case (imported by name in each worker)."""
    from producers.collector.app import CollectorConfig, build_app
    from producers.collector.ingest import Limits
    from producers.collector.writer import Writer
    from producers.sdk import NullSink, SdkConfig

    from producers.collector.server import tune_process

    config = CollectorConfig(write_keys={KEY: "bench"}, limits=Limits(1 << 20, 500, 1 << 16))
    app = build_app(config, lambda metrics: Writer(NullSink(), NullSink(), config=SdkConfig(queue_size=200_000),
                                                   metrics=metrics))
    tune_process()
    return app


def bodies(count: int) -> list[bytes]:
    """`count` distinct 50-event JSON arrays of ~480-byte simulated events, happening now."""
    from producers.simulator import FaultRates, SimConfig, simulate

    now = time.time_ns() // 1_000_000
    # Device clocks right (no skew): a skewed clock's event would be future_timestamp here.
    simulation = simulate(SimConfig(viewers=200, minutes=30, seed=3, start_ms=now - 31 * 60_000,
                                    faults=FaultRates(skew=0.0)))
    events = [d.event for d in simulation.deliveries]
    out = []
    for n in range(count):
        chunk = [events[(n * BATCH + i) % len(events)] for i in range(BATCH)]
        out.append(orjson.dumps([{**e, "event_id": str(uuid.uuid4())} for e in chunk]))
    return out


async def _connection(port: int, payloads: list[bytes], deadline: float, budget: list[int],
                      latencies: list[float], failures: list[str], *, interval_s: float | None, offset_s: float
                      ) -> None:
    """One keep-alive connection, one request at a time: as fast as answers come, or
    one every `interval_s` (open loop: a late answer delays the next send, and the
    latency counts from when the request was due, so the wait is not hidden)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        n = 0
        start = time.perf_counter() + offset_s
        while time.perf_counter() < deadline and budget[0] > 0:
            budget[0] -= 1
            body = payloads[n % len(payloads)]
            due = start + n * interval_s if interval_s else time.perf_counter()
            n += 1
            if (wait := due - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            head = (f"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
            began = due
            writer.write(head + body)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            answer = await reader.readexactly(length)
            latencies.append(time.perf_counter() - began)
            if b" 200 " not in status_line or not answer.startswith(b'{"accepted":50,'):
                failures.append(f"{status_line.strip()!r} {answer[:200]!r}")
    finally:
        writer.close()


def load(port: int, payloads: list[bytes], *, max_events: int, max_seconds: float,
         rate: float | None = None) -> tuple[int, float, list[float]]:
    """(events accepted, seconds, latencies) of CONNECTIONS connections posting batches,
    as fast as they are answered, or paced to `rate` events/s in all."""
    interval_s = CONNECTIONS * BATCH / rate if rate else None
    latencies: list[float] = []
    failures: list[str] = []
    budget = [max(1, max_events // BATCH)]

    async def run() -> float:
        began = time.perf_counter()
        deadline = began + max_seconds
        await asyncio.gather(*(_connection(port, payloads, deadline, budget, latencies, failures,
                                           interval_s=interval_s, offset_s=(interval_s or 0) * i / CONNECTIONS)
                               for i in range(CONNECTIONS)))
        return time.perf_counter() - began

    seconds = asyncio.run(run())
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. {failures[0]}")
    return len(latencies) * BATCH, seconds, latencies


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_healthy(port: int, process: subprocess.Popen, timeout_s: float = 30.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the collector exited: {process.stdout.read() if process.stdout else ''}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return
        time.sleep(0.2)
    raise RuntimeError("the collector did not start")


@contextlib.contextmanager
def _server(command: list[str], port: int, env: dict[str, str]) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        _wait_healthy(port, process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _measure(case: str, port: int, payloads: list[bytes], count: int, note: str,
             rate: float | None = None) -> Measurement:
    load(port, payloads[:20], max_events=2_000, max_seconds=3)  # warm-up: connections, caches
    events, seconds, latencies = load(port, payloads, max_events=count, max_seconds=MAX_SECONDS, rate=rate)
    cuts = statistics.quantiles(latencies, n=100)
    return Measurement(benchmark="collector", case=case, count=events, seconds=seconds,
                       note=f"p50 {cuts[49] * 1000:.1f} ms, p99 {cuts[98] * 1000:.1f} ms; {note}")


def collector(options: BenchOptions) -> list[Measurement]:
    count = options.events or 300_000
    payloads = bodies(200)
    results = []
    for workers in (1, 2):
        port = _free_port()
        command = [sys.executable, "-m", "uvicorn", "--factory", "benchmarks.collector_bench:null_app",
                   "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--log-level", "warning",
                   "--no-access-log"]
        env = {"PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="bench-metrics-")} if workers > 1 else {}
        with _server(command, port, env):
            results.append(_measure(f"{workers} worker(s), NullSink writer, as fast as answered", port, payloads,
                                    count, f"{CONNECTIONS} connections, 50-event JSON batches"))
            if workers == 2:
                results.append(_measure(f"{workers} workers, NullSink writer, paced at {TARGET_RATE:,} events/s",
                                        port, payloads, min(count, TARGET_RATE * 10),
                                        f"{CONNECTIONS} connections, open loop", rate=TARGET_RATE))
    results.append(_kinesis_case(payloads, count))
    return results


def _kinesis_case(payloads: list[bytes], count: int) -> Measurement:
    from ottlake.services import infra, stack
    from ottlake.settings import Settings

    with tempfile.TemporaryDirectory(prefix="ottlake-bench-") as state_dir:
        settings = Settings.load(aws_endpoint="embedded", embedded_port=_free_port(), state_dir=Path(state_dir))
        with stack.running(settings):
            infra.apply(settings)
            port = _free_port()
            env = {"OTTLAKE_EMBEDDED_PORT": str(settings.embedded_port), "OTTLAKE_STATE_DIR": state_dir,
                   "OTTLAKE_COLLECTOR_WRITE_KEYS": f"{KEY}=bench", "OTTLAKE_COLLECTOR_WORKERS": "2",
                   "OTTLAKE_COLLECTOR_PORT": str(port), "OTTLAKE_SDK_QUEUE_SIZE": "400000"}
            with _server([sys.executable, "-m", "ottlake.cli.main", "collector"], port, env) as process:
                began = time.perf_counter()
                measured = _measure("2 workers -> embedded Kinesis (ottlake collector)", port, payloads,
                                    min(count, 100_000), "")
                # SIGTERM: the collector flushes every accepted event into the stream, then exits.
                process.terminate()
                process.wait(600)
                total = time.perf_counter() - began
                accepted = measured.count + 2_000  # with the warm-up's
                return dataclasses.replace(measured, note=measured.note + (
                    f"all accepted in the stream after {total:.1f} s ({accepted / total:,.0f} events/s end to end:"
                    " moto on the same 2 cores)"))
