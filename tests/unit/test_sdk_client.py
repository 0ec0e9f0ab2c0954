"""The Tracker as a player uses it: track, flush, shutdown, counters, on_error."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from ottlake.errors import ConfigError
from producers.events import PlaySession
from producers.sdk import Counters, FileSink, MemorySink, NullSink, Record, SdkConfig, Sink, Tracker
from producers.sdk import client as client_module
from schemas import validate_event

NOW = 1_700_000_000_000
# Long enough that nothing leaves on the timer during a test: flush and
# shutdown are what send, which makes the batches deterministic.
QUIET = SdkConfig(flush_interval_s=60)


def session(n: int = 0) -> PlaySession:
    return PlaySession(
        viewer_id=f"viewer-{n}", content_id="title-1", content_type="vod", play_session_id=f"ps-{n}",
        clock=lambda: NOW - 1_000,
    )


class BlockedSink:
    """Holds the worker inside send() until released, like a hung network."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.delivered: list[Record] = []

    def send(self, records: Sequence[Record]) -> Sequence[str | None]:
        self.entered.set()
        self.release.wait(10)
        self.delivered.extend(records)
        return [None] * len(records)


class Errors(list):
    def __call__(self, subject: Any, reason: str) -> None:
        self.append((subject, reason))


def test_sinks_satisfy_the_protocol() -> None:
    for sink in (MemorySink(), NullSink(), FileSink("unused.jsonl"), BlockedSink()):
        assert isinstance(sink, Sink)


def test_a_full_queue_drops_and_counts_and_never_raises_or_blocks() -> None:
    sink = BlockedSink()
    # One-record batches, so the worker is stuck in send() holding exactly one event.
    tracker = Tracker(sink, config=SdkConfig(queue_size=2, max_batch_records=1, flush_interval_s=60))
    ps = session()
    try:
        assert tracker.track(ps.view_start()) and tracker.track(ps.player_ready())
        assert sink.entered.wait(5)  # the first is in send, the second waits in the queue
        outcomes, slowest = [], 0.0
        for _ in range(10):
            started = time.perf_counter()
            outcomes.append(tracker.track(ps.heartbeat()))
            slowest = max(slowest, time.perf_counter() - started)
        assert outcomes == [True] + [False] * 9  # one more fits the queue of two
        assert slowest < 1.0  # a sanity bound only: track() did not wait for the sink
        assert tracker.counters.dropped == 9
        assert tracker.flush(timeout=0.05) is False  # still stuck
    finally:
        sink.release.set()
    assert tracker.flush(timeout=5)
    tracker.shutdown(timeout=5)
    assert tracker.counters == Counters(queued=3, sent=3, retried=0, failed=0, dropped=9, invalid=0)
    assert [orjson.loads(r.data)["seq"] for r in sink.delivered] == [0, 1, 2]


def test_flush_delivers_everything_in_order() -> None:
    sink = MemorySink()
    tracker = Tracker(sink, config=QUIET)
    ps = session()
    events = [ps.heartbeat(playhead_ms=i) for i in range(1_234)]
    assert all(tracker.track(e) for e in events)
    assert tracker.flush(timeout=10)
    assert [e["event_id"] for e in sink.events()] == [e["event_id"] for e in events]
    assert [len(call) for call in sink.calls] == [500, 500, 234]
    assert tracker.counters.sent == 1_234 and tracker.counters.in_flight == 0
    tracker.shutdown()


def test_the_interval_sends_a_partial_batch_without_a_flush() -> None:
    sink = MemorySink()
    tracker = Tracker(sink, config=SdkConfig(flush_interval_s=0.05))
    tracker.track(session().view_start())
    deadline = time.monotonic() + 5
    while not sink.records and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(sink.records) == 1
    tracker.shutdown()


