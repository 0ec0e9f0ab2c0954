"""A real collector for tests: uvicorn serving the app on 127.0.0.1, in a thread or a process.

Every wait is bounded: the server must answer /healthz within START_TIMEOUT_S, and
stop within STOP_TIMEOUT_S, or the test fails with the reason.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from ottlake.settings import Settings
from producers.collector.app import CollectorConfig, build_app
from producers.collector.ingest import Limits
from producers.collector.metrics import Metrics
from producers.collector.writer import Writer
from producers.events import now_ms
from producers.sdk import MemorySink, Record, SdkConfig, Sink
from tests.fixtures_stack import free_port

START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 20.0
KEY, APP = "test-key", "test-app"
IT_KEY = "it-key"  # the write key of `collector_env`


def config(**changes: Any) -> CollectorConfig:
    limits = Limits(max_body_bytes=changes.pop("max_body_bytes", 1024 * 1024),
                    max_events=changes.pop("max_events", 500),
                    max_event_bytes=changes.pop("max_event_bytes", 16 * 1024))
    return CollectorConfig(write_keys=changes.pop("write_keys", {KEY: APP}), limits=limits, **changes)


class GateSink(MemorySink):
    """A MemorySink whose sends wait until `gate` is set: lets a test fill the queue."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def send(self, records: Sequence[Record]) -> Sequence[str | None]:
        self.gate.wait(STOP_TIMEOUT_S)
        return super().send(records)


@dataclass
class Served:
    url: str
    events: Sink
    dead_letters: Sink

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10.0, **kwargs)


@contextlib.contextmanager
def serving(collector_config: CollectorConfig | None = None, *, events: Sink | None = None,
            dead_letters: Sink | None = None, sdk: SdkConfig | None = None) -> Iterator[Served]:
    """The app served by uvicorn in a thread, writing to `events` and `dead_letters`
    (MemorySinks by default); stopped (and its writer flushed) on exit."""
    import uvicorn

    events = events if events is not None else MemorySink()
    dead_letters = dead_letters if dead_letters is not None else MemorySink()
    sdk = sdk or SdkConfig(flush_interval_s=0.05, queue_size=10_000)
    app = build_app(collector_config or config(),
                    lambda metrics: Writer(events, dead_letters, config=sdk, metrics=metrics))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on", access_log=False))
    thread = threading.Thread(target=server.run, name="collector-under-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the collector did not start in time")
        time.sleep(0.02)
    try:
        yield Served(f"http://127.0.0.1:{port}", events, dead_letters)
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT_S)
        if thread.is_alive():
            raise RuntimeError("the collector did not stop in time")


def wait_for(predicate: Callable[[], Any], *, timeout_s: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def event(**changes: Any) -> dict[str, Any]:
    """A valid event of the contract, happening now."""
    base = {
        "schema_version": 1, "event_id": str(uuid.uuid4()), "event_type": "heartbeat", "event_ts": now_ms(),
        "seq": 0, "viewer_id": "viewer-1", "play_session_id": "ps-1", "content_id": "title-1", "content_type": "vod",
    }
    base.update(changes)
    return {name: value for name, value in base.items() if value is not ...}


@contextlib.contextmanager
def collector_process(env: dict[str, str], *, args: Sequence[str] = (), cwd: Path | None = None
                      ) -> Iterator[tuple[subprocess.Popen, str]]:
    """`ottlake collector` as its own process (SIGTERM on exit, killed if it hangs)."""
    port = free_port()
    command = [sys.executable, "-m", "ottlake.cli.main", "collector", "--port", str(port), *args]
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"ottlake collector exited: {process.stdout.read() if process.stdout else ''}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/healthz", timeout=1.0).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("ottlake collector did not answer /healthz in time")
            time.sleep(0.1)
        yield process, url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def make_streams(settings: Settings, shards: int = 1) -> tuple[str, str]:
    """A fresh events stream and dead-letter stream of the test's own."""
    kinesis = settings.aws().client("kinesis")
    tag = uuid.uuid4().hex[:8]
    names = (f"collector-{tag}", f"collector-dlq-{tag}")
    for name in names:
        kinesis.create_stream(StreamName=name, ShardCount=shards)
    for name in names:
        kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    return names


def read_stream(settings: Settings, name: str) -> list[dict[str, Any]]:
    kinesis = settings.aws().client("kinesis")
    found = []
    for shard in kinesis.list_shards(StreamName=name)["Shards"]:
        iterator = kinesis.get_shard_iterator(StreamName=name, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            found.extend(orjson.loads(record["Data"]) for record in page["Records"])
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return found


def collector_env(settings: Settings, streams: tuple[str, str], **extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("OTTLAKE_")}
    env.update({
        "OTTLAKE_EMBEDDED_PORT": str(settings.embedded_port), "OTTLAKE_STATE_DIR": str(settings.state_dir),
        "OTTLAKE_STREAM_NAME": streams[0], "OTTLAKE_DEAD_LETTER_STREAM_NAME": streams[1],
        "OTTLAKE_COLLECTOR_WRITE_KEYS": f"{IT_KEY}=it-app,other=other-app",
        # A long flush interval: only the shutdown's flush can bring the events to the stream.
        "OTTLAKE_SDK_FLUSH_INTERVAL_S": "60", **extra,
    })
    return env
