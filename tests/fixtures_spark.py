"""Spark fixtures and helpers: one SparkSession for the whole suite, and events
built inline from (ts, event_type, fields) tuples."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.contract import EVENT_FIELDS, E
from schemas.tables import spark_event_schema

# 2026-03-01T12:00:00Z: the origin that event timestamps in tests count from.
ORIGIN_MS = 1_772_366_400_000
MINUTE_MS = 60_000
_IDS = uuid.UUID("6f1c1d2e-0000-4000-8000-000000000000")

# (ts in ms from the origin, event_type) or (ts, event_type, {field: value})
Event = tuple[int, str] | tuple[int, str, Mapping[str, Any]]


@pytest.fixture(scope="session")
def spark():
    """The suite's one SparkSession (about 5-10 s to start; then shared by all).

    Two shuffle partitions and one for Delta's log replay: the test frames and
    tables are tiny, and every partition is a task."""
    from spark_jobs.spark import build_session

    tiny = {"spark.sql.shuffle.partitions": "2", "spark.databricks.delta.snapshotPartitions": "1"}
    session = build_session("local", app_name="ottlake-tests", conf=tiny)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def event_rows(
    play_session_id: str,
    events: Sequence[Event],
    *,
    origin_ms: int = ORIGIN_MS,
    **session_fields: Any,
) -> list[dict[str, Any]]:
    """Bronze-shaped rows of one play session: `seq` follows the list order, the
    event_id is derived from (session, seq), and `session_fields` (viewer_id,
    content_type, cdn, ...) go on every event unless an event's own fields say
    otherwise. `event_time` is derived as player-events.md 'Time' says."""
    base = {
        E.schema_version: 1,
        E.viewer_id: "viewer-1",
        E.content_id: "content-1",
        E.content_type: "vod",
        **session_fields,
    }
    rows = []
    for seq, event in enumerate(events):
        ts, event_type, fields = (*event, {})[:3] if len(event) == 2 else event  # type: ignore[misc]
        row = {name: None for name in EVENT_FIELDS}
        row.update(base)
        row.update(
            {
                E.event_id: str(uuid.uuid5(_IDS, f"{play_session_id}/{seq}")),
                E.event_type: event_type,
                E.event_ts: origin_ms + ts,
                E.seq: seq,
                E.play_session_id: play_session_id,
            }
        )
        row.update(fields)
        if row[E.received_ts] is None:
            row[E.received_ts] = row[E.event_ts]
        derived = row[E.event_ts]
        if row[E.sent_ts] is not None:
            derived = row[E.received_ts] - (row[E.sent_ts] - row[E.event_ts])
        row["event_time"] = datetime.fromtimestamp(derived / 1000, tz=UTC)
        rows.append(row)
    return rows


def events_frame(spark, rows: Iterable[Mapping[str, Any]]):
    """A DataFrame of the bronze table's shape: the contract's columns + event_time."""
    from pyspark.sql import types as T

    from schemas.tables import EVENT_TIME

    schema = T.StructType([*spark_event_schema().fields, T.StructField(EVENT_TIME, T.TimestampType())])
    return spark.createDataFrame([tuple(row[field.name] for field in schema.fields) for row in rows], schema)


DAY_MS = 86_400_000
# Time columns of a play session, by the state (or ad flag) they measure.
_TIME_COLUMNS = {
    "starting": "startup_time_ms",
    "playing": "play_time_ms",
    "ad": "ad_time_ms",
    "rebuffering": "rebuffer_time_ms",
    "seeking": "seek_time_ms",
    "paused": "pause_time_ms",
}


def spent(session: Mapping[str, Any]) -> dict[str, int]:
    """{state: ms} of a play_sessions row, leaving out states with no time, so that
    one equality pins every time column at once."""
    return {state: session[column] for state, column in _TIME_COLUMNS.items() if session[column]}


class SessionCases:
    """Many tiny play sessions, declared next to the tests that read them and
    folded together by one `play_sessions` run (one Spark job for a whole module).

    The watermark is a day after the origin, so an unclosed session is final
    unless it was placed near the watermark on purpose."""

    def __init__(self, *, watermark_ms: int = ORIGIN_MS + DAY_MS) -> None:
        self.watermark_ms = watermark_ms
        self.rows: list[dict[str, Any]] = []
        self._names: set[str] = set()

    def add(self, name: str, events: Sequence[Event], **options: Any) -> str:
        assert name not in self._names, f"two cases named {name}"
        self._names.add(name)
        self.rows.extend(event_rows(name, events, **options))
        return name

    def fold(self, spark) -> dict[str, dict[str, Any]]:
        from spark_jobs.transforms.sessions import play_sessions

        folded = play_sessions(events_frame(spark, self.rows), watermark_ms=self.watermark_ms)
        return {row[E.play_session_id]: row.asDict() for row in folded.collect()}


def play_sessions_frame(spark, sessions: Iterable[Mapping[str, Any]]):
    """A DataFrame with the play_sessions schema: each session's given columns, the
    rest defaulted (0, False, null; a start and end at the origin)."""
    from spark_jobs.columns import PLAY_SESSIONS_SCHEMA

    origin = datetime.fromtimestamp(ORIGIN_MS / 1000, tz=UTC)
    defaults: dict[str, Any] = {
        E.viewer_id: "viewer-1",
        E.content_id: "content-1",
        E.content_type: "vod",
        "start_time": origin,
        "end_time": origin,
        "session_date": origin.date(),
        "start_outcome": "started",
    }
    for field in PLAY_SESSIONS_SCHEMA.fields:
        if field.name not in defaults and not field.nullable:
            kind = field.dataType.typeName()
            defaults[field.name] = {"long": 0, "double": 0.0, "boolean": False}.get(kind)
    rows = []
    for number, given in enumerate(sessions):
        row = {**defaults, E.play_session_id: f"session-{number}", **given}
        rows.append(tuple(row.get(field.name) for field in PLAY_SESSIONS_SCHEMA.fields))
    return spark.createDataFrame(rows, PLAY_SESSIONS_SCHEMA)
