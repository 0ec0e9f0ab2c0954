"""The SDK's cost: events per second through track() on one core, and into Kinesis.

`throughput` times track() of pre-built events until flush() returns, into a
NullSink, with the whole process (caller and worker thread) pinned to one CPU:
what one core does under the GIL, with and without validation.

`kinesis` sends the same events into the emulator's stream three ways: the
Tracker with a KinesisSink, a plain loop of put_record calls, and a plain loop of
put_records calls of 500. It runs against the embedded stack (started for the
run on a free port, provisioned by infra.apply) or, with --endpoint-url, against
an emulator you run, in a stream made for the run. The emulator's own limits
show (moto tops out near 10,000 records/s): compare the rows, not with AWS.
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from benchmarks import BenchOptions, Measurement
from producers.events import Dimensions, PlaySession
from producers.sdk import KinesisSink, NullSink, SdkConfig, Tracker

_EPOCH_MS = 1_767_225_600_000  # 2026-01-01: fixed, so runs build identical events
_SESSIONS = 500
_DEVICES = ("tv", "mobile", "tablet", "desktop", "console")


def make_events(count: int) -> list[dict[str, Any]]:
    """`count` realistic events (about 480 bytes) over 500 play sessions, built before timing."""
    sessions = [
        PlaySession(
            viewer_id=f"viewer-{n:05d}", content_id=f"title-{n % 97:03d}", content_type="vod",
            play_session_id=str(uuid.UUID(int=n + 1, version=4)),
            dimensions=Dimensions(
                content_duration_ms=2_700_000, player_name="shaka-player", player_version="4.12.0",
                sdk_version="0.1.0", app_version="7.3.1", device_type=_DEVICES[n % len(_DEVICES)],
                os_name="tizen", os_version="8.0", cdn=f"cdn-{'abc'[n % 3]}", country="FR", isp="Orange",
            ),
            clock=lambda: _EPOCH_MS,
        )
        for n in range(_SESSIONS)
    ]
    events = []
    for i in range(count):
        ps = sessions[i % _SESSIONS]
        events.append(ps.heartbeat(ts=_EPOCH_MS + i, playhead_ms=i * 10, bitrate_kbps=4_500, buffer_ms=18_000))
    return events


@contextlib.contextmanager
def one_cpu(cpu: int | None) -> Iterator[int]:
    """Pin every thread of this process (and those it starts) to one CPU, then restore."""
    tasks = [int(tid) for tid in os.listdir("/proc/self/task")]
    before = {tid: os.sched_getaffinity(tid) for tid in tasks}
    chosen = min(os.sched_getaffinity(0)) if cpu is None else cpu
    for tid in tasks:
        with contextlib.suppress(OSError):  # a thread may have ended meanwhile
            os.sched_setaffinity(tid, {chosen})
    try:
        yield chosen
    finally:
        for tid, mask in before.items():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(tid, mask)


def _median_and_spread(values: list[float]) -> tuple[float, str]:
    return statistics.median(values), f"{min(values):.3f}-{max(values):.3f} s"


def throughput(options: BenchOptions) -> list[Measurement]:
    """Events/s from track() to a NullSink on one core, validation off and on."""
    repeats = options.repeats or 3
    results = []
    with one_cpu(options.cpu) as cpu:
        for validate, default_count in ((False, 200_000), (True, 10_000)):
            count = options.events or default_count
            events = make_events(count)
            totals, tracks = [], []
            for _ in range(repeats):
                total, track_only = _through_null_sink(events, validate=validate)
                totals.append(total)
                tracks.append(track_only)
            seconds, spread = _median_and_spread(totals)
            results.append(Measurement(
                benchmark="sdk-throughput",
                case=f"track() -> NullSink, validate={'on' if validate else 'off'}",
                count=count,
                seconds=seconds,
                note=f"1 core (CPU {cpu}); median of {repeats} ({spread}); "
                     f"track() alone {count / statistics.median(tracks):,.0f}/s",
            ))
    return results


def _through_null_sink(events: list[dict[str, Any]], *, validate: bool) -> tuple[float, float]:
    sink = NullSink()
    # A queue that holds the whole run: this measures the pipeline, not the drop policy.
    tracker = Tracker(sink, config=SdkConfig(queue_size=len(events), validate=validate))
    track = tracker.track
    started = time.perf_counter()
    for event in events:
        track(event)
    tracked = time.perf_counter()
    delivered = tracker.flush(timeout=600)
    finished = time.perf_counter()
    tracker.shutdown()
    counters = tracker.counters
    if not delivered or counters.sent != len(events) or sink.records != len(events):
        raise RuntimeError(f"benchmark run lost events: {counters}")
    return finished - started, tracked - started


def kinesis(options: BenchOptions) -> list[Measurement]:
    """The Tracker vs plain put_record and put_records loops, into the emulator's stream."""
    count = options.events or 20_000
    repeats = options.repeats or 1
    events = make_events(count)
    cases: list[tuple[str, Callable[[Any, str, list[dict[str, Any]]], None]]] = [
        ("Tracker + KinesisSink", _send_with_tracker),
        ("loop of put_record", _send_put_record),
        ("loop of put_records (500)", _send_put_records),
    ]
    timings: dict[str, list[float]] = {name: [] for name, _ in cases}
    with _stream(options) as (client, empty_stream, where):
        # Round-robin, not case after case: the emulator's speed drifts (it shares
        # the machine), and drift should not favour whichever case ran first.
        for _ in range(repeats):
            for name, send in cases:
                stream_name = empty_stream()
                started = time.perf_counter()
                send(client, stream_name, events)
                timings[name].append(time.perf_counter() - started)
                arrived = _count_records(client, stream_name)
                if arrived != count:
                    raise RuntimeError(f"{name}: {arrived} of {count} records arrived in {stream_name}")
    results = []
    for name, _ in cases:
        seconds, spread = _median_and_spread(timings[name])
        note = f"{where}, an empty stream per run; all {count:,} read back"
        if repeats > 1:
            note += f"; median of {repeats} ({spread})"
        results.append(Measurement(benchmark="sdk-kinesis", case=name, count=count, seconds=seconds, note=note))
    return results


