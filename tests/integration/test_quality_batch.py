"""The quality gates inside `ottlake batch`: a clean lake passes every gate and
`ottlake quality` shows them; a broken stage stops itself and every stage after
it, publishes nothing, and exits non-zero with one line naming the failure."""

from __future__ import annotations

import orjson
import pytest
from pyspark.sql import functions as F

from consumers.raw_zone import LocalRawZone
from ottlake.cli.main import main
from producers.simulator import SimConfig, simulate
from producers.simulator.landing import land
from quality import results
from schemas.layout import Lake, encode, object_key
from schemas.tables import PS, QOE

pytestmark = [pytest.mark.integration, pytest.mark.slow]

START_MS = 1_772_366_400_000  # 2026-03-01T12:00:00Z
STREAM = "ottlake-player-events"
SUITES = {"raw", "bronze", "play_sessions", "viewer_sessions", "qoe_aggregates", "qoe_totals"}


@pytest.fixture(scope="module")
def simulation():
    return simulate(SimConfig(viewers=5, minutes=20, seed=5, start_ms=START_MS))


def landed(tmp_path, simulation) -> Lake:
    land(simulation.deliveries, LocalRawZone(tmp_path), stream_name=STREAM)
    return Lake.at(tmp_path)


def rows(spark, path: str) -> int:
    return spark.read.format("delta").load(path).count()


def published(spark, path: str) -> bool:
    """Whether the table at `path` exists and holds rows."""
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, path) and rows(spark, path) > 0


def failed_batch(lake: Lake, capsys) -> str:
    rc = main(["batch", "--lake", lake.root])
    captured = capsys.readouterr()
    assert rc == 1, captured.out
    assert captured.err.count("\n") == 1, captured.err
    return captured.err.strip()


def test_a_clean_batch_passes_every_gate_and_quality_shows_them(tmp_path, simulation, spark, capsys) -> None:
    lake = landed(tmp_path, simulation)
    assert main(["batch", "--lake", lake.root]) == 0
    out = capsys.readouterr().out
    assert "gate s" in out and "Data Docs at" in out
    recorded = results.latest(lake.quality_results)
    assert {row["suite"] for row in recorded} == SUITES
    assert len({row["run_id"] for row in recorded}) == 1
    assert [row["expectation"] for row in recorded if row["critical"] and not row["success"]] == []
    sessions = next(row for row in recorded if row["suite"] == "play_sessions")
    assert sessions["rows"] == len(simulation.sessions)

    assert main(["quality", "--lake", lake.root]) == 0
    shown = capsys.readouterr().out
    assert recorded[0]["run_id"] in shown and f"{len(recorded)} expectations" in shown
    assert f"{lake.quality_docs}/index.html" in shown.replace("\n", "")
    assert (tmp_path / "_quality" / "docs" / "index.html").exists()


def test_a_quarantine_flood_stops_bronze_and_everything_after(tmp_path, spark, capsys) -> None:
    good = [orjson.dumps({"schema_version": 1, "event_id": f"00000000-0000-4000-8000-00000000000{n}",
                          "event_type": "heartbeat", "event_ts": START_MS + n, "seq": n, "viewer_id": "v",
                          "play_session_id": "s", "content_id": "c", "content_type": "vod",
                          "received_ts": START_MS + n}) for n in range(3)]
    bad = [b'{"not json %d' % n for n in range(997)]  # 1,000 lines: enough for the share to count
    LocalRawZone(tmp_path).put(object_key(stream_name=STREAM, arrival_ms=START_MS, name_seed="flood"),
                               encode([*good, *bad]))
    lake = Lake.at(tmp_path)
    err = failed_batch(lake, capsys)
    assert err == ("error: quality gate raw failed: expect_column_max_to_be_between(gated_quarantine_share): "
                   "observed 0.997; stage bronze not published")
    assert rows(spark, lake.bronze) == 0
    assert rows(spark, lake.quarantine) == 997  # the evidence is kept
    assert not published(spark, lake.play_sessions)
    # the raw object was not marked consumed: the next run takes it again (and stops again)
    assert failed_batch(lake, capsys) == err


def test_a_failed_bronze_gate_leaves_no_bronze_file(tmp_path, simulation, spark, capsys, monkeypatch) -> None:
    """Into an empty bronze the events are written, gated as written, then committed:
    a failed gate removes the files, and no reader ever saw them."""
    from dataclasses import replace

    from spark_jobs.transforms import bronze

    settle = bronze.settle

    def negative_seq(checked):
        result = settle(checked)
        return replace(result, events=result.events.withColumn("seq", F.lit(-1)))

    monkeypatch.setattr(bronze, "settle", negative_seq)
    lake = landed(tmp_path, simulation)
    err = failed_batch(lake, capsys)
    assert err.startswith("error: quality gate bronze failed: expect_column_values_to_be_between(seq): ")
    assert err.endswith("; stage bronze not published")
    assert rows(spark, lake.bronze) == 0
    assert not list((tmp_path / "bronze").rglob("*.parquet"))
    assert not published(spark, lake.play_sessions)


def test_duplicate_session_rows_stop_sessions_and_everything_after(tmp_path, simulation, spark, capsys,
                                                                   monkeypatch) -> None:
    from spark_jobs.jobs import sessions

    compute = sessions.play_sessions

    def doubled(events, **options):
        fresh = compute(events, **options)
        return fresh.unionByName(fresh.orderBy(PS.play_session_id).limit(1))

    monkeypatch.setattr(sessions, "play_sessions", doubled)
    lake = landed(tmp_path, simulation)
    err = failed_batch(lake, capsys)
    assert err == ("error: quality gate play_sessions failed: expect_column_values_to_be_unique(play_session_id): "
                   "2 unexpected; stage sessions not published")
    assert published(spark, lake.bronze)
    assert not any(published(spark, path) for path in (lake.play_sessions, lake.viewer_sessions,
                                                        lake.qoe_hourly, lake.qoe_daily))
    failed = [row for row in results.latest(lake.quality_results) if not row["success"]]
    assert [(row["suite"], row["critical"], row["unexpected_count"]) for row in failed] == [
        ("play_sessions", True, 2)]


def test_a_dropped_hour_stops_the_aggregates(tmp_path, simulation, spark, capsys, monkeypatch) -> None:
    from spark_jobs.jobs import aggregates

    compute = aggregates.qoe_hourly

    def without_first_hour(play_sessions):
        hourly = compute(play_sessions)
        first = hourly.agg(F.min(QOE.hour)).first()[0]
        return hourly.where(F.col(QOE.hour) != F.lit(first))

    monkeypatch.setattr(aggregates, "qoe_hourly", without_first_hour)
    lake = landed(tmp_path, simulation)
    err = failed_batch(lake, capsys)
    assert err.startswith("error: quality gate qoe_totals failed: "
                          "expect_column_values_to_be_between(sessions_difference): 1 unexpected")
    assert err.endswith("; stage aggregates not published")
    assert published(spark, lake.play_sessions) and published(spark, lake.viewer_sessions)
    assert not published(spark, lake.qoe_hourly) and not published(spark, lake.qoe_daily)
