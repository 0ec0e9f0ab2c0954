"""Play sessions: the state machine of qoe-metrics.md section 1, folded in the JVM.

One shuffle: the events are grouped by `play_session_id` and collected as an array
of small structs, sorted by (`event_ts`, `seq`, `event_id`), then walked once by
SQL's higher-order `aggregate()` with a struct accumulator (state, `in_ad`, the
first-frame and from-paused flags, the bitrate in force, the previous timestamp and
every running sum). No Python runs per event. The dimensions do not travel in the
array: each is the minimum of (`event_ts`, `seq`, `event_id`, value) over its
non-null values, which Spark pre-aggregates before the shuffle. Why a fold and not
window functions: `python -m spark_jobs.bench_fold` (numbers in its docstring).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from enum import IntEnum

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from schemas.contract import CONTENT_TYPES, EVENT_TYPES, E, EventType
from spark_jobs.columns import (
    EVENT_TIME,
    PLAY_SESSIONS_SCHEMA,
    PS,
    SESSION_DIMENSIONS,
    StartOutcome,
    conform,
)
from spark_jobs.transforms.common import ratio, utc_date

VOD = "vod"  # percent_complete is for vod only (section 2)
assert VOD in CONTENT_TYPES


class State(IntEnum):
    """qoe-metrics.md section 1, as small ints (cheaper to compare per event)."""

    idle = 0
    starting = 1
    playing = 2
    paused = 3
    seeking = 4
    rebuffering = 5
    closed = 6


def _kind(event_type: str) -> int:
    """The int code of an event type inside the fold: its 1-based position in the
    contract's enum, as `array_position` yields it."""
    return EVENT_TYPES.index(event_type) + 1


# Fields of one event in the collected array. The first three are its order
# (array_sort compares structs field by field); `event_id` breaks ties between
# distinct events with the same (event_ts, seq) deterministically, and puts
# duplicates of one event next to each other, so that the fold can skip them.
_TS, _SEQ, _ID = "ts", "seq", "id"
_KIND, _CLOSES, _FATAL, _CODE = "kind", "closes", "fatal", "code"
_BITRATE, _PLAYHEAD, _TIME = "bitrate", "playhead", "time"
_KEY = (_TS, _SEQ, _ID)
# Intermediate columns: the sorted events, the fold's result, each dimension's first.
EVENTS, ACC = "events", "acc"


def first_of(dimension: str) -> str:
    return f"first_{dimension}"


LONG, BOOL, INT, STRING = T.LongType(), T.BooleanType(), T.IntegerType(), T.StringType()
_KEY_TYPE = T.StructType([T.StructField(_TS, LONG), T.StructField(_SEQ, LONG), T.StructField(_ID, STRING)])