def _stamped(event: dict[str, Any]) -> bytes:
    return orjson.dumps({**event, "sent_ts": time.time_ns() // 1_000_000}) + b"\n"


def _send_with_tracker(client: Any, stream_name: str, events: list[dict[str, Any]]) -> None:
    failures: list[str] = []
    tracker = Tracker(
        KinesisSink(client, stream_name),
        config=SdkConfig(queue_size=len(events)),
        on_error=lambda subject, reason: failures.append(reason),
    )
    for event in events:
        tracker.track(event)
    tracker.shutdown(timeout=600)
    if failures or tracker.counters.sent != len(events):
        raise RuntimeError(f"tracker did not deliver everything: {tracker.counters}, {failures[:3]}")


def _send_put_record(client: Any, stream_name: str, events: list[dict[str, Any]]) -> None:
    for event in events:
        client.put_record(StreamName=stream_name, Data=_stamped(event), PartitionKey=event["play_session_id"])


def _send_put_records(client: Any, stream_name: str, events: list[dict[str, Any]]) -> None:
    for start in range(0, len(events), 500):
        chunk = events[start:start + 500]
        records = [{"Data": _stamped(e), "PartitionKey": e["play_session_id"]} for e in chunk]
        response = client.put_records(StreamName=stream_name, Records=records)
        if response.get("FailedRecordCount"):
            raise RuntimeError(f"put_records: {response['FailedRecordCount']} entries failed (a plain loop has no retry)")


def _count_records(client: Any, stream_name: str) -> int:
    """Records in the stream now, read from every shard's trim horizon."""
    total = 0
    for shard in client.list_shards(StreamName=stream_name)["Shards"]:
        iterator = client.get_shard_iterator(
            StreamName=stream_name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = client.get_records(ShardIterator=iterator, Limit=10_000)
            total += len(page["Records"])
            if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
                break  # caught up with the shard
            iterator = page.get("NextShardIterator")
    return total


@contextlib.contextmanager
def _stream(options: BenchOptions) -> Iterator[tuple[Any, Callable[[], str], str]]:
    """(kinesis client, a function that gives an empty stream, where) for the run.

    Every case gets an empty stream: moto's puts slow down as a stream fills (a
    put into 25,000 records costs several times one into an empty stream), which
    would penalise whichever case runs last.
    """
    from ottlake.settings import Settings

    if options.endpoint_url:
        settings = Settings.load(aws_endpoint=options.endpoint_url)
        client = settings.aws().client("kinesis")
        made: list[str] = []

        def fresh() -> str:
            _delete_streams(client, made)
            made[:] = [f"ottlake-bench-{uuid.uuid4().hex[:8]}"]
            client.create_stream(StreamName=made[0], ShardCount=settings.stream_shards)
            client.get_waiter("stream_exists").wait(StreamName=made[0], WaiterConfig={"Delay": 0.2, "MaxAttempts": 150})
            return made[0]

        try:
            yield client, fresh, f"emulator at {options.endpoint_url}"
        finally:
            _delete_streams(client, made)
        return

    from ottlake.services import infra, stack

    with tempfile.TemporaryDirectory(prefix="ottlake-bench-") as state_dir:
        settings = Settings.load(aws_endpoint="embedded", embedded_port=_free_port(), state_dir=Path(state_dir))
        with stack.running(settings):
            client = settings.aws().client("kinesis")

            def recreate() -> str:
                _delete_streams(client, [settings.stream_name])
                infra.apply(settings)
                return settings.stream_name

            yield client, recreate, "embedded stack"


def _delete_streams(client: Any, names: list[str]) -> None:
    for name in names:
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            client.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
            client.get_waiter("stream_not_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 150})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
