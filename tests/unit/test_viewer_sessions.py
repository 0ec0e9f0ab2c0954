"""Viewer sessions (qoe-metrics.md section 3)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from spark_jobs.columns import VIEWER_SESSIONS_SCHEMA
from spark_jobs.transforms.viewers import viewer_sessions
from tests.fixtures_spark import ORIGIN_MS, play_sessions_frame

ORIGIN = datetime.fromtimestamp(ORIGIN_MS / 1000, tz=UTC)


def at(minutes: float) -> datetime:
    return ORIGIN + timedelta(minutes=minutes)


def play(viewer: str, name: str, start: float, end: float, watch_ms: int = 1000) -> dict:
    return {
        "viewer_id": viewer,
        "play_session_id": name,
        "start_time": at(start),
        "end_time": at(end),
        "watch_time_ms": watch_ms,
    }


PLAY_SESSIONS = [
    # A long session with a short one inside it: the third starts 120 minutes after
    # the short one ends but only 20 after the long one: still one viewer session.
    play("viewer-a", "a-long", 0, 120, watch_ms=7_000_000),
    play("viewer-a", "a-short-inside", 10, 20, watch_ms=500_000),
    play("viewer-a", "a-after", 140, 150, watch_ms=600_000),
    # 50 minutes after the latest end (150): a new viewer session.
    play("viewer-a", "a-next", 200, 201, watch_ms=60_000),
    # Exactly 30 minutes after the latest end (201) joins; 30 min + 1 ms does not.
    play("viewer-a", "a-at-30", 231, 232, watch_ms=1),
    play("viewer-a", "a-over-30", 262 + 1 / 60_000, 263, watch_ms=2),
    # Another viewer, interleaved in time, stays apart.
    play("viewer-b", "b-one", 5, 6, watch_ms=3),
]


@pytest.fixture(scope="module")
def by_id(spark):
    frame = viewer_sessions(play_sessions_frame(spark, PLAY_SESSIONS))
    return {row["viewer_session_id"]: row.asDict() for row in frame.collect()}


def session_id(viewer: str, start: datetime) -> str:
    return f"{viewer}:{int(start.timestamp() * 1000)}"


def test_a_running_maximum_of_end_time_keeps_a_long_session_together(by_id):
    first = by_id[session_id("viewer-a", at(0))]
    assert (first["play_sessions"], first["watch_time_ms"]) == (3, 8_100_000)
    assert (first["start_time"].timestamp(), first["end_time"].timestamp()) == (at(0).timestamp(), at(150).timestamp())


def test_30_minutes_after_the_latest_end_joins_and_more_splits(by_id):
    second = by_id[session_id("viewer-a", at(200))]
    assert (second["play_sessions"], second["watch_time_ms"]) == (2, 60_001)
    third = by_id[session_id("viewer-a", at(262 + 1 / 60_000))]
    assert (third["play_sessions"], third["watch_time_ms"]) == (1, 2)


def test_viewers_are_apart_and_ids_are_viewer_and_epoch_ms(by_id):
    assert sorted(by_id) == sorted(
        [
            f"viewer-a:{ORIGIN_MS}",
            f"viewer-a:{ORIGIN_MS + 200 * 60_000}",
            f"viewer-a:{ORIGIN_MS + 262 * 60_000 + 1}",
            f"viewer-b:{ORIGIN_MS + 5 * 60_000}",
        ]
    )
    assert by_id[f"viewer-b:{ORIGIN_MS + 5 * 60_000}"]["play_sessions"] == 1
    assert {row["session_date"] for row in by_id.values()} == {date(2026, 3, 1)}


def test_output_has_the_viewer_sessions_schema(spark):
    frame = viewer_sessions(play_sessions_frame(spark, PLAY_SESSIONS[:1]))
    assert [(f.name, f.dataType) for f in frame.schema] == [(f.name, f.dataType) for f in VIEWER_SESSIONS_SCHEMA]