# The accumulator: name, type, initial value. One list serves the initial struct
# and every step's struct, so the two can never differ in type or order.
_ACC: list[tuple[str, T.DataType, object]] = [
    ("state", INT, int(State.idle)),
    ("in_ad", BOOL, False),
    ("from_paused", BOOL, False),  # the seek in force came from paused
    ("first_frame", BOOL, False),
    ("requested", BOOL, False),  # a play_request has been seen
    ("requested_before_frame", BOOL, False),  # ... before the first frame
    ("bitrate", LONG, None),  # the bitrate in force, kbps
    ("prev_ts", LONG, None),
    ("prev_id", STRING, None),
    ("startup_ms", LONG, 0),
    ("play_ms", LONG, 0),
    ("ad_ms", LONG, 0),
    ("rebuffer_ms", LONG, 0),
    ("seek_ms", LONG, 0),
    ("pause_ms", LONG, 0),
    ("kbps_ms", LONG, 0),  # played kbits x 1000, kept integral: no float drift
    ("bitrate_play_ms", LONG, 0),
    ("rebuffer_count", LONG, 0),
    ("seek_count", LONG, 0),
    ("error_count", LONG, 0),
    ("upshift_count", LONG, 0),
    ("downshift_count", LONG, 0),
    ("event_count", LONG, 0),
    ("fatal", BOOL, False),
    ("fatal_code", STRING, None),
    ("playback_failure", BOOL, False),
    ("completed", BOOL, False),
    ("max_playhead", LONG, None),
    ("end_time", T.TimestampType(), None),
    ("closed_at", _KEY_TYPE, None),  # (ts, seq, id) of the event that closed
]


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
    gap: timedelta = timedelta(minutes=30),
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
    sessions = (
        events.select(*FOLD_INPUT_COLUMNS)
        .groupBy(E.play_session_id)
        .agg(
            F.array_sort(F.collect_list(_event_struct())).alias(EVENTS),
            *(first_non_null(name).alias(first_of(name)) for name in SESSION_DIMENSIONS),
        )
        .select(
            E.play_session_id,
            F.element_at(F.col(EVENTS), 1)[_TIME].alias(PS.start_time),
            _fold(F.col(EVENTS), gap_ms).alias(ACC),
            *(first_of(name) for name in SESSION_DIMENSIONS),
        )
    )
    return conform(sessions.select(*outputs(watermark_ms, gap_ms)), PLAY_SESSIONS_SCHEMA)


def _fold(events: Column, gap_ms: int) -> Column:
    """The accumulator after the last event of a sorted array of events."""
    initial = _acc_struct({name: F.lit(init) for name, _, init in _ACC})
    return F.aggregate(events, initial, lambda acc, event: _step(acc, event, gap_ms))


def _event_struct() -> Column:
    """One event as the fold sees it; flags computed here run in generated code,
    once per event, instead of inside the interpreted lambda."""
    event_type = F.col(E.event_type)
    fatal = (event_type == EventType.error) & F.coalesce(F.col(E.error_fatal), F.lit(False))
    closes = event_type.isin(EventType.ended, EventType.view_end) | fatal
    return F.struct(
        F.col(E.event_ts).alias(_TS),
        F.col(E.seq).alias(_SEQ),
        F.col(E.event_id).alias(_ID),
        F.array_position(F.array(*(F.lit(name) for name in EVENT_TYPES)), event_type).cast(INT).alias(_KIND),
        closes.alias(_CLOSES),
        fatal.alias(_FATAL),
        F.col(E.error_code).alias(_CODE),
        F.col(E.bitrate_kbps).alias(_BITRATE),
        F.col(E.playhead_ms).alias(_PLAYHEAD),
        F.col(EVENT_TIME).alias(_TIME),
    )


def first_non_null(name: str) -> Column:
    """(ts, seq, id, value) of the first event carrying `name`; min ignores nulls."""
    value = F.col(name)
    keyed = F.struct(
        F.col(E.event_ts).alias(_TS), F.col(E.seq).alias(_SEQ), F.col(E.event_id).alias(_ID), value.alias("value")
    )
    return F.min(F.when(value.isNotNull(), keyed))


def _acc_struct(fields: dict[str, Column]) -> Column:
    return F.struct(*(fields[name].cast(data_type).alias(name) for name, data_type, _ in _ACC))


def _step(acc: Column, event: Column, gap_ms: int) -> Column:
    """The accumulator after one more event (section 1)."""
    duplicate = acc["prev_id"].eqNullSafe(event[_ID])  # the input should have none
    after_closed = acc["state"] == int(State.closed)
    counted_only = acc.withField("event_count", acc["event_count"] + 1).withField("prev_id", event[_ID])
    return (
        F.when(duplicate, acc)
        # "Events after closed change nothing and count only in event_count."
        .when(after_closed, counted_only)
        .otherwise(_acc_struct(_transition(acc, event, gap_ms)))
    )


