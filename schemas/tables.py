"""Every lake table's columns, defined once, with Spark and Arrow schemas derived.

A table is a tuple of `Column`s (name, type, nullable, comment), in plain Python:
the contract imports neither pyspark nor pyarrow, and each engine's schema is made
from the one definition when asked (`Table.spark()`, `Table.arrow()`), so Spark's
writes, delta-rs's reads and the docs can never drift apart. The event columns come
from the contract's JSON Schema (schemas.contract); the meanings of the session and
QoE columns are shared/spec/qoe-metrics.md's (sections 2, 3 and 4). Column names are
constants (`PS.watch_time_ms`): a typo is an AttributeError, never a null column.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, Union

from schemas.contract import EVENT_FIELDS, REQUIRED_FIELDS, E, field_kind

# A column's type: a scalar name, or ("array", item), ("map", key, value),
# ("struct", ((name, type), ...)).
Scalar = Literal["long", "double", "string", "boolean", "timestamp", "date", "binary"]
Type = Union[Scalar, tuple[Any, ...]]  # noqa: UP007 - a recursive alias
Engine = Literal["spark", "arrow"]

STRING_MAP: Type = ("map", "string", "string")
STRING_ARRAY: Type = ("array", "string")
VIOLATIONS_TYPE: Type = ("array", ("struct", (("field", "string"), ("reason", "string"))))
# The contract's JSON types as column types.
_FROM_JSON: dict[str, Type] = {"integer": "long", "string": "string", "boolean": "boolean", "object": STRING_MAP}


@dataclass(frozen=True)
class Column:
    name: str
    type: Type
    nullable: bool
    comment: str = ""

    def spark(self) -> Any:
        from pyspark.sql import types as T

        metadata = {"comment": self.comment} if self.comment else {}
        return T.StructField(self.name, spark_type(self.type), self.nullable, metadata=metadata)

    def arrow(self) -> Any:
        import pyarrow as pa

        return pa.field(self.name, arrow_type(self.type), self.nullable)


@dataclass(frozen=True)
class Table:
    """One table's columns, and where it lives under the lake root (schemas.layout)."""

    name: str
    columns: tuple[Column, ...]
    partition_by: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)

    def spark(self) -> Any:
        """pyspark StructType (imported only here)."""
        from pyspark.sql import types as T

        return T.StructType([column.spark() for column in self.columns])

    def arrow(self) -> Any:
        """pyarrow Schema (imported only here)."""
        import pyarrow as pa

        return pa.schema([column.arrow() for column in self.columns])


def spark_type(kind: Type) -> Any:
    from pyspark.sql import types as T

    scalars = {"long": T.LongType(), "double": T.DoubleType(), "string": T.StringType(),
               "boolean": T.BooleanType(), "timestamp": T.TimestampType(), "date": T.DateType(),
               "binary": T.BinaryType()}
    if isinstance(kind, str):
        return scalars[kind]
    if kind[0] == "array":
        return T.ArrayType(spark_type(kind[1]))
    if kind[0] == "map":
        return T.MapType(spark_type(kind[1]), spark_type(kind[2]))
    return T.StructType([T.StructField(name, spark_type(item)) for name, item in kind[1]])


def arrow_type(kind: Type) -> Any:
    import pyarrow as pa

    # Spark's TimestampType is UTC microseconds; its DateType days.
    scalars = {"long": pa.int64(), "double": pa.float64(), "string": pa.string(), "boolean": pa.bool_(),
               "timestamp": pa.timestamp("us", tz="UTC"), "date": pa.date32(), "binary": pa.binary()}
    if isinstance(kind, str):
        return scalars[kind]
    if kind[0] == "array":
        return pa.list_(arrow_type(kind[1]))
    if kind[0] == "map":
        return pa.map_(arrow_type(kind[1]), arrow_type(kind[2]))
    return pa.struct([pa.field(name, arrow_type(item)) for name, item in kind[1]])


# --- the contract's events -------------------------------------------------------------


