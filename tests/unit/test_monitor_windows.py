"""The live windows' metric rules on hand-built event sequences (qoe-metrics.md §1, §2, §4)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from consumers.monitor import sketch
from consumers.monitor.rows import WindowRow, merge_rows
from consumers.monitor.windows import Monitor

T0 = 1_772_366_400_000  # a minute boundary
MIN = 60_000
_ids = itertools.count()


def ev(session: str, seq: int, ts: int, event_type: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": f"{session}-{seq}-{next(_ids)}", "play_session_id": session, "seq": seq,
            "event_ts": T0 + ts, "event_type": event_type, "cdn": "cdn-a", "device_type": "tv",
            "content_id": "title-1", **fields}


def run(*sessions: list[dict[str, Any]], lateness_ms: int = 0) -> dict[tuple[str, int], WindowRow]:
    """Feed the events in time order, close everything; rows by (series, minute)."""
    monitor = Monitor(lateness_ms=lateness_ms)
    for event in sorted((e for events in sessions for e in events), key=lambda e: e["event_ts"]):
        assert monitor.add(event, event["event_ts"])
    rows = monitor.close_all()
    return {(row.series, (row.window_start_ms - T0) // MIN): row for row in rows}


def worked_example(session: str = "s1") -> list[dict[str, Any]]:
    """qoe-metrics.md §5, shifted so that it straddles the first minute boundary."""
    rows = [(0, "view_start", {}), (500, "player_ready", {}), (1000, "play_request", {}),
            (2200, "buffer_start", {}), (3000, "playing", {"bitrate_kbps": 3000, "playhead_ms": 0}),
            (13000, "heartbeat", {"bitrate_kbps": 3000}), (20000, "buffer_start", {}), (21500, "buffer_end", {}),
            (30000, "rendition_change", {"bitrate_kbps": 6000}), (40000, "pause", {}),
            (50000, "play_request", {}), (50400, "playing", {}), (60000, "ended", {"playhead_ms": 60000})]
    return [ev(session, i, 30_000 + ts, kind, **fields) for i, (ts, kind, fields) in enumerate(rows)]


def test_worked_example_summed_over_windows_matches_section_5() -> None:
    rows = run(worked_example())
    total = merge_rows(row for (series, _), row in rows.items() if series == "all")
    assert total is not None
    assert total.starting_time_ms == 2000
    assert total.play_time_ms == 45100
    assert total.rebuffer_time_ms == 1500 and total.rebuffer_count == 1
    assert total.watch_time_ms == 48600
    assert total.rebuffer_ratio == pytest.approx(0.0308642, abs=1e-7)
    assert total.played_kbit_ms == 194_100_000 and total.bitrate_play_ms == 45100
    assert total.avg_bitrate_kbps == pytest.approx(4303.77, abs=0.01)
    assert (total.starts, total.attempts, total.start_failures, total.exits_before_start) == (1, 1, 0, 0)
    assert total.startup_time_p50_ms == pytest.approx(2000, rel=0.01)


def test_time_is_split_at_the_window_boundary() -> None:
    # The example runs at +30 s .. +90 s: minute 0 holds its startup (31 s .. 33 s), play
    # 33 s .. 50 s and 51.5 s .. 60 s at 3000 kbps, and its one stall; minute 1 the rest.
    rows = run(worked_example())
    first, second = rows[("all", 0)], rows[("all", 1)]
    assert first.starting_time_ms == 2000  # 31 s .. 33 s
    assert first.play_time_ms == 17000 + 8500
    assert first.played_kbit_ms == 3000 * 25500
    assert second.play_time_ms == 45100 - 25500
    assert second.rebuffer_time_ms == 0 and first.rebuffer_time_ms == 1500  # 50 s .. 51.5 s
    assert first.starts == 1 and second.starts == 0  # at the first frame, 33 s
    assert first.active_sessions == 1 and second.active_sessions == 1


def test_series_per_dimension_and_all() -> None:
    other = [ev("s2", 0, 0, "view_start", cdn="cdn-b", device_type="mobile"),
             ev("s2", 1, 100, "play_request"), ev("s2", 2, 600, "playing", bitrate_kbps=1000)]
    rows = run(worked_example(), other)
    assert rows[("all", 0)].active_sessions == 2
    assert rows[("cdn#cdn-a", 0)].active_sessions == 1
    # §2: a dimension is its first non-null value: s2 stays on cdn-b though later events say cdn-a.
    assert rows[("cdn#cdn-b", 0)].starts == 1 and rows[("device_type#mobile", 0)].starting_time_ms == 500
    assert rows[("content_id#title-1", 0)].starts == 2


def test_start_failure_exit_before_start_and_playback_failure() -> None:
    failed = [ev("f", 0, 0, "view_start"), ev("f", 1, 100, "play_request"),
              ev("f", 2, 5000, "error", error_code="DRM", error_fatal=True)]
    exited = [ev("x", 0, 0, "view_start"), ev("x", 1, 100, "play_request"), ev("x", 2, 4000, "view_end")]
    no_attempt = [ev("n", 0, 0, "view_start"), ev("n", 1, 4000, "view_end")]
    broke = [ev("b", 0, 0, "view_start"), ev("b", 1, 100, "play_request"), ev("b", 2, 700, "playing"),
             ev("b", 3, 9000, "error", error_code="5XX", error_fatal=True),
             ev("b", 4, 9500, "heartbeat")]  # after closed: changes nothing
    nonfatal = [ev("w", 0, 0, "play_request"), ev("w", 1, 50, "error", error_code="W", error_fatal=False),
                ev("w", 2, 300, "playing")]
    row = run(failed, exited, no_attempt, broke, nonfatal)[("all", 0)]
    assert (row.starts, row.start_failures, row.exits_before_start, row.playback_failures) == (2, 1, 1, 1)
    assert row.attempts == 4
    assert row.start_failure_rate == 0.25 and row.exit_before_start_rate == 0.25
    assert row.playback_failure_rate == 0.5
    # §2 (clarified 2026-12-07): time in starting is watch time with or without a first
    # frame: f waits 100..5000, x 100..4000, b 100..700, w 0..300; b plays 700..9000.
    assert row.starting_time_ms == 4900 + 3900 + 600 + 300 and row.play_time_ms == 8300
    assert row.watch_time_ms == 4900 + 3900 + 600 + 300 + 8300
    # The startup samples are those of the two started sessions alone: 600 (b), 300 (w).
    assert sum(row.startup_sketch.values()) == 2
    assert row.startup_time_p50_ms == pytest.approx(300, rel=0.01)  # numpy's 'lower' of the two
    assert row.active_sessions == 5


def test_ad_seek_pause_and_startup_buffering() -> None:
    events = [ev("a", 0, 0, "play_request"), ev("a", 1, 400, "buffer_start"),  # startup buffering
              ev("a", 2, 1000, "playing", bitrate_kbps=2000), ev("a", 3, 2000, "ad_break_start"),
              ev("a", 4, 2000, "buffer_start"),  # in an ad: not a rebuffer
              ev("a", 5, 3000, "buffer_end"), ev("a", 6, 7000, "ad_break_end"),
              ev("a", 7, 8000, "seek_start"), ev("a", 8, 8200, "seek_end"), ev("a", 9, 8500, "playing"),
              ev("a", 10, 9000, "pause"), ev("a", 11, 20000, "seek_start"), ev("a", 12, 20100, "seek_end"),
              ev("a", 13, 25000, "play_request"), ev("a", 14, 25300, "playing"), ev("a", 15, 26000, "view_end")]
    row = run(events)[("all", 0)]
    assert row.starting_time_ms == 1000
    assert row.ad_time_ms == 5000  # 2 s .. 7 s, its buffering included
    assert row.rebuffer_time_ms == 0 and row.rebuffer_count == 0
    assert row.seek_time_ms == 500 + 100  # from playing until `playing`; from paused until seek_end
    assert row.play_time_ms == 1000 + 1000 + 500 + 700  # after the resume play_request: paused until playing
    assert row.bitrate_play_ms == row.play_time_ms and row.avg_bitrate_kbps == 2000
    assert row.watch_time_ms == 1000 + 5000 + 600 + 3200


def test_gap_over_30_minutes_belongs_to_no_state() -> None:
    events = [ev("g", 0, 0, "play_request"), ev("g", 1, 1000, "playing", bitrate_kbps=1000),
              ev("g", 2, 1000 + 31 * MIN, "heartbeat"), ev("g", 3, 1000 + 31 * MIN + 5000, "view_end")]
    rows = run(events)
    total = merge_rows(row for (series, _), row in rows.items() if series == "all")
    assert total is not None and total.play_time_ms == 5000


def test_out_of_order_arrival_is_reordered_and_duplicates_dropped() -> None:
    events = worked_example()
    shuffled = [events[1], events[0], events[4], events[2], events[3], events[4], *events[5:]]
    monitor = Monitor(lateness_ms=30_000)
    for event in shuffled:
        monitor.add(event, event["event_ts"])
    total = merge_rows(r for r in monitor.close_all() if r.series == "all")
    assert total is not None and total.watch_time_ms == 48600 and total.starting_time_ms == 2000
    assert monitor.counters.duplicates == 1 and monitor.counters.out_of_order == 0


def test_late_events_are_counted_and_dropped_and_windows_close_by_watermark() -> None:
    monitor = Monitor(lateness_ms=10_000, grace_ms=5_000)
    events = [ev("l", 0, 1000, "play_request"), ev("l", 1, 2000, "playing"), ev("l", 2, 20_000, "heartbeat")]
    for event in events:
        monitor.add(event, event["event_ts"])
    assert monitor.advance() == []  # newest 20 s: release mark 10 s, close mark 5 s
    beat = ev("l", 3, 76_000, "heartbeat")
    monitor.add(beat, beat["event_ts"])
    closed = monitor.advance()  # release mark 66 s, close mark 61 s: minute 0 closes
    assert [(r.series, r.window_start_ms) for r in closed][0] == ("all", T0)
    assert closed[0].starts == 1 and closed[0].starting_time_ms == 1000
    assert closed[0].play_time_ms == 18_000  # 2 s .. 20 s; the heartbeat at 76 s is still held
    stale = ev("other", 0, 50_000, "view_start")
    assert monitor.add(stale, stale["event_ts"]) is False  # older than 76 s - 10 s
    assert monitor.counters.late == 1
    rest = merge_rows(r for r in monitor.close_all() if r.series == "all")
    # 20 s .. 76 s: the part in the closed minute 0 is counted as late, the rest kept.
    assert rest is not None and rest.play_time_ms == 16_000
    assert monitor.counters.late_span_ms == 40_000


def test_a_session_joined_mid_way_counts_time_but_no_start() -> None:
    events = [ev("j", 7, 0, "heartbeat"), ev("j", 8, 100, "playing", bitrate_kbps=500),
              ev("j", 9, 10_100, "heartbeat")]
    row = run(events)[("all", 0)]
    assert row.starts == 0 and row.attempts == 0 and row.play_time_ms == 10_000


def test_startup_percentiles_from_the_sketch() -> None:
    sessions = [[ev(f"p{i}", 0, 0, "play_request"), ev(f"p{i}", 1, 100 * (i + 1), "playing")] for i in range(40)]
    row = run(*sessions)[("all", 0)]
    exact = sorted(100 * (i + 1) for i in range(40))
    assert row.startup_time_p50_ms == pytest.approx(exact[int(0.5 * 39)], rel=0.01)
    assert row.startup_time_p95_ms == pytest.approx(exact[int(0.95 * 39)], rel=0.01)


@pytest.mark.parametrize("values", [[0], [1, 2, 3], list(range(0, 100_000, 37)), [5] * 10 + [60_000]])
def test_sketch_quantiles_are_within_one_percent(values: list[int]) -> None:
    built = sketch.Sketch()
    for value in values:
        sketch.add(built, value)
    ordered = sorted(values)
    for q in (0.0, 0.5, 0.95, 1.0):
        expected = ordered[int(q * (len(ordered) - 1))]
        assert sketch.quantile(built, q) == pytest.approx(expected, rel=0.01, abs=0.5)
    assert sketch.quantile(sketch.Sketch(), 0.5) is None