def _next_state(acc: Column, event: Column) -> Column:
    """The transition table of section 1, row by row, first match wins."""
    state, first_frame = acc["state"], acc["first_frame"]
    is_kind, is_state = _is_kind(event), _is_state(acc)
    return (
        F.when(event[_CLOSES], int(State.closed))  # fatal error, ended, view_end
        .when(
            is_kind(EventType.play_request) & (is_state(State.idle) | (is_state(State.paused) & ~first_frame)),
            int(State.starting),
        )  # after the first frame, a resume stays paused until `playing`
        .when(is_kind(EventType.playing), int(State.playing))
        .when(
            is_kind(EventType.pause) & is_state(State.starting, State.playing, State.rebuffering, State.seeking),
            int(State.paused),
        )
        .when(_seek_from(acc, event), int(State.seeking))  # seeking during starting is startup
        .when(is_kind(EventType.seek_end) & is_state(State.seeking) & acc["from_paused"], int(State.paused))
        .when(_rebuffer_from(acc, event), int(State.rebuffering))
        .when(is_kind(EventType.buffer_end) & is_state(State.rebuffering), int(State.playing))
        .otherwise(state)
    )


def _is_kind(event: Column) -> Callable[[str], Column]:
    return lambda event_type: event[_KIND] == _kind(event_type)


def _is_state(acc: Column) -> Callable[..., Column]:
    return lambda *states: acc["state"].isin(*(int(s) for s in states))


def _seek_from(acc: Column, event: Column) -> Column:
    """A seek_start that starts a seek (not during starting, not while seeking)."""
    return _is_kind(event)(EventType.seek_start) & _is_state(acc)(State.playing, State.rebuffering, State.paused)


def _rebuffer_from(acc: Column, event: Column) -> Column:
    """A buffer_start that starts rebuffering: while playing content (not in an ad)."""
    return _is_kind(event)(EventType.buffer_start) & _is_state(acc)(State.playing) & ~acc["in_ad"]


