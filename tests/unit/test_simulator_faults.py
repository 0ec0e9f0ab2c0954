"""Delivery faults: duplicates, reordering, late events and skewed clocks, at their rates."""

from __future__ import annotations

from collections import defaultdict
from random import Random

import pytest

from ottlake.errors import ConfigError
from producers.simulator import Delivery, FaultRates, SimConfig, Simulation, simulate
from producers.simulator.faults import draw_skew_ms, plan_deliveries

START_MS = 1_750_000_000_000
ROUGH = FaultRates(duplicate=0.05, out_of_order=0.04, late=0.03, skew=0.3, late_delay_ms=10 * 60_000)
NONE = FaultRates(duplicate=0, out_of_order=0, late=0, skew=0)


def _sim(faults: FaultRates, *, viewers: int = 200) -> Simulation:
    return simulate(SimConfig(viewers=viewers, minutes=30, seed=21, start_ms=START_MS, faults=faults))


@pytest.fixture(scope="module")
def rough() -> Simulation:
    return _sim(ROUGH)


def _by_session(deliveries: list[Delivery]) -> dict[int, list[Delivery]]:
    out: dict[int, list[Delivery]] = defaultdict(list)
    for d in deliveries:
        out[d.session_index].append(d)
    return out


def _reordered(sim: Simulation) -> tuple[int, int, int]:
    """(events whose first copy arrives after a later event of its session,
    of which planned out_of_order, all events)."""
    reordered = planned = total = 0
    for deliveries in _by_session(sim.deliveries).values():
        highest = -1
        for d in deliveries:
            if d.copy:
                continue
            total += 1
            if d.seq < highest:
                reordered += 1
                planned += d.kind == "out_of_order"
            highest = max(highest, d.seq)
    return reordered, planned, total


def test_rates_come_out_roughly_as_configured(rough: Simulation) -> None:
    events = sum(len(s.events) for s in rough.sessions)
    counts = rough.fault_counts()
    assert events > 20_000
    assert counts["duplicate"] / events == pytest.approx(0.05, abs=0.01)
    assert counts["late"] / events == pytest.approx(0.03, abs=0.008)
    # Drawn at 4% of the events that are not late; a few land back in order.
    assert counts["out_of_order"] / events == pytest.approx(0.04 * 0.97, abs=0.008)
    reordered, planned, total = _reordered(rough)
    # Arrival order is broken by the reordered events and by the late ones.
    assert reordered / total == pytest.approx(0.04 * 0.97 + 0.03, abs=0.015)
    assert planned / counts["out_of_order"] > 0.9
    assert rough.skewed_viewers / rough.viewers == pytest.approx(0.3, abs=0.08)


def test_zero_rates_mean_no_fault_at_all() -> None:
    clean = _sim(NONE, viewers=60)
    assert clean.fault_counts() == {"on_time": len(clean.deliveries), "duplicate": 0, "late": 0, "out_of_order": 0}
    assert clean.skewed_viewers == 0
    assert _reordered(clean)[0] == 0
    for session in clean.sessions:
        assert session.truth["clock_skew_ms"] == 0
        assert session.events[0]["event_ts"] == session.truth["start_time_ms"]
    assert [d.event for d in clean.deliveries if d.session_index == 0] == clean.sessions[0].events


def test_duplicates_are_the_same_event_sent_again_later(rough: Simulation) -> None:
    firsts = {(d.session_index, d.seq): d for d in rough.deliveries if d.copy == 0}
    duplicates = [d for d in rough.deliveries if d.copy == 1]
    assert duplicates
    for dup in duplicates:
        original = firsts[(dup.session_index, dup.seq)]
        assert dup.event is original.event  # same event_id, same content
        assert dup.at_ms >= original.at_ms


def test_late_events_are_held_back_to_the_delay_or_the_window_end(rough: Simulation) -> None:
    late = [d for d in rough.deliveries if d.kind == "late"]
    assert late
    for d in late:
        true_ts = d.event["event_ts"] - d.clock_offset_ms
        assert d.at_ms == min(true_ts + ROUGH.late_delay_ms, rough.config.end_ms)


def test_nothing_is_sent_before_it_happened_and_the_plan_is_sorted(rough: Simulation) -> None:
    assert all(d.at_ms >= d.event["event_ts"] - d.clock_offset_ms for d in rough.deliveries)
    keys = [d.sort_key for d in rough.deliveries]
    assert keys == sorted(keys)


def test_skew_is_constant_per_device_and_leaves_durations_alone() -> None:
    straight = _sim(FaultRates(duplicate=0, out_of_order=0, late=0, skew=0), viewers=60)
    skewed = _sim(FaultRates(duplicate=0, out_of_order=0, late=0, skew=1.0), viewers=60)
    offsets_per_viewer: dict[int, set[int]] = defaultdict(set)
    for a, b in zip(straight.sessions, skewed.sessions, strict=True):
        skew = b.truth["clock_skew_ms"]
        assert skew != 0 and 30_000 <= abs(skew) <= 3 * 3_600_000
        offsets_per_viewer[b.viewer_index].add(skew)
        assert [e["event_ts"] + skew for e in a.events] == [e["event_ts"] for e in b.events]
        assert {k: v for k, v in a.truth.items() if k != "clock_skew_ms"} == {
            k: v for k, v in b.truth.items() if k != "clock_skew_ms"}
    assert all(len(offsets) == 1 for offsets in offsets_per_viewer.values())
    assert {d.clock_offset_ms for d in skewed.deliveries} == {s.truth["clock_skew_ms"] for s in skewed.sessions}


def test_reordered_event_goes_right_after_its_successor() -> None:
    events = [{"event_ts": 1_000 * i, "seq": i} for i in range(2)]
    plan = plan_deliveries(events, session_index=0, skew_ms=0, rng=Random(1),
                           rates=FaultRates(duplicate=0, out_of_order=1.0, late=0, skew=0), window_end_ms=10_000)
    assert [d.seq for d in sorted(plan, key=lambda d: d.sort_key)] == [1, 0]
    assert [(d.kind, d.at_ms) for d in plan] == [("out_of_order", 1_000), ("on_time", 1_000)]  # the last cannot move


def test_skew_draws_and_bad_rates() -> None:
    rng = Random(3)
    assert all(draw_skew_ms(rng, 0.0) == 0 for _ in range(100))
    assert all(draw_skew_ms(rng, 1.0) != 0 for _ in range(100))
    with pytest.raises(ConfigError, match="duplicate rate"):
        FaultRates(duplicate=1.5)
