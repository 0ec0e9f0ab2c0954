"""Play sessions: the state machine of qoe-metrics.md section 1, folded in the JVM.

One shuffle: the events are grouped by `play_session_id` and collected as an array
of small structs, then sorted by (`event_ts`, `seq`, `event_id`) and walked once by a
compiled Java function (`spark_jobs/java/io/ottlake/spark/PlaySessionFold.java`,
built into ottlake's jar at set-up) that returns the accumulator: state, `in_ad`,
the first-frame and from-paused flags, the bitrate in force, the previous timestamp,
every running sum, and each dimension's first non-null value. No Python runs per
event. (The dimensions were `min(struct(event_ts, seq, event_id, value))`
aggregates beside the array: 14 of them cost more than the grouping and sorting,
5.3 s against 2.4 s on 3M events.)

Why a fold and not window functions, and why in Java rather than SQL's
higher-order `aggregate()`: `python -m benchmarks.bench_fold` (numbers in its
docstring). The same walk as an `aggregate()` lambda ran interpreted, about 5
microseconds an event, most of the sessions stage at 10M events.

This module owns the layout both sides share: the event struct's fields by
position (FOLD_EVENT_FIELDS) and the accumulator's (_ACC); the Java reads and builds
them by position, and the unit tests of section 1 run through it.
"""

from __future__ import annotations

from datetime import timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from schemas.contract import CONTENT_TYPES, E, EventType
from schemas.sessions import SESSION_GAP, StartOutcome
from schemas.tables import EVENT_TIME, PS, SESSION_DIMENSIONS
from spark_jobs.columns import PLAY_SESSIONS_SCHEMA, conform
from spark_jobs.spark import require_function
from spark_jobs.transforms.common import ratio, utc_date

VOD = "vod"  # percent_complete is for vod only (section 2)
assert VOD in CONTENT_TYPES


# Fields of one event in the collected array, in the order PlaySessionFold reads
# them. The first three are its order (the fold sorts the structs as array_sort
# would, field by field); `event_id` breaks ties between distinct events with the
# same (event_ts, seq) deterministically, and puts duplicates of one event next to
# each other, so that the fold can skip them.
_TS, _SEQ, _ID = "ts", "seq", "id"
_TYPE, _CLOSES, _FATAL, _CODE = "type", "closes", "fatal", "code"
_BITRATE, _PLAYHEAD, _TIME = "bitrate", "playhead", "time"
# Then the session's dimensions (SESSION_DIMENSIONS), whose first non-null value
# the fold keeps.
FOLD_EVENT_FIELDS = (_TS, _SEQ, _ID, _TYPE, _CLOSES, _FATAL, _CODE, _BITRATE, _PLAYHEAD, _TIME, *SESSION_DIMENSIONS)
# Intermediate columns: the sorted events, the fold's result.
EVENTS, ACC = "events", "acc"
# Registered by io.ottlake.spark.OttlakeExtensions (spark.sql.extensions).
FOLD_FUNCTION = "ottlake_play_session_fold"


LONG = T.LongType()
# The fold's result is the accumulator PlaySessionFold.resultType describes (its
# counters, flags and times by name, then each dimension's first non-null value up to
# the closing event): `outputs` reads it by name.


# What the fold reads of each event (the bench's window formulation reads the same).
FOLD_INPUT_COLUMNS: tuple[str, ...] = (
    E.play_session_id,
    E.event_id,
    E.event_type,
    E.event_ts,
    E.seq,
    EVENT_TIME,
    E.bitrate_kbps,
    E.playhead_ms,
    E.error_fatal,
    E.error_code,
    *SESSION_DIMENSIONS,
)


def play_sessions(
    events: DataFrame,
    *,
    watermark_ms: int,
    gap: timedelta = SESSION_GAP,
) -> DataFrame:
    """One row per `play_session_id` with every column of qoe-metrics.md section 2.

    `events` has the bronze table's shape (the contract's columns plus
    `event_time`), deduplicated by `event_id` (an exact duplicate that slips
    through is skipped by the fold: sorting puts it next to its original). `watermark_ms` is the largest
    `received_ts` the run has seen; a session that has not closed is final once its
    last event is more than `gap` before it. `gap` is also the section 1 limit past
    which the time between two events belongs to no state: the spec uses the same
    30 minutes for both ("the viewer went away").
    """
    gap_ms = gap // timedelta(milliseconds=1)
    require_function(events.sparkSession, FOLD_FUNCTION)
    # Each event is made the fold's struct, then shuffled by session as it is, and
    # collected on the other side: planned as a plain groupBy, Spark builds partial
    # lists in each task first and shuffles those (at 3M events: 5.9 s against 4.6 s).
    sessions = (
        events.select(E.play_session_id, _event_struct().alias(EVENTS))
        .repartition(E.play_session_id)
        .groupBy(E.play_session_id)
        .agg(F.collect_list(EVENTS).alias(EVENTS))
        .select(E.play_session_id, _fold(F.col(EVENTS), gap_ms).alias(ACC))
        .select(E.play_session_id, F.col(ACC)["start_time"].alias(PS.start_time), ACC)
    )
    return conform(sessions.select(*outputs(watermark_ms, gap_ms)), PLAY_SESSIONS_SCHEMA)