def event_columns(*, nullable_required: bool = True) -> tuple[Column, ...]:
    """The contract's fields as columns, in schema order.

    `nullable_required=True` is the parsing view (a missing required field must
    parse to null so the job can quarantine it with a reason); False is the view of
    a table that holds only valid events."""
    return tuple(
        Column(name, _FROM_JSON[field_kind(name)], nullable_required or name not in REQUIRED_FIELDS)
        for name in EVENT_FIELDS
    )


def event_fields(engine: Engine, *, nullable_required: bool = True) -> list[Any]:
    """The contract's fields as Spark StructFields or Arrow fields, in schema order."""
    return [column.spark() if engine == "spark" else column.arrow()
            for column in event_columns(nullable_required=nullable_required)]


def spark_event_schema(*, nullable_required: bool = True) -> Any:
    """pyspark StructType of one player event."""
    return Table("events", event_columns(nullable_required=nullable_required)).spark()


def arrow_event_schema(*, nullable_required: bool = True) -> Any:
    """pyarrow Schema of one player event."""
    return Table("events", event_columns(nullable_required=nullable_required)).arrow()


# --- bronze and the quarantine (DESIGN.md, Lake layout) ----------------------------------

EVENT_TIME = "event_time"
EVENT_DATE = "event_date"
SOURCE_OBJECT = "source_object"
INGEST_TS = "ingest_ts"


def _bronze_event_column(column: Column) -> Column:
    # player-events.md, Envelope, received_ts: filled at ingest, so never null here.
    return Column(column.name, column.type, column.nullable and column.name != E.received_ts)


BRONZE = Table(
    "player_events",
    (
        *(_bronze_event_column(column) for column in event_columns(nullable_required=False)),
        Column(EVENT_TIME, "timestamp", False, "received_ts - (sent_ts - event_ts), else event_ts (UTC)"),
        Column(EVENT_DATE, "date", False, "UTC date of event_time; the partition column"),
        Column(SOURCE_OBJECT, "string", False, "raw object the line came from"),
        Column(INGEST_TS, "timestamp", False, "time of the bronze run that wrote it"),
    ),
    partition_by=(EVENT_DATE,),
)
QUARANTINE = Table(
    "quarantine",
    (
        Column("line", "string", False, "the raw line, as received"),
        Column("reason", "string", False, "first reason, in schemas.validate.Reason order"),
        Column("reasons", STRING_ARRAY, False, "every distinct reason, in Reason order"),
        Column("fields", STRING_ARRAY, False, "fields involved; '' is the whole event"),
        Column("violations", VIOLATIONS_TYPE, False, "every (field, reason), as schemas.validate reports them"),
        Column(SOURCE_OBJECT, "string", False, "raw object the line came from"),
        Column(INGEST_TS, "timestamp", False, "time of the bronze run that read it"),
    ),
)

# --- play sessions, viewer sessions, aggregates (qoe-metrics.md sections 2-4) ------------

# Section 2: "the first non-null value in event order".
SESSION_DIMENSIONS: tuple[str, ...] = (
    E.viewer_id, E.content_id, E.content_type, E.content_duration_ms, E.device_type, E.os_name, E.player_name,
    E.player_version, E.app_version, E.cdn, E.country, E.connection_type,
)
# Section 4: the aggregates' dimensions (null is a group of its own).
QOE_DIMENSIONS: tuple[str, ...] = (E.content_type, E.device_type, E.os_name, E.player_name, E.cdn, E.country)
_VALID_EVENT = {column.name: column for column in event_columns(nullable_required=False)}


def _dimension(name: str, *, nullable: bool | None = None, comment: str = "first non-null value in event order"
               ) -> Column:
    """A dimension column: the contract's type; nullable unless the contract requires it."""
    source = _VALID_EVENT[name]
    return Column(name, source.type, source.nullable if nullable is None else nullable, comment)


