"""Each quality suite on a few rows built inline: a clean frame passes, a broken one
stops the gate with a message naming the suite, the expectation and the count,
and every gate run lands in the results table."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from pyspark.sql import functions as F

from ottlake.errors import QualityGateError
from quality import frames, results
from quality.gate import GateRun, check, recorded
from quality.suites import SUITES
from schemas.layout import Lake
from schemas.tables import PS, QOE, VS
from spark_jobs import delta_io
from spark_jobs.columns import VIEWER_SESSIONS_SCHEMA
from spark_jobs.transforms.aggregates import qoe_daily, qoe_hourly
from tests.fixtures_spark import MINUTE_MS, event_rows, events_frame, play_sessions_frame

pytestmark = pytest.mark.integration  # Spark

ORIGIN = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def lake(tmp_path) -> Lake:
    return Lake.at(tmp_path)


@pytest.fixture
def gates() -> GateRun:
    return GateRun.new(max_quarantine_share=0.05)


def failure(spark, lake: Lake, gates: GateRun, suite: str, frame) -> str:
    # As a run does: the failing gate's results are recorded on the way out.
    with pytest.raises(QualityGateError) as caught, recorded(spark, gates):
        check(lake, suite=suite, frame=frame, run=gates)
    return str(caught.value)


def latest_by_expectation(lake: Lake, suite: str) -> dict[str, dict]:
    return {row["expectation"]: row for row in results.latest(lake.quality_results) if row["suite"] == suite}


# --- raw ------------------------------------------------------------------------------


def test_raw_gate_passes_a_run_under_the_threshold(spark, lake, gates) -> None:
    counts = {"rows_in": 1000, "bronze": 940, "quarantined": 50, "duplicates": 10}
    outcome = check(lake, suite="raw", frame=frames.run_counts(spark, counts), run=gates)
    assert outcome.critical_failures == []
    share = next(e for e in outcome.expectations if "quarantine_share" in e.expectation)
    assert share.observed_value == "0.05"


def test_raw_gate_lets_a_small_run_through_whatever_its_share(spark, lake, gates) -> None:
    counts = {"rows_in": 999, "bronze": 0, "quarantined": 999, "duplicates": 0}
    assert check(lake, suite="raw", frame=frames.run_counts(spark, counts), run=gates).critical_failures == []


def test_raw_gate_stops_a_quarantine_flood_and_records_it(spark, lake, gates) -> None:
    counts = {"rows_in": 1000, "bronze": 700, "quarantined": 300, "duplicates": 0}
    message = failure(spark, lake, gates, "raw", frames.run_counts(spark, counts))
    assert message == ("quality gate raw failed: expect_column_max_to_be_between(gated_quarantine_share): "
                       "observed 0.3; stage bronze not published")
    rows = latest_by_expectation(lake, "raw")
    flood = rows["expect_column_max_to_be_between(gated_quarantine_share)"]
    assert (flood["success"], flood["critical"], flood["run_id"]) == (False, True, gates.run_id)
    assert rows["expect_column_sum_to_be_between(unaccounted_lines)"]["success"] is True


def test_raw_gate_threshold_comes_from_the_run(spark, lake) -> None:
    counts = {"rows_in": 1000, "bronze": 700, "quarantined": 300, "duplicates": 0}
    lenient = GateRun.new(max_quarantine_share=0.5)
    assert check(lake, suite="raw", frame=frames.run_counts(spark, counts), run=lenient).critical_failures == []


def test_raw_gate_stops_lines_that_went_missing(spark, lake, gates) -> None:
    counts = {"rows_in": 1000, "bronze": 990, "quarantined": 0, "duplicates": 0}
    message = failure(spark, lake, gates, "raw", frames.run_counts(spark, counts))
    assert "expect_column_sum_to_be_between(unaccounted_lines): observed 10" in message


# --- bronze ---------------------------------------------------------------------------


def _events(spark):
    rows = event_rows("s1", [(0, "view_start"), (1000, "play_request"), (3000, "playing", {"bitrate_kbps": 3000})])
    return events_frame(spark, rows)


def test_bronze_gate_passes_clean_events(spark, lake, gates) -> None:
    outcome = check(lake, suite="bronze", frame=_events(spark), run=gates)
    assert outcome.critical_failures == [] and outcome.rows == 3


def test_bronze_gate_stops_a_duplicate_event_id_and_a_negative_seq(spark, lake, gates) -> None:
    events = _events(spark)
    broken = events.unionByName(events.limit(1)).withColumn(
        "seq", F.when(F.col("event_type") == "playing", F.lit(-1)).otherwise(F.col("seq")))
    message = failure(spark, lake, gates, "bronze", broken)
    # the duplicated event_id's two rows, and the one negative seq
    # by itself the suite checks every row for the id (its check column is True everywhere)
    assert message.startswith("quality gate bronze failed: expect_column_values_to_be_unique(event_id) "
                              "where event_id_hash_repeats == True: 2 unexpected")
    assert message.endswith("(and 1 more critical); stage bronze not published")
    assert latest_by_expectation(lake, "bronze")["expect_column_values_to_be_between(seq)"]["unexpected_count"] == 1


def test_bronze_gate_checks_ids_among_the_rows_the_job_flags(spark, lake, gates) -> None:
    """Bronze hands in its own event_id_hash_repeats (the dedup knows which ids'
    hashes repeat): the suite keeps it, and checks uniqueness among those rows."""
    events = _events(spark)
    doubled = events.unionByName(events.limit(1))
    repeats = doubled.groupBy("event_id").count().filter("count > 1").select("event_id", F.lit(True).alias("r"))
    flagged = doubled.join(repeats, on="event_id", how="left").select(
        *doubled.columns, F.coalesce(F.col("r"), F.lit(False)).alias("event_id_hash_repeats"))
    message = failure(spark, lake, gates, "bronze", flagged)
    assert "expect_column_values_to_be_unique(event_id) where event_id_hash_repeats == True: 2 unexpected" in message
    unflagged = flagged.withColumn("event_id_hash_repeats", F.lit(False))  # the job vouches for every id
    assert check(lake, suite="bronze", frame=unflagged, run=gates).critical_failures == []
    assert check(lake, suite="bronze", frame=flagged.where(~F.col("event_id_hash_repeats")),
                 run=gates).critical_failures == []


def test_bronze_gate_stops_an_event_time_far_behind_its_receipt(spark, lake, gates) -> None:
    late = _events(spark).withColumn("received_ts", F.col("received_ts") + 73 * 60 * MINUTE_MS)
    message = failure(spark, lake, gates, "bronze", late)
    assert "expect_column_values_to_be_between(received_minus_event_time_ms): 3 unexpected" in message


# --- play sessions --------------------------------------------------------------------

CLEAN_SESSIONS = [
    {"startup_time_ms": 2000, "play_time_ms": 45_100, "rebuffer_time_ms": 1500, "rebuffer_count": 1,
     "pause_time_ms": 10_400, "watch_time_ms": 48_600, "rebuffer_ratio": 1500 / 48_600, "event_count": 13,
     "percent_complete": 1.0},
    {"start_outcome": "exit_before_start", "event_count": 2},
    # §2 (clarified 2026-12-07): 13 s in starting with no first frame is watch time
    {"start_outcome": "exit_before_start", "event_count": 2, "watch_time_ms": 13_000, "rebuffer_ratio": 0.0},
]


def test_play_sessions_gate_passes_clean_sessions(spark, lake, gates) -> None:
    outcome = check(lake, suite="play_sessions", frame=play_sessions_frame(spark, CLEAN_SESSIONS), run=gates)
    assert outcome.critical_failures == [] and outcome.warnings == []
    assert len(outcome.expectations) == len(SUITES["play_sessions"].expectations())


def test_play_sessions_gate_stops_duplicate_session_rows(spark, lake, gates) -> None:
    sessions = play_sessions_frame(spark, CLEAN_SESSIONS)
    message = failure(spark, lake, gates, "play_sessions", sessions.unionByName(sessions))
    assert message == ("quality gate play_sessions failed: expect_column_values_to_be_unique(play_session_id): "
                       f"{2 * len(CLEAN_SESSIONS)} unexpected; stage sessions not published")


def test_play_sessions_gate_stops_a_negative_duration(spark, lake, gates) -> None:
    broken = [{**CLEAN_SESSIONS[0], "pause_time_ms": -400}, CLEAN_SESSIONS[1]]
    message = failure(spark, lake, gates, "play_sessions", play_sessions_frame(spark, broken))
    assert message == ("quality gate play_sessions failed: expect_column_values_to_be_between(pause_time_ms): "
                       "1 unexpected; stage sessions not published")


def test_play_sessions_gate_checks_the_sum_of_parts_and_the_startup_rule(spark, lake, gates) -> None:
    broken = [{**CLEAN_SESSIONS[0], "watch_time_ms": 48_601},  # started: 1 ms more than startup + parts
              {**CLEAN_SESSIONS[1], "startup_time_ms": 0},  # no first frame, yet a startup time
              {**CLEAN_SESSIONS[2], "play_time_ms": 13_001}]  # watch time short of its parts
    failure(spark, lake, gates, "play_sessions", play_sessions_frame(spark, broken))
    rows = latest_by_expectation(lake, "play_sessions")
    failed = {name: row["unexpected_count"] for name, row in rows.items() if not row["success"]}
    assert failed == {
        "expect_column_values_to_be_between(started_time_in_starting_minus_startup_ms)": 1,
        "expect_column_values_to_be_between(watch_time_minus_play_ad_rebuffer_seek_ms)": 1,
        "expect_column_values_to_be_null(startup_time_without_first_frame_ms)": 1,
    }


def test_a_failed_warning_is_reported_and_kept(spark, lake, gates) -> None:
    odd = [{**CLEAN_SESSIONS[0], "percent_complete": 1.2}, CLEAN_SESSIONS[1]]
    outcome = check(lake, suite="play_sessions", frame=play_sessions_frame(spark, odd), run=gates)
    assert outcome.critical_failures == []
    assert [w.describe() for w in outcome.warnings] == [
        "expect_column_values_to_be_between(percent_complete): 1 unexpected"]


# --- viewer sessions ------------------------------------------------------------------


def _viewer_sessions(spark, *, watch_time_ms: int = 60_000):
    row = {VS.viewer_id: "v1", VS.viewer_session_id: f"v1:{int(ORIGIN.timestamp() * 1000)}", VS.start_time: ORIGIN,
           VS.end_time: ORIGIN, VS.play_sessions: 2, VS.watch_time_ms: watch_time_ms, VS.session_date: ORIGIN.date()}
    return spark.createDataFrame([tuple(row[f.name] for f in VIEWER_SESSIONS_SCHEMA.fields)], VIEWER_SESSIONS_SCHEMA)


def test_viewer_sessions_gate_passes_and_stops_a_negative_watch_time(spark, lake, gates) -> None:
    assert check(lake, suite="viewer_sessions", frame=_viewer_sessions(spark), run=gates).critical_failures == []
    message = failure(spark, lake, gates, "viewer_sessions", _viewer_sessions(spark, watch_time_ms=-1))
    assert message == ("quality gate viewer_sessions failed: expect_column_values_to_be_between(watch_time_ms): "
                       "1 unexpected; stage viewer_sessions not published")


# --- aggregates -----------------------------------------------------------------------


def _qoe(spark):
    sessions = play_sessions_frame(spark, [*CLEAN_SESSIONS, {"start_outcome": "start_failure", "event_count": 3,
                                                             "cdn": "cdn-b"}])
    hourly, daily = qoe_hourly(sessions), qoe_daily(sessions)
    return sessions, hourly, daily


def test_aggregates_gates_pass_clean_tables(spark, lake, gates) -> None:
    sessions, hourly, daily = _qoe(spark)
    stacked = frames.stacked({"hourly": (hourly, QOE.hour), "daily": (daily, QOE.session_date)})
    assert check(lake, suite="qoe_aggregates", frame=stacked, run=gates).critical_failures == []
    totals = frames.totals_difference("daily", daily, sessions, period=QOE.session_date)
    assert check(lake, suite="qoe_totals", frame=totals, run=gates).critical_failures == []


def test_aggregates_gate_stops_a_rate_above_one(spark, lake, gates) -> None:
    _, hourly, daily = _qoe(spark)
    broken = daily.withColumn(QOE.start_failure_rate, F.lit(1.5))
    stacked = frames.stacked({"hourly": (hourly, QOE.hour), "daily": (broken, QOE.session_date)})
    message = failure(spark, lake, gates, "qoe_aggregates", stacked)
    assert message == ("quality gate qoe_aggregates failed: expect_column_values_to_be_between(start_failure_rate): "
                       f"{daily.count()} unexpected; stage aggregates not published")


def test_aggregates_gate_stops_attempts_that_do_not_add_up(spark, lake, gates) -> None:
    _, hourly, daily = _qoe(spark)
    broken = hourly.withColumn(QOE.starts, F.col(QOE.starts) - 1)
    stacked = frames.stacked({"hourly": (broken, QOE.hour), "daily": (daily, QOE.session_date)})
    message = failure(spark, lake, gates, "qoe_aggregates", stacked)
    assert message == ("quality gate qoe_aggregates failed: "
                       f"expect_column_values_to_be_between(attempts_minus_outcomes): {hourly.count()} unexpected; "
                       "stage aggregates not published")


def test_totals_gate_stops_a_dropped_group(spark, lake, gates) -> None:
    sessions, _, daily = _qoe(spark)
    dropped = daily.where(F.col("cdn").isNull() | (F.col("cdn") != "cdn-b"))  # one group lost
    totals = frames.totals_difference("daily", dropped, sessions, period=QOE.session_date)
    message = failure(spark, lake, gates, "qoe_totals", totals)
    assert message.startswith("quality gate qoe_totals failed: "
                              "expect_column_values_to_be_between(sessions_difference): 1 unexpected")


def test_totals_difference_counts_a_period_missing_on_one_side(spark) -> None:
    sessions, _, daily = _qoe(spark)
    later = play_sessions_frame(spark, [{"event_count": 1, "watch_time_ms": 7, "play_time_ms": 7,
                                         PS.session_date: ORIGIN.date().replace(day=2)}])
    totals = frames.totals_difference("daily", daily, sessions.unionByName(later), period=QOE.session_date)
    by_period = {row["period"]: row.asDict() for row in totals.collect()}
    assert by_period["2026-03-01"]["sessions_difference"] == 0
    assert (by_period["2026-03-02"]["sessions_difference"], by_period["2026-03-02"]["watch_time_ms_difference"]) == (
        -1, -7)


# --- the results table and Data Docs --------------------------------------------------


def test_every_gate_run_is_recorded_and_rendered_once_per_run(spark, lake, gates) -> None:
    with recorded(spark, gates):
        outcome = check(lake, suite="play_sessions", frame=play_sessions_frame(spark, CLEAN_SESSIONS), run=gates)
        viewers = check(lake, suite="viewer_sessions", frame=_viewer_sessions(spark), run=gates)
        assert not os.path.exists(lake.quality_results)  # nothing is written while the run goes on
    rows = results.latest(lake.quality_results)
    assert {row["run_id"] for row in rows} == {gates.run_id}
    assert [row["expectation"] for row in rows] == [
        e.expectation for e in (*outcome.expectations, *viewers.expectations)]
    assert delta_io.current_version(spark, lake.quality_results) == 0  # one commit for the whole run
    assert gates.recording_seconds > 0
    sessions_rows = [row for row in rows if row["suite"] == "play_sessions"]
    assert len(sessions_rows) == len(outcome.expectations)
    assert all(row["stage"] == "sessions" and row["rows"] == len(CLEAN_SESSIONS) and row["gate_seconds"] > 0 for row in sessions_rows)
    index = lake.quality_docs + "/index.html"
    with open(index, encoding="utf-8") as page:
        assert "play_sessions" in page.read()


# --- the run's GX context -------------------------------------------------------------


def test_a_context_made_ahead_is_the_one_the_gates_use(lake, gates) -> None:
    gates.prepare(lake)
    gates.prepare(lake)  # once a lake
    context = gates.context(lake)
    assert context is gates.context(lake)
    assert context.data_sources.get("ottlake") is not None


def test_a_context_that_could_not_be_made_ahead_fails_the_first_gate(lake, gates, monkeypatch) -> None:
    from quality import gate

    def broken(_lake):
        raise RuntimeError("no GX today")

    monkeypatch.setattr(gate, "_new_context", broken)
    gates.prepare(lake)
    with pytest.raises(RuntimeError, match="no GX today"):
        gates.context(lake)
