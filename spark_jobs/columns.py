"""Output schemas of the silver and gold tables, each defined once.

Every transform ends with `conform(frame, SCHEMA)`, so the StructType below is at
the same time the table's contract (names, order, types; each column's meaning as
its `comment`, which Delta shows to analysts) and where the column-name constants
come from: `PS.watch_time_ms` is an AttributeError when misspelt, never a silent
null column. Dimension types are taken from the event contract, not retyped.
Meanings: shared/spec/qoe-metrics.md (sections 2, 3 and 4).
"""

from __future__ import annotations

from enum import StrEnum

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from schemas.contract import E
from schemas.tables import spark_event_schema

_EVENT_FIELDS = {field.name: field for field in spark_event_schema(nullable_required=False)}

LONG = T.LongType()
DOUBLE = T.DoubleType()
STRING = T.StringType()
BOOLEAN = T.BooleanType()
TIMESTAMP = T.TimestampType()
DATE = T.DateType()

# qoe-metrics.md section 2: "the first non-null value in event order".
SESSION_DIMENSIONS: tuple[str, ...] = (
    E.viewer_id,
    E.content_id,
    E.content_type,
    E.content_duration_ms,
    E.device_type,
    E.os_name,
    E.player_name,
    E.player_version,
    E.app_version,
    E.cdn,
    E.country,
    E.connection_type,
)
# qoe-metrics.md section 4: the aggregates' dimensions (null is a group of its own).
QOE_DIMENSIONS: tuple[str, ...] = (E.content_type, E.device_type, E.os_name, E.player_name, E.cdn, E.country)


def _field(name: str, data_type: T.DataType, nullable: bool, comment: str) -> T.StructField:
    return T.StructField(name, data_type, nullable, metadata={"comment": comment})


def _event_field(name: str) -> T.StructField:
    """A dimension column: the contract's type; nullable unless the contract requires it."""
    source = _EVENT_FIELDS[name]
    return _field(name, source.dataType, source.nullable, "first non-null value in event order")


PLAY_SESSIONS_SCHEMA = T.StructType(
    [
        _field(E.play_session_id, STRING, False, "one playback attempt of one content item; the key"),
        _field(
            "startup_time_ms",
            LONG,
            True,
            "time in starting before the first frame; null without a first frame or a play_request before it",
        ),
        _field("play_time_ms", LONG, False, "time in playing outside ads"),
        _field("ad_time_ms", LONG, False, "time in playing during an ad break"),
        _field("rebuffer_time_ms", LONG, False, "time in rebuffering"),
        _field("rebuffer_count", LONG, False, "entries into rebuffering"),
        _field("seek_time_ms", LONG, False, "time in seeking"),
        _field("seek_count", LONG, False, "entries into seeking"),
        _field("pause_time_ms", LONG, False, "time in paused"),
        _field(
            "watch_time_ms",
            LONG,
            False,
            "time in starting (with or without a first frame) + play + ad + rebuffer + seek time; pause excluded",
        ),
        _field("rebuffer_ratio", DOUBLE, True, "rebuffer_time_ms / watch_time_ms; null when watch time is 0"),
        _field("start_outcome", STRING, False, "started, start_failure, exit_before_start, no_attempt or in_progress"),
        _field("playback_failure", BOOLEAN, False, "a fatal error after the first frame"),
        _field("error_count", LONG, False, "error events"),
        _field("fatal_error_code", STRING, True, "error_code of the first fatal error"),
        _field(
            "avg_bitrate_kbps", DOUBLE, True, "played_kbits * 1000 / bitrate_play_ms; null when bitrate_play_ms is 0"
        ),
        _field("played_kbits", DOUBLE, False, "sum over content play time of bitrate in force (kbps) x seconds"),
        _field("bitrate_play_ms", LONG, False, "content play time with a bitrate in force"),
        _field("upshift_count", LONG, False, "rendition_change to a higher bitrate than the one in force"),
        _field("downshift_count", LONG, False, "rendition_change to a lower bitrate than the one in force"),
        _field("max_playhead_ms", LONG, True, "largest playhead_ms seen"),
        _field("percent_complete", DOUBLE, True, "vod with a duration: min(1, max_playhead_ms / content_duration_ms)"),
        _field("completed", BOOLEAN, False, "an ended event was seen"),
        _field("event_count", LONG, False, "distinct events of the session, after closed included"),
        _field("start_time", TIMESTAMP, False, "derived event_time of the first event (UTC)"),
        _field("end_time", TIMESTAMP, False, "derived event_time of the last event that counts (UTC)"),
        _field("session_date", DATE, False, "UTC date of start_time; the partition column"),
        _field("is_final", BOOLEAN, False, "closed, or the last event more than 30 minutes before the watermark"),
        *(_event_field(name) for name in SESSION_DIMENSIONS),
    ]
)