def _fold(events: Column, gap_ms: int) -> Column:
    """The accumulator after the last event of an array of events, which the fold
    sorts by (event_ts, seq, event_id) (section 1, PlaySessionFold)."""
    return F.call_function(FOLD_FUNCTION, events, F.lit(gap_ms).cast(LONG))


def _event_struct() -> Column:
    """One event as the fold sees it (FOLD_EVENT_FIELDS); the closing rule is stated here
    once, in generated code: ended, view_end or a fatal error."""
    event_type = F.col(E.event_type)
    fatal = (event_type == EventType.error) & F.coalesce(F.col(E.error_fatal), F.lit(False))
    closes = event_type.isin(EventType.ended, EventType.view_end) | fatal
    fields = {
        _TS: F.col(E.event_ts),
        _SEQ: F.col(E.seq),
        _ID: F.col(E.event_id),
        _TYPE: event_type,
        _CLOSES: closes,
        _FATAL: fatal,
        _CODE: F.col(E.error_code),
        _BITRATE: F.col(E.bitrate_kbps),
        _PLAYHEAD: F.col(E.playhead_ms),
        _TIME: F.col(EVENT_TIME),
        **{name: F.col(name) for name in SESSION_DIMENSIONS},
    }
    return F.struct(*(fields[name].alias(name) for name in FOLD_EVENT_FIELDS))


def outputs(watermark_ms: int, gap_ms: int) -> list[Column]:
    """The section 2 columns from `play_session_id`, `start_time` and the accumulator."""
    acc = F.col(ACC)
    closed = acc["closed_at"].isNotNull()
    is_final = closed | ((F.lit(watermark_ms) - F.unix_millis(acc["end_time"])) > gap_ms)
    startup_time = F.when(acc["first_frame"] & acc["requested_before_frame"], acc["startup_ms"])
    # qoe-metrics.md section 2 (clarified 2026-12-07): watch time is the time in
    # `starting` + play + ad + rebuffer + seek time, the time in `starting` counting
    # whether or not a first frame came (the fold's startup_ms is that time; the
    # startup_time_ms column shows it only for a start after a play_request).
    watch_time = acc["startup_ms"] + acc["play_ms"] + acc["ad_ms"] + acc["rebuffer_ms"] + acc["seek_ms"]
    # Section 2 ties "session final" only to exit_before_start and no_attempt: a
    # first frame is `started` and a fatal error before it `start_failure` as soon
    # as they happen (a fatal error closes the session anyway).
    start_outcome = (
        F.when(acc["first_frame"], StartOutcome.started.value)
        .when(acc["fatal"], StartOutcome.start_failure.value)
        .when(~is_final, StartOutcome.in_progress.value)
        .when(acc["requested"], StartOutcome.exit_before_start.value)
        .otherwise(StartOutcome.no_attempt.value)
    )
    dimensions = {name: acc[name] for name in SESSION_DIMENSIONS}
    duration, max_playhead = dimensions[E.content_duration_ms], acc["max_playhead"]
    percent_complete = F.when(
        # `least` skips nulls: without a playhead it would say 1.0, hence the test.
        (dimensions[E.content_type] == VOD) & (duration > 0) & max_playhead.isNotNull(),
        F.least(F.lit(1.0), max_playhead.cast(T.DoubleType()) / duration),
    )
    return [
        F.col(E.play_session_id),
        startup_time.alias(PS.startup_time_ms),
        acc["play_ms"].alias(PS.play_time_ms),
        acc["ad_ms"].alias(PS.ad_time_ms),
        acc["rebuffer_ms"].alias(PS.rebuffer_time_ms),
        acc["rebuffer_count"].alias(PS.rebuffer_count),
        acc["seek_ms"].alias(PS.seek_time_ms),
        acc["seek_count"].alias(PS.seek_count),
        acc["pause_ms"].alias(PS.pause_time_ms),
        watch_time.alias(PS.watch_time_ms),
        ratio(acc["rebuffer_ms"], watch_time).alias(PS.rebuffer_ratio),
        start_outcome.alias(PS.start_outcome),
        acc["playback_failure"].alias(PS.playback_failure),
        acc["error_count"].alias(PS.error_count),
        acc["fatal_code"].alias(PS.fatal_error_code),
        ratio(acc["kbps_ms"], acc["bitrate_play_ms"]).alias(PS.avg_bitrate_kbps),
        (acc["kbps_ms"].cast(T.DoubleType()) / 1000).alias(PS.played_kbits),
        acc["bitrate_play_ms"].alias(PS.bitrate_play_ms),
        acc["upshift_count"].alias(PS.upshift_count),
        acc["downshift_count"].alias(PS.downshift_count),
        acc["max_playhead"].alias(PS.max_playhead_ms),
        percent_complete.alias(PS.percent_complete),
        acc["completed"].alias(PS.completed),
        acc["event_count"].alias(PS.event_count),
        F.col(PS.start_time),
        acc["end_time"].alias(PS.end_time),
        utc_date(F.col(PS.start_time)).alias(PS.session_date),
        is_final.alias(PS.is_final),
        *(column.alias(name) for name, column in dimensions.items()),
    ]