def _transition(acc: Column, event: Column, gap_ms: int) -> dict[str, Column]:
    """Every accumulator field after `event`, from the state before it."""
    in_ad, first_frame = acc["in_ad"], acc["first_frame"]
    is_kind, is_state = _is_kind(event), _is_state(acc)

    # The time since the previous event belongs to the state in force after it,
    # unless the gap is over the limit (then to none; the state is kept).
    since_prev = event[_TS] - acc["prev_ts"]
    elapsed = F.when(since_prev.isNull() | (since_prev > gap_ms), F.lit(0)).otherwise(since_prev)

    def time_in(condition: Column) -> Column:
        return F.when(condition, elapsed).otherwise(F.lit(0))

    content_play = is_state(State.playing) & ~in_ad
    bitrate_known = acc["bitrate"].isNotNull()
    new_state = _next_state(acc, event)

    def entered(target: State) -> Column:
        # The lambda is interpreted, with no common subexpressions: each use of
        # `new_state` walks the transition table again. The two states counted on
        # entry are entered by one row of it each, which no earlier row can take
        # (neither event closes or is play_request, playing or pause), and from a
        # state other than themselves.
        if target == State.rebuffering:
            enters = _rebuffer_from(acc, event)
        elif target == State.seeking:
            enters = _seek_from(acc, event)
        else:
            raise ValueError(f"no entry rule for {target!r}")
        return F.when(enters, F.lit(1)).otherwise(F.lit(0))

    bitrate = event[_BITRATE]
    rendition = is_kind(EventType.rendition_change) & bitrate.isNotNull() & bitrate_known
    is_first_frame = is_kind(EventType.playing) & ~first_frame
    return {
        "state": new_state,
        "in_ad": F.when(is_kind(EventType.ad_break_start), True)
        .when(is_kind(EventType.ad_break_end), False)
        .otherwise(in_ad),
        "from_paused": F.when(_seek_from(acc, event), is_state(State.paused)).otherwise(acc["from_paused"]),
        "first_frame": first_frame | is_kind(EventType.playing),
        "requested": acc["requested"] | is_kind(EventType.play_request),
        "requested_before_frame": F.when(is_first_frame, acc["requested"]).otherwise(acc["requested_before_frame"]),
        "bitrate": F.coalesce(bitrate, acc["bitrate"]),
        "prev_ts": event[_TS],
        "prev_id": event[_ID],
        "startup_ms": acc["startup_ms"] + time_in(is_state(State.starting) & ~first_frame),
        "play_ms": acc["play_ms"] + time_in(content_play),
        "ad_ms": acc["ad_ms"] + time_in(is_state(State.playing) & in_ad),
        "rebuffer_ms": acc["rebuffer_ms"] + time_in(is_state(State.rebuffering)),
        "seek_ms": acc["seek_ms"] + time_in(is_state(State.seeking)),
        "pause_ms": acc["pause_ms"] + time_in(is_state(State.paused)),
        "kbps_ms": acc["kbps_ms"] + F.when(content_play & bitrate_known, acc["bitrate"] * elapsed).otherwise(0),
        "bitrate_play_ms": acc["bitrate_play_ms"] + time_in(content_play & bitrate_known),
        "rebuffer_count": acc["rebuffer_count"] + entered(State.rebuffering),
        "seek_count": acc["seek_count"] + entered(State.seeking),
        "error_count": acc["error_count"] + F.when(is_kind(EventType.error), 1).otherwise(0),
        "upshift_count": acc["upshift_count"] + F.when(rendition & (bitrate > acc["bitrate"]), 1).otherwise(0),
        "downshift_count": acc["downshift_count"] + F.when(rendition & (bitrate < acc["bitrate"]), 1).otherwise(0),
        "event_count": acc["event_count"] + 1,
        "fatal": acc["fatal"] | event[_FATAL],
        # Only the first fatal error is ever folded: it closes the session.
        "fatal_code": F.when(event[_FATAL], event[_CODE]).otherwise(acc["fatal_code"]),
        "playback_failure": acc["playback_failure"] | (event[_FATAL] & first_frame),
        "completed": acc["completed"] | is_kind(EventType.ended),
        "max_playhead": F.greatest(acc["max_playhead"], event[_PLAYHEAD]),
        # Section 2 says end_time is "the last event"; section 1 says events after
        # closed "count only in event_count": end_time is the last event that
        # counts, so a stray event hours after `ended` does not stretch the session.
        "end_time": event[_TIME],
        "closed_at": F.when(event[_CLOSES], F.struct(*(event[name].alias(name) for name in _KEY))).otherwise(
            acc["closed_at"]
        ),
    }


def outputs(watermark_ms: int, gap_ms: int) -> list[Column]:
    """The section 2 columns from `play_session_id`, `start_time`, the accumulator
    and each dimension's first (ts, seq, id, value)."""
    acc = F.col(ACC)
    closed = acc["closed_at"].isNotNull()
    is_final = closed | ((F.lit(watermark_ms) - F.unix_millis(acc["end_time"])) > gap_ms)
    startup_time = F.when(acc["first_frame"] & acc["requested_before_frame"], acc["startup_ms"])
    # qoe-metrics.md section 2 writes watch time as "`startup` + `play` + `ad` +
    # `rebuffer` + `seek` time": read as the sum of those columns, startup_time_ms
    # counting 0 when it is null, so that the identity holds row by row. (Time in
    # starting of a session that never showed a frame is therefore not watch time.)
    watch_time = (
        F.coalesce(startup_time, F.lit(0)) + acc["play_ms"] + acc["ad_ms"] + acc["rebuffer_ms"] + acc["seek_ms"]
    )
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
    closed_at = acc["closed_at"]

    def dimension(name: str) -> Column:
        # Section 1: events after closed change nothing, so a value that first
        # appears after the closing event does not count either.
        first = F.col(first_of(name))
        first_key = F.struct(*(first[key].alias(key) for key in _KEY))
        return F.when(closed_at.isNull() | (first_key <= closed_at), first["value"])

    dimensions = {name: dimension(name) for name in SESSION_DIMENSIONS}
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