def test_shutdown_delivers_stops_the_worker_and_later_tracks_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    registered: list[Any] = []
    monkeypatch.setattr(client_module.atexit, "register", registered.append)
    monkeypatch.setattr(client_module.atexit, "unregister", registered.remove)
    sink = MemorySink()
    tracker = Tracker(sink, config=QUIET)
    assert registered == [tracker._at_exit]
    ps = session()
    for _ in range(700):
        tracker.track(ps.heartbeat())
    tracker.shutdown(timeout=10)

    assert registered == []
    assert not tracker.running
    assert len(sink.records) == 700
    assert tracker.track(ps.heartbeat()) is False
    assert tracker.counters == Counters(queued=700, sent=700, retried=0, failed=0, dropped=1, invalid=0)
    tracker.shutdown()  # twice is fine
    assert tracker.flush(timeout=1)


def test_context_manager_shuts_down_on_exit() -> None:
    sink = MemorySink()
    with Tracker(sink, config=QUIET) as tracker:
        tracker.track(session().view_start())
    assert not tracker.running and len(sink.records) == 1


def test_records_are_compact_json_lines_keyed_by_session_and_stamped() -> None:
    sink = MemorySink()
    tracker = Tracker(sink, config=QUIET, clock=lambda: NOW)
    ps = session(7)
    plain, relayed, null_stamp = ps.view_start(), {**ps.heartbeat(), "sent_ts": NOW - 42}, {**ps.pause(), "sent_ts": None}
    tracker.track(plain)
    tracker.track(relayed, clock_offset_ms=-5_000)  # its own sent_ts wins
    tracker.track(ps.playing(), clock_offset_ms=-5_000)
    tracker.track(null_stamp)
    tracker.shutdown(timeout=5)

    data = [record.data for record in sink.records]
    assert all(d.endswith(b"\n") and d.count(b"\n") == 1 for d in data)
    decoded = [json.loads(d) for d in data]
    assert [json.dumps(e, separators=(",", ":"), ensure_ascii=False).encode() + b"\n" for e in decoded] == data
    assert [e["sent_ts"] for e in decoded] == [NOW, NOW - 42, NOW - 5_000, NOW]
    assert decoded[0] == {**plain, "sent_ts": NOW}
    assert {record.partition_key for record in sink.records} == {"ps-7"}


def test_validation_on_counts_invalid_events_and_hands_over_their_violations() -> None:
    sink, errors = MemorySink(), Errors()
    tracker = Tracker(sink, config=dataclasses.replace(QUIET, validate=True), on_error=errors, clock=lambda: NOW)
    ps = session()
    good = ps.view_start()
    bad = {**ps.heartbeat(), "event_id": "not-a-uuid", "bitrate_kbps": "fast"}
    del bad["seq"]
    tracker.track(good)
    tracker.track(bad)
    tracker.shutdown(timeout=5)

    assert tracker.counters == Counters(queued=2, sent=1, retried=0, failed=0, dropped=0, invalid=1)
    assert sink.events() == [{**good, "sent_ts": NOW}]
    [(subject, reason)] = errors
    assert subject == bad
    violations = validate_event(bad)
    assert len(violations) == 3
    assert reason.startswith("invalid_event: ")
    for violation in violations:
        assert f"{violation.field}={violation.reason}" in reason


def test_validation_off_sends_what_it_is_given() -> None:
    sink = MemorySink()
    tracker = Tracker(sink, config=QUIET)
    tracker.track({"play_session_id": "ps", "anything": 1})
    tracker.shutdown(timeout=5)
    assert tracker.counters.sent == 1 and tracker.counters.invalid == 0


def test_events_that_cannot_become_records_go_to_on_error_with_a_reason() -> None:
    sink, errors = MemorySink(), Errors()
    tracker = Tracker(sink, config=QUIET, on_error=errors)
    no_key = {"event_id": "e1"}
    unserialisable = {"play_session_id": "ps", "x": object()}
    too_large = {"play_session_id": "ps", "pad": "p" * (1024 * 1024)}
    for event in (no_key, unserialisable, too_large, 42):
        tracker.track(event)  # type: ignore[arg-type]
    tracker.track({"play_session_id": "ps"}, clock_offset_ms="soon")  # type: ignore[arg-type]
    tracker.shutdown(timeout=5)

    reasons = [reason.split(":")[0] for _, reason in errors]
    assert reasons == [
        "missing_partition_key", "unserialisable", "record_too_large", "unserialisable", "invalid_clock_offset",
    ]
    assert errors[0][0] == no_key and errors[1][0] is unserialisable
    assert isinstance(errors[2][0], Record) and errors[2][0].partition_key == "ps"
    assert tracker.counters == Counters(queued=5, sent=0, retried=0, failed=5, dropped=0, invalid=0)


