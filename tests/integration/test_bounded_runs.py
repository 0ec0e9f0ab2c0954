"""A run's cost follows its new data, not the lake's age (issue 23).

A lake holds 30 days of events; then events arrive on its last day. Every data file
the next run must not read is made unreadable first: bronze's, play_sessions' and
viewer_sessions' partitions older than the longest session allows, and the raw
objects of the older days. The run succeeds, so it read none of them (a read of any
would fail on its bytes), and it builds the new sessions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from consumers.raw_zone import LocalRawZone
from ottlake.cli.main import main
from producers.simulator import FaultRates, SimConfig, simulate
from producers.simulator.landing import land
from schemas.layout import Lake

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAY_MS = 86_400_000
START_MS = 1_772_323_200_000  # 2026-03-01T00:00:00Z
STREAM = "ottlake-player-events"
NO_FAULTS = FaultRates(duplicate=0.0, out_of_order=0.0, late=0.0, skew=0.0)


def _land_day(lake_dir: Path, day: int, *, seed: int, hour: int = 0) -> set[str]:
    simulation = simulate(SimConfig(viewers=2, minutes=15, seed=seed, start_ms=START_MS + day * DAY_MS + hour * 3_600_000,
                                    faults=NO_FAULTS))
    land(simulation.deliveries, LocalRawZone(lake_dir), stream_name=STREAM)
    return {session.truth["play_session_id"] for session in simulation.sessions}


def _unreadable(files: list[Path]) -> int:
    for path in files:
        path.write_bytes(b"not the bytes this file had")
    return len(files)


def _older_partitions(table: str, column: str, before: str) -> list[Path]:
    return [path for folder in Path(table).glob(f"{column}=*") if folder.name.split("=", 1)[1] < before
            for path in folder.glob("*.parquet")]


def test_a_run_reads_only_the_partitions_its_new_events_can_touch(tmp_path, spark, capsys) -> None:
    lake_dir = tmp_path / "lake"
    for day in range(30):
        _land_day(lake_dir, day, seed=1_000 + day)
    assert main(["batch", "--lake", str(lake_dir)]) == 0, capsys.readouterr().err
    capsys.readouterr()
    lake = Lake.at(lake_dir)

    # The longest session is 48 hours by default: new events on day 29 (2026-03-30)
    # can touch partitions from day 27 on; everything before is made unreadable.
    cutoff = "2026-03-28"
    spoiled = sum(_unreadable(_older_partitions(path, column, cutoff)) for path, column in (
        (lake.bronze, "event_date"), (lake.play_sessions, "session_date"), (lake.viewer_sessions, "session_date")))
    old_objects = [path for path in Path(lake.raw).rglob("*.gz") if path.parts[-4:-2] < ("03", "29")]
    spoiled += _unreadable(old_objects)
    assert spoiled > 100

    new_sessions = _land_day(lake_dir, 29, seed=7_777, hour=3)
    assert main(["batch", "--lake", str(lake_dir)]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "play_sessions_recomputed" in out

    built = spark.read.format("delta").load(lake.play_sessions).where("session_date >= '2026-03-28'")
    assert new_sessions <= {row.play_session_id for row in built.select("play_session_id").collect()}
    daily = spark.read.format("delta").load(lake.qoe_daily).where("session_date = '2026-03-30'")
    assert daily.agg({"sessions": "sum"}).first()[0] == built.where("session_date = '2026-03-30'").count()


def test_an_object_landing_behind_the_lookback_is_warned_about_and_taken_by_window(tmp_path, spark, capsys) -> None:
    """Bronze lists the hours from the newest consumed one less OTTLAKE_RAW_LOOKBACK_HOURS
    (6): an object that lands 8 hours behind is not taken, the run says how many and the
    --window that takes them, and that window does."""
    import orjson

    from schemas.layout import encode, object_key

    lake_dir = tmp_path / "lake"
    _land_day(lake_dir, 0, seed=5, hour=10)  # newest consumed hour: 2026-03-01T10
    assert main(["batch", "--lake", str(lake_dir)]) == 0, capsys.readouterr().err
    capsys.readouterr()
    bronze = Lake.at(lake_dir).bronze
    before = spark.read.format("delta").load(bronze).count()

    late_ms = START_MS + 2 * 3_600_000  # 02:00, eight hours behind
    event = {"schema_version": 1, "event_id": "6f1c1d2e-0000-4000-8000-000000000abc", "event_type": "heartbeat",
             "event_ts": late_ms, "received_ts": late_ms, "seq": 0, "viewer_id": "v", "play_session_id": "late",
             "content_id": "c", "content_type": "live"}
    key = object_key(stream_name=STREAM, arrival_ms=late_ms, name_seed="late")
    LocalRawZone(lake_dir).put(key, encode([orjson.dumps(event)]))

    assert main(["batch", "--lake", str(lake_dir)]) == 0
    captured = capsys.readouterr()
    assert ("warning (bronze): 1 raw objects arrived in hours before 2026-03-01T04 (more than the lookback of "
            "6:00:00 behind the newest consumed hour) and were not taken: run with --window "
            "2026-03-01T02/2026-03-01T04 to take them") in captured.err
    assert spark.read.format("delta").load(bronze).count() == before

    assert main(["batch", "--lake", str(lake_dir), "--window", "2026-03-01T02/2026-03-01T04"]) == 0
    capsys.readouterr()
    assert spark.read.format("delta").load(bronze).count() == before + 1
