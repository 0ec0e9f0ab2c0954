"""The simulator's truth against a reference fold of qoe-metrics.md §1-§2.

The fold below is written straight from the spec's tables, independent of the
simulator on purpose: the truth comes from the generative model (what it decided),
the fold from the delivered events alone (deduplicated and sorted by event_ts,
seq), and the cross-check makes the two agree on every column. The fold itself
is pinned by the spec's worked example (§5). Plain Python, no shortcuts.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import pytest

from producers.simulator import FaultRates, SimConfig, Simulation, scenario_incidents, simulate

GAP_MS = 30 * 60_000  # §1: a gap of more than 30 minutes belongs to no state


def fold_session(
    events: Iterable[dict[str, Any]],
    *,
    clock_offset_ms: int = 0,
    watermark_ms: int | None = None,
) -> dict[str, Any]:
    """The play_sessions columns of one session's events (any order, duplicates allowed).

    `clock_offset_ms` stands in for sent_ts - received_ts when deriving event_time
    (player-events.md, Time): event_time = event_ts - offset.
    """
    unique: dict[str, dict[str, Any]] = {}
    for event in events:
        unique.setdefault(event["event_id"], event)  # dedup by event_id
    ordered = sorted(unique.values(), key=lambda e: (e["event_ts"], e["seq"]))

    state, in_ad, seek_from_paused = "idle", False, False
    first_frame = False
    request_before_first_frame = False
    startup: int | None = None
    time = {"starting": 0, "play": 0, "ad": 0, "rebuffering": 0, "seeking": 0, "paused": 0}
    rebuffer_count = seek_count = 0
    bitrate: int | None = None
    played_kbit_ms = 0
    bitrate_play_ms = 0
    upshifts = downshifts = 0
    errors = 0
    fatal_code: str | None = None
    playback_failure = False
    any_fatal = False
    max_playhead: int | None = None
    completed = False
    had_request = False

    previous: dict[str, Any] | None = None
    for event in ordered:
        if previous is not None:
            gap = event["event_ts"] - previous["event_ts"]
            if gap <= GAP_MS:  # the time belongs to the state in force after `previous`
                if state == "starting":
                    time["starting"] += gap
                elif state == "playing" and in_ad:
                    time["ad"] += gap
                elif state == "playing":
                    time["play"] += gap
                    if bitrate is not None:
                        played_kbit_ms += bitrate * gap
                        bitrate_play_ms += gap
                elif state == "rebuffering":
                    time["rebuffering"] += gap
                elif state == "seeking":
                    time["seeking"] += gap
                elif state == "paused":
                    time["paused"] += gap
        previous = event
        if state == "closed":
            continue  # events after closed count only in event_count

        kind = event["event_type"]
        if "playhead_ms" in event:
            max_playhead = event["playhead_ms"] if max_playhead is None else max(max_playhead, event["playhead_ms"])
        if kind == "rendition_change" and bitrate is not None:
            if event["bitrate_kbps"] > bitrate:
                upshifts += 1
            elif event["bitrate_kbps"] < bitrate:
                downshifts += 1
        if "bitrate_kbps" in event:
            bitrate = event["bitrate_kbps"]

        if kind == "play_request":
            had_request = True
            if state == "idle" or (state == "paused" and not first_frame):
                state = "starting"
                if not first_frame:
                    request_before_first_frame = True
        elif kind == "playing":
            state = "playing"
            if not first_frame:
                first_frame = True
                startup = time["starting"] if request_before_first_frame else None
        elif kind == "pause":
            if state in ("starting", "playing", "rebuffering", "seeking"):
                state = "paused"
        elif kind == "seek_start":
            if state in ("playing", "rebuffering", "paused"):
                seek_from_paused = state == "paused"
                state = "seeking"
                seek_count += 1
        elif kind == "seek_end":
            if state == "seeking" and seek_from_paused:
                state = "paused"
        elif kind == "buffer_start":
            if state == "playing" and not in_ad:
                state = "rebuffering"
                rebuffer_count += 1
        elif kind == "buffer_end":
            if state == "rebuffering":
                state = "playing"
        elif kind == "error":
            errors += 1
            if event["error_fatal"]:
                if fatal_code is None:
                    fatal_code = event["error_code"]
                    playback_failure = first_frame
                any_fatal = True
                state = "closed"
        elif kind in ("ended", "view_end"):
            completed = completed or kind == "ended"
            state = "closed"
        elif kind == "ad_break_start":
            in_ad = True
        elif kind == "ad_break_end":
            in_ad = False

    first_event, last_event = ordered[0], ordered[-1]
    end_time = last_event["event_ts"] - clock_offset_ms
    is_final = state == "closed" or (watermark_ms is not None and watermark_ms - end_time > GAP_MS)
    if first_frame:
        outcome = "started"
    elif any_fatal:
        outcome = "start_failure"
    elif is_final and had_request:
        outcome = "exit_before_start"
    elif is_final:
        outcome = "no_attempt"
    else:
        outcome = "in_progress"
    # watch time: time in starting + play + ad + rebuffer + seek (§2, clarified
    # 2026-12-07: the time in starting counts whether or not a first frame came).
    watch = time["starting"] + time["play"] + time["ad"] + time["rebuffering"] + time["seeking"]
    duration = first_event.get("content_duration_ms")
    return {
        "startup_time_ms": startup if first_frame else None,
        "starting_time_ms": time["starting"],
        "play_time_ms": time["play"],
        "ad_time_ms": time["ad"],
        "rebuffer_time_ms": time["rebuffering"],
        "rebuffer_count": rebuffer_count,
        "seek_time_ms": time["seeking"],
        "seek_count": seek_count,
        "pause_time_ms": time["paused"],
        "watch_time_ms": watch,
        "rebuffer_ratio": time["rebuffering"] / watch if watch else None,
        "start_outcome": outcome,
        "playback_failure": playback_failure,
        "error_count": errors,
        "fatal_error_code": fatal_code,
        "played_kbits": played_kbit_ms / 1000,
        "bitrate_play_ms": bitrate_play_ms,
        "avg_bitrate_kbps": played_kbit_ms / bitrate_play_ms if bitrate_play_ms else None,
        "upshift_count": upshifts,
        "downshift_count": downshifts,
        "max_playhead_ms": max_playhead,
        "percent_complete": (min(1.0, max_playhead / duration)
                             if duration and max_playhead is not None else None),
        "completed": completed,
        "event_count": len(ordered),
        "start_time_ms": first_event["event_ts"] - clock_offset_ms,
        "end_time_ms": end_time,
        "is_final": is_final,
    }


# --- the reference fold against the spec's worked example (qoe-metrics.md §5) -----


def _example_events() -> list[dict[str, Any]]:
    rows = [
        (0, "view_start", {}),
        (500, "player_ready", {}),
        (1000, "play_request", {}),
        (2200, "buffer_start", {}),
        (3000, "playing", {"bitrate_kbps": 3000, "playhead_ms": 0}),
        (13000, "heartbeat", {"bitrate_kbps": 3000}),
        (20000, "buffer_start", {}),
        (21500, "buffer_end", {}),
        (30000, "rendition_change", {"bitrate_kbps": 6000}),
        (40000, "pause", {}),
        (50000, "play_request", {}),
        (50400, "playing", {}),
        (60000, "ended", {"playhead_ms": 60000}),
    ]
    return [
        {"event_id": f"e{seq}", "event_type": kind, "event_ts": ts, "seq": seq,
         "content_type": "vod", "content_duration_ms": 60000, **fields}
        for seq, (ts, kind, fields) in enumerate(rows)
    ]


def test_reference_fold_reproduces_the_worked_example() -> None:
    row = fold_session(_example_events())
    assert row["startup_time_ms"] == 2000
    assert row["play_time_ms"] == 17000 + 18500 + 9600 == 45100
    assert (row["rebuffer_time_ms"], row["rebuffer_count"]) == (1500, 1)
    assert row["pause_time_ms"] == 10400
    assert row["watch_time_ms"] == 48600
    assert round(row["rebuffer_ratio"], 7) == 0.0308642
    assert row["played_kbits"] == 194100
    assert row["bitrate_play_ms"] == 45100
    assert round(row["avg_bitrate_kbps"], 2) == 4303.77
    assert (row["upshift_count"], row["downshift_count"]) == (1, 0)
    assert row["start_outcome"] == "started"
    assert row["completed"] is True
    assert row["percent_complete"] == 1.0
    assert row["is_final"] is True
    assert row["event_count"] == 13


def test_reference_fold_ignores_duplicates_and_arrival_order() -> None:
    events = _example_events()
    shuffled = list(reversed(events)) + events[3:6]
    assert fold_session(shuffled) == fold_session(events)


def test_reference_fold_applies_the_edge_rules_of_section_1() -> None:
    def ev(seq: int, ts: int, kind: str, **fields: Any) -> dict[str, Any]:
        return {"event_id": f"x{seq}", "event_type": kind, "event_ts": ts, "seq": seq,
                "content_type": "live", **fields}

    events = [
        ev(0, 0, "view_start"),
        ev(1, 1000, "play_request"),
        ev(2, 1100, "seek_start"),  # during startup: still startup
        ev(3, 1500, "seek_end"),
        ev(4, 2000, "playing", bitrate_kbps=1000),
        ev(5, 3000, "pause"),
        ev(6, 3000 + GAP_MS + 1, "play_request"),  # the gap over 30 min counts for nothing
        ev(7, 3000 + GAP_MS + 501, "playing"),
        ev(8, 3000 + GAP_MS + 1501, "error", error_code="E1", error_fatal=True),
        ev(9, 3000 + GAP_MS + 2501, "view_end", playhead_ms=10**9),  # after closed: counted only
    ]
    row = fold_session(events)
    assert row["startup_time_ms"] == 1000 and row["seek_count"] == 0
    assert row["pause_time_ms"] == 500
    assert row["play_time_ms"] == 1000 + 1000
    assert row["playback_failure"] is True and row["fatal_error_code"] == "E1"
    assert row["max_playhead_ms"] is None and row["event_count"] == 10


# --- the cross-check: model truth == reference fold of the delivered events ----------

START_MS = 1_750_000_000_000
COLUMNS = (
    "startup_time_ms", "starting_time_ms", "play_time_ms", "ad_time_ms", "rebuffer_time_ms", "rebuffer_count",
    "seek_time_ms", "seek_count", "pause_time_ms", "watch_time_ms", "rebuffer_ratio", "start_outcome",
    "playback_failure", "error_count", "fatal_error_code", "played_kbits", "bitrate_play_ms", "avg_bitrate_kbps",
    "upshift_count", "downshift_count", "max_playhead_ms", "percent_complete", "completed", "event_count",
    "start_time_ms", "end_time_ms", "is_final",
)


@pytest.fixture(scope="module")
def long_run() -> Simulation:
    """Long enough for away pauses (> 30 min) and final-by-watermark sessions."""
    minutes = 75
    faults = FaultRates(duplicate=0.05, out_of_order=0.05, late=0.02, skew=0.3)
    return simulate(SimConfig(viewers=150, minutes=minutes, seed=7, start_ms=START_MS, faults=faults,
                              incidents=scenario_incidents("default", minutes=minutes)))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9)
    return a == b


def test_truth_agrees_with_the_reference_fold_on_every_column(long_run: Simulation) -> None:
    delivered: dict[int, list[Any]] = defaultdict(list)
    for delivery in long_run.deliveries:
        delivered[delivery.session_index].append(delivery)
    assert len(long_run.sessions) >= 300
    mismatches = []
    for session in long_run.sessions:
        deliveries = delivered[session.index]
        offsets = {d.clock_offset_ms for d in deliveries}
        assert len(offsets) == 1  # one device clock per session
        row = fold_session([d.event for d in deliveries], clock_offset_ms=offsets.pop(),
                           watermark_ms=long_run.config.end_ms)
        for column in COLUMNS:
            if not _same(row[column], session.truth[column]):
                mismatches.append((session.index, column, row[column], session.truth[column]))
    assert mismatches == []
