"""The generative model: determinism, valid events, and every QoE phenomenon."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from producers.simulator import FaultRates, SimConfig, Simulation, scenario_incidents, simulate
from producers.simulator.timeline import HEARTBEAT_MS
from producers.simulator.truth import TRUTH_FIELDS
from schemas import validate_event

START_MS = 1_750_000_000_000


def _run(seed: int, *, viewers: int = 40, minutes: int = 20, faults: FaultRates | None = None) -> Simulation:
    return simulate(SimConfig(viewers=viewers, minutes=minutes, seed=seed, start_ms=START_MS,
                              faults=faults or FaultRates(),
                              incidents=scenario_incidents("default", minutes=minutes)))


def _plan(sim: Simulation) -> list[tuple[Any, ...]]:
    return [(d.at_ms, d.kind, d.clock_offset_ms, d.event) for d in sim.deliveries]


@pytest.fixture(scope="module")
def moderate() -> Simulation:
    minutes = 75
    return simulate(SimConfig(viewers=150, minutes=minutes, seed=3, start_ms=START_MS,
                              incidents=scenario_incidents("default", minutes=minutes)))


def test_same_seed_gives_identical_events_truth_and_plan() -> None:
    first, second = _run(5), _run(5)
    assert [s.events for s in first.sessions] == [s.events for s in second.sessions]
    assert [s.truth for s in first.sessions] == [s.truth for s in second.sessions]
    assert _plan(first) == _plan(second)


def test_different_seed_or_start_gives_different_events() -> None:
    base = _run(5)
    other_seed = _run(6)
    assert {e["event_id"] for s in base.sessions for e in s.events}.isdisjoint(
        e["event_id"] for s in other_seed.sessions for e in s.events)
    later = simulate(SimConfig(viewers=40, minutes=20, seed=5, start_ms=START_MS + 60_000))
    assert [e["event_ts"] for e in later.sessions[0].events] != [e["event_ts"] for e in base.sessions[0].events]


def test_fault_rates_change_the_deliveries_but_not_the_sessions() -> None:
    calm = _run(5, faults=FaultRates(duplicate=0, out_of_order=0, late=0, skew=0))
    rough = _run(5, faults=FaultRates(duplicate=0.2, out_of_order=0.2, late=0.1, skew=0))
    assert [s.events for s in calm.sessions] == [s.events for s in rough.sessions]
    assert [s.truth for s in calm.sessions] == [s.truth for s in rough.sessions]
    assert len(rough.deliveries) > len(calm.deliveries)


def test_every_event_is_valid_and_ids_are_unique() -> None:
    sim = _run(9)
    events = [e for s in sim.sessions for e in s.events]
    assert len(events) > 1_000
    invalid = [(e["event_type"], v) for e in events if (v := validate_event(e))]
    assert invalid == []
    assert len({e["event_id"] for e in events}) == len(events)
    assert len({s.truth["play_session_id"] for s in sim.sessions}) == len(sim.sessions)


def test_seq_counts_from_zero_and_time_never_goes_back(moderate: Simulation) -> None:
    for session in moderate.sessions:
        events = session.events
        assert [e["seq"] for e in events] == list(range(len(events)))
        assert all(a["event_ts"] <= b["event_ts"] for a, b in zip(events, events[1:]))
        assert {e["play_session_id"] for e in events} == {session.truth["play_session_id"]}
        assert events[0]["event_type"] == "view_start"
        assert session.truth["event_count"] == len(events)


def test_no_event_after_the_window(moderate: Simulation) -> None:
    end = moderate.config.end_ms
    for session in moderate.sessions:
        skew = session.truth["clock_skew_ms"]
        assert max(e["event_ts"] - skew for e in session.events) <= end
        assert min(e["event_ts"] - skew for e in session.events) >= moderate.config.start_ms


def test_truth_records_have_every_field(moderate: Simulation) -> None:
    assert all(list(s.truth) == list(TRUTH_FIELDS) for s in moderate.sessions)


def _events_before_first_playing(events: list[dict[str, Any]]) -> list[str]:
    kinds = [e["event_type"] for e in events]
    return kinds[: kinds.index("playing")] if "playing" in kinds else kinds


def test_every_phenomenon_appears(moderate: Simulation) -> None:
    truths = [s.truth for s in moderate.sessions]
    outcomes = Counter(t["start_outcome"] for t in truths)
    found = {
        "stall": sum(t["rebuffer_count"] > 0 for t in truths),
        "seek": sum(t["seek_count"] > 0 for t in truths),
        "seek while paused": sum(any(x["from_paused"] for x in t["seeks"]) for t in truths),
        "seek during startup": sum("seek_start" in _events_before_first_playing(s.events)
                                   for s in moderate.sessions),
        "startup buffering": sum("buffer_start" in _events_before_first_playing(s.events)
                                 for s in moderate.sessions),
        "pause": sum(t["pause_time_ms"] > 0 for t in truths),
        "away pause": sum(any(p["away"] for p in t["pauses"]) for t in truths),
        "upshift": sum(t["upshift_count"] > 0 for t in truths),
        "downshift": sum(t["downshift_count"] > 0 for t in truths),
        "started": outcomes["started"],
        "start failure": outcomes["start_failure"],
        "exit before start": outcomes["exit_before_start"],
        "no attempt": outcomes["no_attempt"],
        "playback failure": sum(t["playback_failure"] for t in truths),
        "warning": sum(any(not e["fatal"] for e in t["errors"]) for t in truths),
        "business error": sum(any(e["category"] == "business" for e in t["errors"]) for t in truths),
        "pre-roll": sum(t["ad_time_ms"] > 0 for t in truths),
        "completed": sum(t["completed"] for t in truths),
        "open at the end": sum(not t["closed"] for t in truths),
        "final by watermark": sum(t["is_final"] and not t["closed"] for t in truths),
        "live": sum(t["content_type"] == "live" for t in truths),
        "exit during stall": sum(any(x["ending"] == "exit" for x in t["stalls"]) for t in truths),
    }
    assert {name: count for name, count in found.items() if count == 0} == {}
    assert {t["device_type"] for t in truths} == {"tv", "mobile", "tablet", "desktop", "console"}
    assert len({t["cdn"] for t in truths}) >= 3
    assert all(re.fullmatch(r"[A-Z]{2}", t["country"]) for t in truths)
    assert {t["connection_type"] for t in truths} == {"ethernet", "wifi", "cellular"}


def test_preroll_events_come_in_the_contract_order(moderate: Simulation) -> None:
    checked = 0
    for session in moderate.sessions:
        kinds = [e["event_type"] for e in session.events]
        if "ad_break_end" not in kinds:
            continue
        window = kinds[kinds.index("ad_break_start"): kinds.index("ad_break_end") + 1]
        core = [k for k in window if k in ("ad_break_start", "ad_start", "playing", "ad_end", "ad_break_end")]
        assert core[:3] == ["ad_break_start", "ad_start", "playing"] and core[-2:] == ["ad_end", "ad_break_end"]
        checked += 1
    assert checked > 10


def test_heartbeats_every_10_s_while_open_and_not_paused(moderate: Simulation) -> None:
    spacings: Counter[int] = Counter()
    for session in moderate.sessions:
        paused = closed = False
        last_heartbeat = None
        for before, after in zip(session.events, session.events[1:]):
            kind = before["event_type"]
            if kind == "pause":
                paused, last_heartbeat = True, None
            elif kind == "playing":
                paused = False
            elif kind in ("view_end", "ended") or (kind == "error" and before["error_fatal"]):
                closed = True
            if not paused and not closed:
                assert after["event_ts"] - before["event_ts"] <= HEARTBEAT_MS
            if after["event_type"] == "heartbeat":
                assert not paused and not closed
                assert {"playhead_ms", "buffer_ms"} <= after.keys()
                if last_heartbeat is not None:
                    spacings[after["event_ts"] - last_heartbeat] += 1
                last_heartbeat = after["event_ts"]
    assert set(spacings) == {HEARTBEAT_MS} and spacings[HEARTBEAT_MS] > 1_000


def test_content_bitrate_is_carried_by_the_first_content_playing(moderate: Simulation) -> None:
    for session in moderate.sessions:
        if session.truth["bitrate_play_ms"] == 0:
            continue
        carrying = [e for e in session.events if "bitrate_kbps" in e]
        first = carrying[0]
        assert first["event_type"] == "playing"
        first_rendition = session.truth["renditions"][0]
        assert (first["bitrate_kbps"], first["video_width"], first["video_height"]) == (
            first_rendition["bitrate_kbps"], first_rendition["width"], first_rendition["height"])


def test_truth_totals_match_their_detail_lists(moderate: Simulation) -> None:
    for t in (s.truth for s in moderate.sessions):
        assert t["rebuffer_time_ms"] == sum(x["counted_ms"] for x in t["stalls"])
        assert t["rebuffer_count"] == len(t["stalls"])
        assert t["seek_time_ms"] == sum(x["counted_ms"] for x in t["seeks"])
        assert t["pause_time_ms"] == sum(x["counted_ms"] for x in t["pauses"])
        assert t["play_time_ms"] == sum(r["play_ms"] for r in t["renditions"])
        assert t["played_kbits"] * 1000 == pytest.approx(sum(r["bitrate_kbps"] * r["play_ms"] for r in t["renditions"]))
        assert t["error_count"] == len(t["errors"])
        assert t["upshift_count"] + t["downshift_count"] == len(t["shifts"])
        assert all(p["counted_ms"] == 0 for p in t["pauses"] if p["away"])
        assert all(p["planned_ms"] <= 20 * 60_000 for p in t["pauses"] if not p["away"] and "planned_ms" in p)