def test_a_failing_on_error_or_sink_does_not_stop_the_worker() -> None:
    def explode(subject: Any, reason: str) -> None:
        raise RuntimeError("callback bug")

    sink = MemorySink(script=[RuntimeError("sink bug")])
    tracker = Tracker(sink, config=QUIET, on_error=explode)
    tracker.track({"play_session_id": "ps", "n": 1})
    assert tracker.flush(timeout=5)
    tracker.track({"play_session_id": "ps", "n": 2})
    tracker.shutdown(timeout=5)
    assert [e["n"] for e in sink.events()] == [2]
    assert (tracker.counters.failed, tracker.counters.sent) == (1, 1)


def test_flush_from_on_error_returns_instead_of_waiting_for_itself() -> None:
    seen: list[bool] = []
    tracker: Tracker

    def on_error(subject: Any, reason: str) -> None:
        seen.append(tracker.flush(timeout=5))

    tracker = Tracker(MemorySink(), config=QUIET, on_error=on_error)
    tracker.track({"event_id": "no key"})
    started = time.monotonic()
    assert tracker.flush(timeout=5)
    assert seen == [False] and time.monotonic() - started < 1.0
    tracker.shutdown()


def test_file_sink_writes_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    ps = session()
    events = [ps.view_start(), ps.playing(), ps.view_end()]
    with Tracker(FileSink(path), config=QUIET, clock=lambda: NOW) as tracker:
        for event in events:
            tracker.track(event)
        assert tracker.flush(timeout=5)
        tracker.track(ps.heartbeat())  # a second batch appends
    lines = path.read_bytes().splitlines()
    assert [orjson.loads(line) for line in lines[:3]] == [{**e, "sent_ts": NOW} for e in events]
    assert len(lines) == 4


def test_many_threads_track_concurrently_and_all_arrive_in_per_key_order() -> None:
    sink = MemorySink()
    tracker = Tracker(sink, config=SdkConfig(flush_interval_s=0.01))
    threads, per_thread = 4, 5_000

    def player(n: int) -> None:
        sessions = [session(n * 10), session(n * 10 + 1)]
        for i in range(per_thread):
            assert tracker.track(sessions[i % 2].heartbeat(playhead_ms=i))

    workers = [threading.Thread(target=player, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    assert tracker.flush(timeout=20)
    tracker.shutdown()

    events = sink.events()
    assert len(events) == threads * per_thread
    assert len({e["event_id"] for e in events}) == threads * per_thread
    seqs: dict[str, list[int]] = defaultdict(list)
    for event in events:
        seqs[event["play_session_id"]].append(event["seq"])
    assert len(seqs) == 2 * threads
    assert all(s == list(range(per_thread // 2)) for s in seqs.values())
    counters = tracker.counters
    assert counters.queued == counters.sent == threads * per_thread


def test_builder_events_are_valid_when_delivered() -> None:
    sink = MemorySink()
    tracker = Tracker(sink, config=dataclasses.replace(QUIET, validate=True))
    ps = session()
    tracker.track(ps.view_start())
    tracker.track(ps.error(code="E1", message="boom", fatal=True))
    tracker.shutdown(timeout=5)
    assert tracker.counters.sent == 2
    assert all(validate_event(e) == [] for e in sink.events())


def test_config_refuses_what_put_records_cannot_take() -> None:
    for bad in ({"max_batch_records": 501}, {"max_batch_bytes": 6 * 1024 * 1024},
                {"max_record_bytes": 2 * 1024 * 1024}, {"queue_size": 0}, {"flush_interval_s": 0},
                {"backoff_base_s": 2.0, "backoff_cap_s": 1.0}):
        with pytest.raises(ConfigError):
            SdkConfig(**bad)
    with pytest.raises(TypeError):
        SdkConfig(100)  # type: ignore[misc]  # keyword-only
    with pytest.raises(dataclasses.FrozenInstanceError):
        SdkConfig().validate = True  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Counters().sent = 1  # type: ignore[misc]