VIEWER_SESSIONS_SCHEMA = T.StructType(
    [
        _field(E.viewer_id, STRING, False, "pseudonymous viewer"),
        _field("viewer_session_id", STRING, False, "viewer_id:epoch ms of the first start_time; the key"),
        _field("start_time", TIMESTAMP, False, "first start_time of its play sessions"),
        _field("end_time", TIMESTAMP, False, "latest end_time of its play sessions"),
        _field("play_sessions", LONG, False, "play sessions in it"),
        _field("watch_time_ms", LONG, False, "sum of the play sessions' watch_time_ms"),
        _field("session_date", DATE, False, "UTC date of start_time; the partition column"),
    ]
)

_QOE_METRICS = [
    _field("sessions", LONG, False, "play sessions"),
    _field("attempts", LONG, False, "sessions that started, failed to start or exited before start"),
    _field("starts", LONG, False, "start_outcome started"),
    _field("start_failures", LONG, False, "start_outcome start_failure"),
    _field("exits_before_start", LONG, False, "start_outcome exit_before_start"),
    _field("playback_failures", LONG, False, "sessions with playback_failure"),
    _field("unique_viewers", LONG, False, "distinct viewer_id (exact)"),
    _field("watch_time_ms", LONG, False, "sum"),
    _field("play_time_ms", LONG, False, "sum"),
    _field("rebuffer_time_ms", LONG, False, "sum"),
    _field("rebuffer_count", LONG, False, "sum"),
    _field("startup_time_p50_ms", LONG, True, "median of non-null startup_time_ms (approximate)"),
    _field("startup_time_p95_ms", LONG, True, "95th percentile of non-null startup_time_ms (approximate)"),
    _field("start_failure_rate", DOUBLE, True, "start_failures / attempts"),
    _field("exit_before_start_rate", DOUBLE, True, "exits_before_start / attempts"),
    _field("playback_failure_rate", DOUBLE, True, "(start_failures + playback_failures) / attempts"),
    _field("rebuffer_ratio", DOUBLE, True, "sum rebuffer_time_ms / sum watch_time_ms"),
    _field("rebuffers_per_minute", DOUBLE, True, "sum rebuffer_count / (sum watch_time_ms / 60000)"),
    _field("avg_bitrate_kbps", DOUBLE, True, "sum played_kbits * 1000 / sum bitrate_play_ms"),
]
_QOE_DIMENSION_FIELDS = [
    _field(name, _EVENT_FIELDS[name].dataType, True, "group; null is a group of its own") for name in QOE_DIMENSIONS
]
QOE_HOURLY_SCHEMA = T.StructType(
    [_field("hour", TIMESTAMP, False, "UTC start hour of the sessions"), *_QOE_DIMENSION_FIELDS, *_QOE_METRICS]
)
QOE_DAILY_SCHEMA = T.StructType(
    [_field("session_date", DATE, False, "UTC date of the sessions' start"), *_QOE_DIMENSION_FIELDS, *_QOE_METRICS]
)


def _names(*schemas: T.StructType) -> dict[str, str]:
    return {field.name: field.name for schema in schemas for field in schema.fields}


# Column names as constants, from the schemas above.
PS = StrEnum("PS", _names(PLAY_SESSIONS_SCHEMA))  # type: ignore[misc]
VS = StrEnum("VS", _names(VIEWER_SESSIONS_SCHEMA))  # type: ignore[misc]
QOE = StrEnum("QOE", _names(QOE_HOURLY_SCHEMA, QOE_DAILY_SCHEMA))  # type: ignore[misc]


class StartOutcome(StrEnum):
    """Values of `start_outcome` (qoe-metrics.md section 2)."""

    started = "started"
    start_failure = "start_failure"
    exit_before_start = "exit_before_start"
    no_attempt = "no_attempt"
    in_progress = "in_progress"


def conform(frame: DataFrame, schema: T.StructType) -> DataFrame:
    """The closing select of a transform: exactly the schema's columns, in its
    order, with its types and comments."""
    return frame.select(
        *(F.col(field.name).cast(field.dataType).alias(field.name, metadata=field.metadata) for field in schema.fields)
    )


# The bronze table's one column beyond the contract: player-events.md, Time, the
# derived calendar time `received_ts - (sent_ts - event_ts)` (else `event_ts`).
EVENT_TIME = "event_time"