PLAY_SESSIONS = Table(
    "play_sessions",
    (
        Column(E.play_session_id, "string", False, "one playback attempt of one content item; the key"),
        Column("startup_time_ms", "long", True,
               "time in starting before the first frame; null without a first frame or a play_request before it"),
        Column("play_time_ms", "long", False, "time in playing outside ads"),
        Column("ad_time_ms", "long", False, "time in playing during an ad break"),
        Column("rebuffer_time_ms", "long", False, "time in rebuffering"),
        Column("rebuffer_count", "long", False, "entries into rebuffering"),
        Column("seek_time_ms", "long", False, "time in seeking"),
        Column("seek_count", "long", False, "entries into seeking"),
        Column("pause_time_ms", "long", False, "time in paused"),
        Column("watch_time_ms", "long", False,
               "time in starting (with or without a first frame) + play + ad + rebuffer + seek time; pause excluded"),
        Column("rebuffer_ratio", "double", True, "rebuffer_time_ms / watch_time_ms; null when watch time is 0"),
        Column("start_outcome", "string", False, "started, start_failure, exit_before_start, no_attempt or in_progress"),
        Column("playback_failure", "boolean", False, "a fatal error after the first frame"),
        Column("error_count", "long", False, "error events"),
        Column("fatal_error_code", "string", True, "error_code of the first fatal error"),
        Column("avg_bitrate_kbps", "double", True,
               "played_kbits * 1000 / bitrate_play_ms; null when bitrate_play_ms is 0"),
        Column("played_kbits", "double", False, "sum over content play time of bitrate in force (kbps) x seconds"),
        Column("bitrate_play_ms", "long", False, "content play time with a bitrate in force"),
        Column("upshift_count", "long", False, "rendition_change to a higher bitrate than the one in force"),
        Column("downshift_count", "long", False, "rendition_change to a lower bitrate than the one in force"),
        Column("max_playhead_ms", "long", True, "largest playhead_ms seen"),
        Column("percent_complete", "double", True, "vod with a duration: min(1, max_playhead_ms / content_duration_ms)"),
        Column("completed", "boolean", False, "an ended event was seen"),
        Column("event_count", "long", False, "distinct events of the session, after closed included"),
        Column("start_time", "timestamp", False, "derived event_time of the first event (UTC)"),
        Column("end_time", "timestamp", False, "derived event_time of the last event that counts (UTC)"),
        Column("session_date", "date", False, "UTC date of start_time; the partition column"),
        Column("is_final", "boolean", False, "closed, or the last event more than 30 minutes before the watermark"),
        *(_dimension(name) for name in SESSION_DIMENSIONS),
    ),
    partition_by=("session_date",),
)
VIEWER_SESSIONS = Table(
    "viewer_sessions",
    (
        Column(E.viewer_id, "string", False, "pseudonymous viewer"),
        Column("viewer_session_id", "string", False, "viewer_id:epoch ms of the first start_time; the key"),
        Column("start_time", "timestamp", False, "first start_time of its play sessions"),
        Column("end_time", "timestamp", False, "latest end_time of its play sessions"),
        Column("play_sessions", "long", False, "play sessions in it"),
        Column("watch_time_ms", "long", False, "sum of the play sessions' watch_time_ms"),
        Column("session_date", "date", False, "UTC date of start_time; the partition column"),
    ),
    partition_by=("session_date",),
)
_QOE_METRICS = (
    Column("sessions", "long", False, "play sessions"),
    Column("attempts", "long", False, "sessions that started, failed to start or exited before start"),
    Column("starts", "long", False, "start_outcome started"),
    Column("start_failures", "long", False, "start_outcome start_failure"),
    Column("exits_before_start", "long", False, "start_outcome exit_before_start"),
    Column("playback_failures", "long", False, "sessions with playback_failure"),
    Column("unique_viewers", "long", False, "distinct viewer_id (exact)"),
    Column("watch_time_ms", "long", False, "sum"),
    Column("play_time_ms", "long", False, "sum"),
    Column("rebuffer_time_ms", "long", False, "sum"),
    Column("rebuffer_count", "long", False, "sum"),
    Column("startup_time_p50_ms", "long", True, "median of non-null startup_time_ms (approximate)"),
    Column("startup_time_p95_ms", "long", True, "95th percentile of non-null startup_time_ms (approximate)"),
    Column("start_failure_rate", "double", True, "start_failures / attempts"),
    Column("exit_before_start_rate", "double", True, "exits_before_start / attempts"),
    Column("playback_failure_rate", "double", True, "(start_failures + playback_failures) / attempts"),
    Column("rebuffer_ratio", "double", True, "sum rebuffer_time_ms / sum watch_time_ms"),
    Column("rebuffers_per_minute", "double", True, "sum rebuffer_count / (sum watch_time_ms / 60000)"),
    Column("avg_bitrate_kbps", "double", True, "sum played_kbits * 1000 / sum bitrate_play_ms"),
)
_QOE_GROUPS = tuple(_dimension(name, nullable=True, comment="group; null is a group of its own")
                    for name in QOE_DIMENSIONS)
