"""The emitter: pacing against an injected clock, and delivery through the real SDK."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest

from producers.sdk import MemorySink, SdkConfig, Tracker
from producers.simulator import FaultRates, Pacer, SimConfig, Simulation, emit, simulate

START_MS = 1_750_000_000_000
MINUTES = 10
END_MS = START_MS + MINUTES * 60_000


class FakeClock:
    """Wall epoch ms that only moves when someone sleeps."""

    def __init__(self, now: int) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> int:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += round(seconds * 1000)


class RecordingTracker:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.tracked: list[tuple[int, Mapping[str, Any], int]] = []
        self.flushes = 0

    def track(self, event: Mapping[str, Any], *, clock_offset_ms: int = 0) -> bool:
        self.tracked.append((self.clock(), event, clock_offset_ms))
        return True

    def flush(self, timeout: float | None = None) -> bool:
        self.flushes += 1
        return True


@pytest.fixture(scope="module")
def sim() -> Simulation:
    faults = FaultRates(duplicate=0.05, out_of_order=0.05, late=0.05, skew=0.5)
    return simulate(SimConfig(viewers=15, minutes=MINUTES, seed=4, start_ms=START_MS, faults=faults))


def test_backfill_sends_everything_at_once_in_plan_order(sim: Simulation) -> None:
    clock = FakeClock(END_MS + 5_000)
    tracker = RecordingTracker(clock)
    report = emit(sim.deliveries, tracker, pacer=Pacer(None, START_MS, clock=clock, sleep=clock.sleep),
                  flush_every=100)
    assert clock.slept == []
    assert [(e, o) for _, e, o in tracker.tracked] == [(d.event, d.clock_offset_ms) for d in sim.deliveries]
    assert report.tracked == len(sim.deliveries) and report.refused == 0
    assert report.kinds == dict(Counter(d.kind for d in sim.deliveries))
    assert tracker.flushes == len(sim.deliveries) // 100 + 1  # back-pressure, then the final flush


def test_paced_sending_follows_the_speed_and_never_precedes_the_event(sim: Simulation) -> None:
    speed = 60.0
    run_start = END_MS + 5_000
    clock = FakeClock(run_start)
    tracker = RecordingTracker(clock)
    emit(sim.deliveries, tracker, pacer=Pacer(speed, START_MS, clock=clock, sleep=clock.sleep))
    for (sent_at, event, offset), delivery in zip(tracker.tracked, sim.deliveries, strict=True):
        slot = run_start + (delivery.at_ms - START_MS) / speed
        assert slot <= sent_at < slot + 1  # on its slot, to the ms
        assert sent_at >= event["event_ts"] - offset  # never before it happened
    duration_ms = tracker.tracked[-1][0] - run_start
    assert duration_ms <= MINUTES * 60_000 / speed + 1
    assert duration_ms > 0.9 * (sim.deliveries[-1].at_ms - START_MS) / speed


def test_a_window_reaching_into_the_future_waits_for_real_time(sim: Simulation) -> None:
    clock = FakeClock(START_MS)  # the run starts when the window does
    tracker = RecordingTracker(clock)
    emit(sim.deliveries, tracker, pacer=Pacer(None, START_MS, clock=clock, sleep=clock.sleep))
    assert clock.slept
    assert all(sent_at >= d.at_ms for (sent_at, _, _), d in zip(tracker.tracked, sim.deliveries, strict=True))


def test_speed_changes_when_but_not_what_is_sent(sim: Simulation) -> None:
    sent = []
    for speed in (None, 5.0, 300.0):
        clock = FakeClock(END_MS)
        tracker = RecordingTracker(clock)
        emit(sim.deliveries, tracker, pacer=Pacer(speed, START_MS, clock=clock, sleep=clock.sleep))
        sent.append([(e, o) for _, e, o in tracker.tracked])
    assert sent[0] == sent[1] == sent[2]


def test_pacer_rejects_a_non_positive_speed() -> None:
    with pytest.raises(ValueError):
        Pacer(0, START_MS)


def test_through_the_sdk_sent_ts_recovers_the_true_time(sim: Simulation) -> None:
    wall = END_MS + 60_000
    sink = MemorySink()
    tracker = Tracker(sink, config=SdkConfig(validate=True, flush_interval_s=0.05), clock=lambda: wall)
    try:
        report = emit(sim.deliveries, tracker, pacer=Pacer(None, START_MS, clock=lambda: wall))
    finally:
        tracker.shutdown(timeout=10)
    assert report.flushed
    counters = tracker.counters
    assert (counters.sent, counters.invalid, counters.failed, counters.dropped) == (len(sim.deliveries), 0, 0, 0)
    events = sink.events()
    assert [e["event_id"] for e in events] == [d.event["event_id"] for d in sim.deliveries]
    for record, event, delivery in zip(sink.records, events, sim.deliveries, strict=True):
        assert record.partition_key == event["play_session_id"]
        assert event["sent_ts"] == wall + delivery.clock_offset_ms
        # player-events.md, Time: event_time = received_ts - (sent_ts - event_ts)
        event_time = wall - (event["sent_ts"] - event["event_ts"])
        assert event_time == event["event_ts"] - delivery.clock_offset_ms
    truth_start = {s.truth["play_session_id"]: s.truth["start_time_ms"] for s in sim.sessions}
    for event in events:
        if event["event_type"] == "view_start":
            assert wall - (event["sent_ts"] - event["event_ts"]) == truth_start[event["play_session_id"]]
    duplicates = Counter(e["event_id"] for e in events)
    assert sum(n - 1 for n in duplicates.values()) == sim.fault_counts()["duplicate"] > 0
