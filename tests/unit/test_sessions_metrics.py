"""The per-session columns of qoe-metrics.md section 2, and its worked example
(section 5). All cases are folded by one `play_sessions` run."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from schemas.contract import E
from spark_jobs.columns import PLAY_SESSIONS_SCHEMA
from spark_jobs.transforms.sessions import play_sessions
from tests.fixtures_spark import DAY_MS, MINUTE_MS, ORIGIN_MS, SessionCases, event_rows, events_frame, spent

CASES = SessionCases()
WATERMARK = CASES.watermark_ms
FATAL = {"error_fatal": True, "error_message": "stopped"}
NON_FATAL = {"error_fatal": False, "error_message": "retrying"}


@pytest.fixture(scope="module")
def folded(spark):
    return CASES.fold(spark)


def millis(moment: datetime) -> int:
    """Epoch ms of a collected timestamp (pyspark returns local naive datetimes)."""
    return round(moment.timestamp() * 1000)


# --- section 5 ---------------------------------------------------------------------

WORKED_EXAMPLE = CASES.add(
    "worked_example",
    [
        (0, "view_start"),
        (500, "player_ready"),
        (1000, "play_request"),
        (2200, "buffer_start"),
        (3000, "playing", {"bitrate_kbps": 3000, "playhead_ms": 0}),
        (13000, "heartbeat", {"bitrate_kbps": 3000}),
        (20000, "buffer_start"),
        (21500, "buffer_end"),
        (30000, "rendition_change", {"bitrate_kbps": 6000}),
        (40000, "pause"),
        (50000, "play_request"),
        (50400, "playing"),
        (60000, "ended", {"playhead_ms": 60000}),
    ],
    content_duration_ms=60000,
    # near the watermark, so that is_final comes from `ended`, not from time
    origin_ms=WATERMARK - 2 * MINUTE_MS,
)


def test_worked_example(folded):
    session = folded[WORKED_EXAMPLE]
    assert session["startup_time_ms"] == 2000
    assert session["play_time_ms"] == 17000 + 18500 + 9600 == 45100
    assert (session["rebuffer_time_ms"], session["rebuffer_count"]) == (1500, 1)
    assert session["pause_time_ms"] == 10400
    assert session["watch_time_ms"] == 48600
    assert session["rebuffer_ratio"] == pytest.approx(0.0308642, abs=1e-6)
    assert session["played_kbits"] == 3000 * 25.5 + 6000 * 19.6 == 194100
    assert session["bitrate_play_ms"] == 45100
    assert session["avg_bitrate_kbps"] == pytest.approx(4303.77, abs=0.01)
    assert (session["upshift_count"], session["downshift_count"]) == (1, 0)
    assert session["start_outcome"] == "started"
    assert session["completed"] is True
    assert session["percent_complete"] == 1.0
    assert session["is_final"] is True
    # and the rest of the row
    assert (session["ad_time_ms"], session["seek_time_ms"], session["seek_count"]) == (0, 0, 0)
    assert (session["error_count"], session["fatal_error_code"], session["playback_failure"]) == (0, None, False)
    assert (session["max_playhead_ms"], session["event_count"]) == (60000, 13)
    assert millis(session["start_time"]) == WATERMARK - 2 * MINUTE_MS
    assert millis(session["end_time"]) == WATERMARK - 2 * MINUTE_MS + 60000


# --- start_outcome and is_final --------------------------------------------------------

NEAR = WATERMARK - 10 * MINUTE_MS  # not final unless closed
OUTCOMES = {
    "started": CASES.add("outcome_started", [(0, "play_request"), (1000, "playing")], origin_ms=NEAR),
    "start_failure": CASES.add(
        "outcome_start_failure",
        [(0, "play_request"), (2000, "error", {**FATAL, "error_code": "E_DRM"})],
        origin_ms=NEAR,
    ),
    "exit_before_start": CASES.add(
        "outcome_exit_before_start", [(0, "play_request"), (3000, "view_end")], origin_ms=NEAR
    ),
    "exit_before_start_by_watermark": CASES.add(
        "outcome_exit_before_start_by_watermark", [(0, "view_start"), (100, "play_request")]
    ),
    "no_attempt": CASES.add("outcome_no_attempt", [(0, "view_start"), (1000, "view_end")], origin_ms=NEAR),
    "no_attempt_by_watermark": CASES.add(
        "outcome_no_attempt_by_watermark", [(0, "view_start"), (1000, "player_ready")]
    ),
    "in_progress": CASES.add("outcome_in_progress", [(0, "view_start"), (100, "play_request")], origin_ms=NEAR),
    "in_progress_no_intent": CASES.add("outcome_in_progress_no_intent", [(0, "view_start")], origin_ms=NEAR),
}


@pytest.mark.parametrize(
    ("case", "outcome", "is_final"),
    [
        ("started", "started", False),  # a first frame is a start, final or not
        ("start_failure", "start_failure", True),
        ("exit_before_start", "exit_before_start", True),
        ("exit_before_start_by_watermark", "exit_before_start", True),
        ("no_attempt", "no_attempt", True),
        ("no_attempt_by_watermark", "no_attempt", True),
        ("in_progress", "in_progress", False),
        ("in_progress_no_intent", "in_progress", False),
    ],
)
def test_start_outcome(folded, case, outcome, is_final):
    session = folded[OUTCOMES[case]]
    assert (session["start_outcome"], session["is_final"]) == (outcome, is_final)


THIRTY_MINUTES_BEFORE = CASES.add(
    "last_event_30_minutes_before_watermark",
    [(0, "play_request"), (1000, "playing")],
    origin_ms=WATERMARK - 30 * MINUTE_MS - 1000,
)
LONGER_BEFORE = CASES.add(
    "last_event_just_over_30_minutes_before_watermark",
    [(0, "play_request"), (1000, "playing")],
    origin_ms=WATERMARK - 30 * MINUTE_MS - 1001,
)
# The derived time, not the device clock, decides: this device's clock runs an hour
# behind, so its event_ts look 90 minutes old but the events are 30 minutes old.
SKEWED_CLOCK = CASES.add(
    "device_clock_an_hour_behind",
    [
        (
            0,
            "play_request",
            {"sent_ts": WATERMARK - 90 * MINUTE_MS + 500, "received_ts": WATERMARK - 30 * MINUTE_MS + 500},
        ),
        (
            100,
            "playing",
            {"sent_ts": WATERMARK - 90 * MINUTE_MS + 500, "received_ts": WATERMARK - 30 * MINUTE_MS + 500},
        ),
    ],
    origin_ms=WATERMARK - 90 * MINUTE_MS,
)


def test_is_final_when_the_last_event_is_more_than_30_minutes_before_the_watermark(folded):
    assert folded[THIRTY_MINUTES_BEFORE]["is_final"] is False
    assert folded[LONGER_BEFORE]["is_final"] is True
    skewed = folded[SKEWED_CLOCK]
    # event_time = received_ts - (sent_ts - event_ts)
    assert millis(skewed["start_time"]) == WATERMARK - 30 * MINUTE_MS
    assert millis(skewed["end_time"]) == WATERMARK - 30 * MINUTE_MS + 100
    assert skewed["is_final"] is False


# --- startup_time_ms --------------------------------------------------------------------

NO_FIRST_FRAME = OUTCOMES["exit_before_start"]
AUTOPLAY = CASES.add(
    "first_frame_without_play_request",
    [
        (0, "view_start"),
        (1000, "playing"),
        (5000, "pause"),
        (6000, "play_request"),
        (7000, "playing"),
        (8000, "view_end"),
    ],
)


def test_startup_time_is_null_without_a_first_frame_or_a_play_request_before_it(folded):
    assert folded[NO_FIRST_FRAME]["startup_time_ms"] is None
    autoplay = folded[AUTOPLAY]
    assert autoplay["startup_time_ms"] is None
    assert spent(autoplay) == {"playing": 4000 + 1000, "paused": 2000}
    assert autoplay["watch_time_ms"] == 5000


def test_watch_time_is_the_sum_of_its_parts_and_excludes_pause(folded):
    parts = ("play_time_ms", "ad_time_ms", "rebuffer_time_ms", "seek_time_ms")
    for session in folded.values():
        rest = session["watch_time_ms"] - sum(session[p] for p in parts)
        if session["start_outcome"] == "started":  # all its time in starting is its startup
            assert rest == (session["startup_time_ms"] or 0), session["play_session_id"]
        else:  # time in starting with no first frame: watch time, no startup_time_ms
            assert rest >= 0 and session["startup_time_ms"] is None, session["play_session_id"]


# --- watch time of a session that never started (§2, clarified 2026-12-07) ---------------
# The time in `starting` is watch time whether or not a first frame comes; only
# startup_time_ms waits for one. Each case: (watch_time_ms, rebuffer_ratio, outcome), by hand.

NEVER_STARTED = {
    CASES.add(
        "waited_13_s_and_left",  # view_end closes it; startup buffering is not rebuffering
        [(0, "view_start"), (1000, "play_request"), (1500, "buffer_start"), (14000, "view_end")],
        origin_ms=NEAR,
    ): (13000, 0.0, "exit_before_start"),
    CASES.add(
        "waited_then_went_silent",  # final by the 30-minute rule (a day before the watermark)
        [(0, "view_start"), (500, "play_request"), (800, "buffer_start"), (10500, "heartbeat")],
    ): (10000, 0.0, "exit_before_start"),
    CASES.add(
        "start_failure_after_7_s",
        [(0, "play_request"), (200, "buffer_start"), (7000, "error", {**FATAL, "error_code": "E_MANIFEST"})],
    ): (7000, 0.0, "start_failure"),
    CASES.add(
        "still_starting",  # not final: its watch time so far
        [(0, "view_start"), (1000, "play_request"), (6000, "heartbeat")],
        origin_ms=NEAR,
    ): (5000, 0.0, "in_progress"),
    CASES.add(
        "paused_while_starting_then_left",  # 0..2000 and 5000..8000 starting; 2000..5000 paused
        [(0, "play_request"), (2000, "pause"), (5000, "play_request"), (8000, "view_end")],
    ): (5000, 0.0, "exit_before_start"),
}
SEEK_DURING_STARTUP = CASES.add(
    "seek_during_startup",
    [
        (0, "play_request"),
        (1000, "seek_start"),  # while starting: still startup (§1), not a seek
        (1500, "seek_end"),
        (2500, "playing", {"bitrate_kbps": 2000}),
        (4500, "buffer_start"),
        (5500, "buffer_end"),
        (10500, "view_end"),
    ],
)


@pytest.mark.parametrize("case", list(NEVER_STARTED))
def test_time_in_starting_without_a_first_frame_is_watch_time(folded, case):
    session = folded[case]
    assert (session["watch_time_ms"], session["rebuffer_ratio"], session["start_outcome"]) == NEVER_STARTED[case]
    assert session["startup_time_ms"] is None


def test_never_started_times_in_detail(folded):
    paused = folded["paused_while_starting_then_left"]
    assert (paused["pause_time_ms"], paused["play_time_ms"], paused["seek_time_ms"]) == (3000, 0, 0)
    assert folded["waited_13_s_and_left"]["is_final"] is True and folded["still_starting"]["is_final"] is False


def test_a_seek_during_startup_is_startup_and_watch_time(folded):
    session = folded[SEEK_DURING_STARTUP]
    assert spent(session) == {"starting": 2500, "playing": 2000 + 5000, "rebuffering": 1000}
    assert (session["seek_time_ms"], session["seek_count"]) == (0, 0)
    assert session["watch_time_ms"] == 2500 + 7000 + 1000 == 10500
    assert session["rebuffer_ratio"] == pytest.approx(1000 / 10500)


def test_rebuffer_ratio_is_null_when_watch_time_is_0(folded):
    session = folded[OUTCOMES["no_attempt"]]
    assert (session["watch_time_ms"], session["rebuffer_ratio"]) == (0, None)


# --- failures and errors ----------------------------------------------------------------

PLAYBACK_FAILURE = CASES.add(
    "fatal_after_first_frame",
    [(0, "play_request"), (1000, "playing"), (5000, "error", {**FATAL, "error_code": "E_NET"})],
)
ERRORS = CASES.add(
    "several_errors",
    [
        (0, "play_request"),
        (1000, "playing"),
        (2000, "error", {**NON_FATAL, "error_code": "E_SOFT"}),
        (3000, "error", {**FATAL, "error_code": "E_FIRST_FATAL"}),
        (4000, "error", {**FATAL, "error_code": "E_SECOND_FATAL"}),  # after closed
    ],
)


def test_playback_failure_is_a_fatal_error_after_the_first_frame(folded):
    failed = folded[PLAYBACK_FAILURE]
    assert (failed["playback_failure"], failed["start_outcome"], failed["fatal_error_code"]) == (
        True,
        "started",
        "E_NET",
    )
    before_start = folded[OUTCOMES["start_failure"]]
    assert (before_start["playback_failure"], before_start["fatal_error_code"]) == (False, "E_DRM")


def test_fatal_error_code_is_the_first_fatal_ones(folded):
    session = folded[ERRORS]
    assert (session["fatal_error_code"], session["error_count"], session["event_count"]) == ("E_FIRST_FATAL", 2, 5)


# --- bitrate ------------------------------------------------------------------------------

SHIFTS = CASES.add(
    "shifts",
    [
        (0, "play_request"),
        (500, "rendition_change", {"bitrate_kbps": 2000}),  # none in force: no shift
        (1000, "playing", {"bitrate_kbps": 2000}),
        (3000, "rendition_change", {"bitrate_kbps": 4000}),  # up
        (5000, "rendition_change", {"bitrate_kbps": 1000}),  # down
        (6000, "rendition_change", {"bitrate_kbps": 1000}),  # same: neither
        (7000, "heartbeat", {"bitrate_kbps": 1500}),  # in force from here, not a shift
        (8000, "rendition_change", {"bitrate_kbps": 1200}),  # down from 1500
        (8500, "rendition_change"),  # no bitrate: neither
        (9000, "view_end"),
    ],
)
NO_BITRATE_AT_FIRST = CASES.add(
    "bitrate_known_late",
    [
        (0, "play_request"),
        (1000, "playing"),
        (3000, "heartbeat", {"bitrate_kbps": 3000}),
        (4000, "ad_break_start", {"ad_break_id": "b"}),  # ad time is not content play time
        (6000, "ad_break_end", {"ad_break_id": "b"}),
        (7000, "view_end"),
    ],
)
NO_BITRATE = CASES.add("no_bitrate", [(0, "play_request"), (1000, "playing"), (3000, "view_end")])


def test_upshift_and_downshift_against_the_bitrate_in_force(folded):
    session = folded[SHIFTS]
    assert (session["upshift_count"], session["downshift_count"]) == (1, 2)
    # 2000 kbps x 2 s + 4000 x 2 + 1000 x 2 + 1500 x 1 + 1200 x 1
    assert session["played_kbits"] == 4000 + 8000 + 2000 + 1500 + 1200
    assert session["bitrate_play_ms"] == 8000


def test_bitrate_play_time_needs_a_bitrate_in_force(folded):
    session = folded[NO_BITRATE_AT_FIRST]
    assert spent(session) == {"starting": 1000, "playing": 2000 + 1000 + 1000, "ad": 2000}
    assert (session["bitrate_play_ms"], session["played_kbits"], session["avg_bitrate_kbps"]) == (2000, 6000, 3000)
    none = folded[NO_BITRATE]
    assert (none["bitrate_play_ms"], none["played_kbits"], none["avg_bitrate_kbps"]) == (0, 0, None)


# --- percent_complete ---------------------------------------------------------------------

PERCENT = {
    "half": CASES.add("vod_half", [(0, "playing", {"playhead_ms": 30000})], content_duration_ms=60000),
    "capped": CASES.add("vod_past_end", [(0, "playing", {"playhead_ms": 70000})], content_duration_ms=60000),
    "live": CASES.add("live", [(0, "playing", {"playhead_ms": 30000})], content_type="live", content_duration_ms=60000),
    "zero": CASES.add("vod_zero_duration", [(0, "playing", {"playhead_ms": 30000})], content_duration_ms=0),
    "unknown": CASES.add("vod_no_duration", [(0, "playing", {"playhead_ms": 30000})]),
    "no_playhead": CASES.add("vod_no_playhead", [(0, "playing")], content_duration_ms=60000),
}


@pytest.mark.parametrize(
    ("case", "expected"),
    [("half", 0.5), ("capped", 1.0), ("live", None), ("zero", None), ("unknown", None), ("no_playhead", None)],
)
def test_percent_complete(folded, case, expected):
    assert folded[PERCENT[case]]["percent_complete"] == expected


# --- dimensions, dates ---------------------------------------------------------------------

DIMENSIONS = CASES.add(
    "dimensions",
    [
        (0, "view_start", {"device_type": "tv"}),
        (1000, "player_ready", {"cdn": "cdn-a", "device_type": "mobile"}),
        (1000, "play_request", {"cdn": "cdn-b", "country": "DE"}),
        (2000, "playing", {"cdn": "cdn-c", "country": "FR", "os_name": "tvOS"}),
        (3000, "ended"),
        (4000, "view_end", {"player_name": "late-player"}),  # after closed
    ],
)
CASES.rows.reverse()  # arrival order must not matter


def test_dimensions_are_the_first_non_null_value_in_event_order(folded):
    session = folded[DIMENSIONS]
    assert (session["device_type"], session["cdn"], session["country"], session["os_name"]) == (
        "tv",
        "cdn-a",
        "DE",
        "tvOS",
    )
    assert session["player_name"] is None  # only carried by an event after closed
    assert (session["viewer_id"], session["content_id"], session["content_type"]) == ("viewer-1", "content-1", "vod")


def test_session_date_is_the_utc_date_of_start_time(spark):
    just_before_midnight = int(datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC).timestamp() * 1000)
    rows = event_rows(
        "midnight", [(0, "play_request"), (500, "playing"), (5000, "view_end")], origin_ms=just_before_midnight
    )
    # A session time zone far from UTC must not move the date.
    spark.conf.set("spark.sql.session.timeZone", "Pacific/Kiritimati")
    try:
        (session,) = play_sessions(events_frame(spark, rows), watermark_ms=WATERMARK).collect()
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")
    assert session["session_date"] == date(2026, 3, 1)
    assert millis(session["end_time"]) == just_before_midnight + 5000


def test_output_has_the_play_sessions_schema(spark):
    frame = play_sessions(events_frame(spark, CASES.rows[:3]), watermark_ms=WATERMARK)
    assert [(f.name, f.dataType) for f in frame.schema] == [(f.name, f.dataType) for f in PLAY_SESSIONS_SCHEMA]
    assert frame.schema["watch_time_ms"].metadata["comment"].startswith("time in starting (with or without a first frame) + play")


def test_one_row_per_play_session_and_one_shuffle(spark, folded):
    assert len(folded) == len({row["play_session_id"] for row in CASES.rows})
    frame = play_sessions(events_frame(spark, CASES.rows), watermark_ms=WATERMARK)
    plan = frame._jdf.queryExecution().executedPlan().toString()
    assert plan.count("Exchange") == 1
    assert "hashpartitioning(play_session_id" in plan
    assert "PythonUDF" not in plan and "BatchEvalPython" not in plan and "ArrowEvalPython" not in plan


def test_events_with_one_event_ts_and_seq_are_ordered_by_event_id_as_spark_orders_strings(spark):
    """PlaySessionFold sorts a session's events itself, as array_sort orders structs:
    (event_ts, seq, event_id), ids by their UTF-8 bytes. U+FFFD sorts before U+10000
    there (EF BF BD < F0 90 80 80), after it in UTF-16 (FFFD > D800)."""
    from pyspark.sql import functions as F

    low, high = "\ufffd", "\U00010000"
    assert spark.range(1).select(F.array_sort(F.array(F.lit(high), F.lit(low)))).first()[0] == [low, high]
    cases = {"request_sorts_first": (low, high), "frame_sorts_first": (high, low)}
    rows = []
    for name, (request_id, frame_id) in cases.items():
        events = event_rows(name, [(0, "view_start"), (1000, "play_request"), (1000, "playing"), (5000, "view_end")])
        events[1].update({E.event_id: request_id, E.seq: 1})
        events[2].update({E.event_id: frame_id, E.seq: 1})
        rows += reversed(events)
    folded = {row[E.play_session_id]: row for row in play_sessions(events_frame(spark, rows),
                                                                   watermark_ms=ORIGIN_MS + DAY_MS).collect()}
    # play_request then playing at one instant: a startup of 0 ms; the other way
    # round the first frame came before any request: no startup time (section 2).
    assert folded["request_sorts_first"]["startup_time_ms"] == 0
    assert folded["frame_sorts_first"]["startup_time_ms"] is None
    assert {name: row["play_time_ms"] for name, row in folded.items()} == {name: 4000 for name in cases}
