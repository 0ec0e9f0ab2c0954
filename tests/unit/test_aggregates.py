"""QoE aggregates (qoe-metrics.md section 4): ratios of sums, null groups, null
rates on zero denominators, one function for both grains."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from spark_jobs.columns import QOE_DAILY_SCHEMA, QOE_HOURLY_SCHEMA
from spark_jobs.transforms.aggregates import qoe_daily, qoe_hourly
from tests.fixtures_spark import ORIGIN_MS, play_sessions_frame

NOON = datetime.fromtimestamp(ORIGIN_MS / 1000, tz=UTC)  # 2026-03-01 12:00 UTC
DIMENSIONS = {
    "content_type": "vod",
    "device_type": "tv",
    "os_name": "tizen",
    "player_name": "shaka",
    "cdn": "cdn-a",
    "country": "DE",
}


def session(minute: float, viewer: str, outcome: str = "started", **columns) -> dict:
    start = NOON + timedelta(minutes=minute)
    return {
        **DIMENSIONS,
        "viewer_id": viewer,
        "start_time": start,
        "end_time": start,
        "session_date": start.date(),
        "start_outcome": outcome,
        **columns,
    }


MAIN_GROUP = [
    session(
        1,
        "v1",
        startup_time_ms=500,
        watch_time_ms=100_000,
        play_time_ms=90_000,
        rebuffer_time_ms=10_000,
        rebuffer_count=2,
        played_kbits=270_000.0,
        bitrate_play_ms=90_000,
        rebuffer_ratio=0.1,
    ),
    session(
        2,
        "v1",
        startup_time_ms=1000,
        watch_time_ms=300_000,
        play_time_ms=300_000,
        played_kbits=1_800_000.0,
        bitrate_play_ms=300_000,
        playback_failure=True,
        rebuffer_ratio=0.0,
    ),
    session(3, "v2", startup_time_ms=2000, watch_time_ms=20_000, play_time_ms=20_000, rebuffer_ratio=0.0),
    session(4, "v2", startup_time_ms=4000),
    session(59.99, "v3", startup_time_ms=8000),
    session(5, "v3", "start_failure"),
    session(6, "v4", "exit_before_start"),
    session(7, "v4", "no_attempt"),
    session(8, "v5", "in_progress"),
]
NULL_CDN = [session(9, "v6", watch_time_ms=60_000, play_time_ms=60_000, cdn=None)]
NO_ATTEMPTS = [
    session(10, "v7", "no_attempt", device_type="console"),
    session(11, "v8", "no_attempt", device_type="console"),
]
NEXT_HOUR = [session(90, "v1", watch_time_ms=60_000, play_time_ms=60_000, startup_time_ms=16000)]


@pytest.fixture(scope="module")
def play_sessions(spark):
    return play_sessions_frame(spark, MAIN_GROUP + NULL_CDN + NO_ATTEMPTS + NEXT_HOUR)


@pytest.fixture(scope="module")
def hourly(spark, play_sessions):
    # The hour is UTC whatever the session's zone (+05:30 would shift date_trunc).
    spark.conf.set("spark.sql.session.timeZone", "Asia/Kolkata")
    try:
        rows = qoe_hourly(play_sessions).collect()
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")
    return {(row["hour"].timestamp(), row["device_type"], row["cdn"]): row.asDict() for row in rows}


def hour_key(hour: datetime, device_type: str = "tv", cdn: str | None = "cdn-a") -> tuple:
    return (hour.timestamp(), device_type, cdn)


def test_counts_and_sums(hourly):
    main = hourly[hour_key(NOON)]
    assert {
        name: main[name]
        for name in (
            "sessions",
            "attempts",
            "starts",
            "start_failures",
            "exits_before_start",
            "playback_failures",
            "unique_viewers",
            "watch_time_ms",
            "play_time_ms",
            "rebuffer_time_ms",
            "rebuffer_count",
        )
    } == {
        "sessions": 9,
        "attempts": 7,  # started 5 + start_failure 1 + exit_before_start 1
        "starts": 5,
        "start_failures": 1,
        "exits_before_start": 1,
        "playback_failures": 1,
        "unique_viewers": 5,
        "watch_time_ms": 420_000,
        "play_time_ms": 410_000,
        "rebuffer_time_ms": 10_000,
        "rebuffer_count": 2,
    }
    assert {name: main[name] for name in DIMENSIONS} == DIMENSIONS


def test_rates_are_ratios_of_sums(hourly):
    main = hourly[hour_key(NOON)]
    assert main["start_failure_rate"] == pytest.approx(1 / 7)
    assert main["exit_before_start_rate"] == pytest.approx(1 / 7)
    assert main["playback_failure_rate"] == pytest.approx(2 / 7)
    # 10 s over 420 s; the mean of the sessions' ratios would be 0.1 / 3
    assert main["rebuffer_ratio"] == pytest.approx(10_000 / 420_000)
    assert main["rebuffers_per_minute"] == pytest.approx(2 / 7)
    # 2,070,000 kbit over 390 s; the mean of the sessions' averages would be 4500
    assert main["avg_bitrate_kbps"] == pytest.approx(2_070_000 * 1000 / 390_000)


def test_startup_percentiles_skip_nulls(hourly):
    main = hourly[hour_key(NOON)]
    assert (main["startup_time_p50_ms"], main["startup_time_p95_ms"]) == (2000, 8000)


def test_null_is_a_group_of_its_own(hourly):
    null_cdn = hourly[hour_key(NOON, cdn=None)]
    assert (null_cdn["sessions"], null_cdn["unique_viewers"], null_cdn["watch_time_ms"]) == (1, 1, 60_000)
    assert len(hourly) == 4


def test_zero_denominators_give_null_rates(hourly):
    empty = hourly[hour_key(NOON, device_type="console")]
    assert (empty["sessions"], empty["attempts"], empty["watch_time_ms"]) == (2, 0, 0)
    rates = (
        "start_failure_rate",
        "exit_before_start_rate",
        "playback_failure_rate",
        "rebuffer_ratio",
        "rebuffers_per_minute",
        "avg_bitrate_kbps",
        "startup_time_p50_ms",
        "startup_time_p95_ms",
    )
    assert {name: empty[name] for name in rates} == dict.fromkeys(rates)


def test_hours_are_utc_hours_of_start_time(hourly):
    later = hourly[hour_key(NOON + timedelta(hours=1))]
    assert (later["sessions"], later["startup_time_p50_ms"]) == (1, 16000)


def test_daily_merges_the_hours_with_the_same_logic(play_sessions):
    daily = {
        (row["session_date"], row["device_type"], row["cdn"]): row.asDict()
        for row in qoe_daily(play_sessions).collect()
    }
    assert len(daily) == 3
    day = daily[(date(2026, 3, 1), "tv", "cdn-a")]
    assert (day["sessions"], day["starts"], day["attempts"], day["unique_viewers"]) == (10, 6, 8, 5)
    assert day["watch_time_ms"] == 480_000
    assert day["rebuffers_per_minute"] == pytest.approx(2 / 8)
    assert day["playback_failure_rate"] == pytest.approx(2 / 8)


def test_output_schemas(play_sessions):
    for frame, schema in ((qoe_hourly(play_sessions), QOE_HOURLY_SCHEMA), (qoe_daily(play_sessions), QOE_DAILY_SCHEMA)):
        assert [(f.name, f.dataType) for f in frame.schema] == [(f.name, f.dataType) for f in schema]


def test_watch_time_of_sessions_that_never_started_is_summed(spark):
    """§2 (clarified 2026-12-07) into §4: folded from events, a viewer who waited 13 s
    and left, a start failure after 7 s and a 4 s start with 6 s of play (1 s of it
    rebuffering) sum to 13 + 7 + 10 s of watch time in their hour and their day, and
    the rates that divide by watch time divide by all of it."""
    from spark_jobs.transforms.sessions import play_sessions
    from tests.fixtures_spark import DAY_MS, SessionCases, events_frame

    cases = SessionCases()
    fatal = {"error_fatal": True, "error_message": "stopped", "error_code": "E_DRM"}
    cases.add("left", [(0, "play_request"), (13_000, "view_end")], viewer_id="a")
    cases.add("failed", [(1000, "play_request"), (8000, "error", fatal)], viewer_id="b")
    cases.add(
        "started",
        [(2000, "play_request"), (6000, "playing"), (8000, "buffer_start"), (9000, "buffer_end"),
         (12_000, "view_end")],
        viewer_id="c",
    )
    sessions = play_sessions(events_frame(spark, cases.rows), watermark_ms=ORIGIN_MS + DAY_MS)
    expected = {"watch_time_ms": 30_000, "play_time_ms": 5000, "rebuffer_time_ms": 1000, "attempts": 3}
    for frame in (qoe_hourly(sessions), qoe_daily(sessions)):
        (row,) = frame.collect()
        assert {name: row[name] for name in expected} == expected
        assert row["rebuffer_ratio"] == pytest.approx(1000 / 30_000)
        assert row["rebuffers_per_minute"] == pytest.approx(1 / 0.5)