QOE_HOURLY = Table(
    "qoe_hourly", (Column("hour", "timestamp", False, "UTC start hour of the sessions"), *_QOE_GROUPS, *_QOE_METRICS)
)
QOE_DAILY = Table(
    "qoe_daily",
    (Column("session_date", "date", False, "UTC date of the sessions' start"), *_QOE_GROUPS, *_QOE_METRICS),
)

# --- the lake's own bookkeeping: _state/ and _quality/ -----------------------------------

# (No comments: tables made before they had any keep their schema.)
RAW_OBJECTS = Table(
    "raw_objects",
    (
        Column("path", "string", False),  # a raw object bronze has read
        Column("size", "long", False),  # its size in bytes then
        Column("modified_ms", "long", False),  # its write time then (epoch ms)
        Column("run_id", "string", False),
        Column("consumed_at", "timestamp", False),
        # Its arrival hour by its key (null outside the layout): the runs after read
        # only the recent ones, skipping older files by Delta's statistics. Added in
        # 2026-12 (a lake made before gains it with its next append, null in old rows).
        Column("arrival_hour", "timestamp", True),
    ),
)
MARKS = Table(
    "marks",
    (
        Column("job", "string", False),
        Column("input_version", "long", False),  # the version of its input table consumed up to
        Column("watermark_ms", "long", True),  # the largest received_ts seen so far (qoe-metrics.md section 2)
        Column("updated_at", "timestamp", False),
    ),
)
QUALITY_RESULTS = Table(
    "results",
    (
        Column("run_id", "string", False, "one `ottlake batch` run (or one job run)"),
        Column("stage", "string", False, "bronze, sessions, viewer_sessions, aggregates"),
        Column("suite", "string", False, "quality.suites name"),
        Column("expectation", "string", False, "expectation type(columns)"),
        Column("critical", "boolean", False, "a failure stops the stage"),
        Column("success", "boolean", False, "whether the expectation held"),
        Column("observed_value", "string", True, "as GX reports it (JSON)"),
        Column("unexpected_count", "long", True, "rows that broke a row-wise rule"),
        Column("rows", "long", True, "rows the gate validated"),
        Column("gate_seconds", "double", False, "the suite's validation, recording excluded"),
        Column("checked_at", "timestamp", False, "when the gate ran (UTC)"),
    ),
)

# The tables analysts query, by their short names (DESIGN.md, Lake layout).
LAKE_TABLES: dict[str, Table] = {
    "player_events": BRONZE,
    "quarantine": QUARANTINE,
    "play_sessions": PLAY_SESSIONS,
    "viewer_sessions": VIEWER_SESSIONS,
    "qoe_hourly": QOE_HOURLY,
    "qoe_daily": QOE_DAILY,
    "quality_results": QUALITY_RESULTS,
}


def _names(*tables: Table) -> dict[str, str]:
    return {name: name for table in tables for name in table.names}


# Column names as constants, from the tables above.
PS = StrEnum("PS", _names(PLAY_SESSIONS))  # type: ignore[misc]
VS = StrEnum("VS", _names(VIEWER_SESSIONS))  # type: ignore[misc]
QOE = StrEnum("QOE", _names(QOE_HOURLY, QOE_DAILY))  # type: ignore[misc]
