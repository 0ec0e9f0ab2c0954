"""`ottlake batch` end to end on a local lake: real Spark, real Delta, the raw zone
landed by the simulator; idempotency, late events, delta-rs readback, failures."""

from __future__ import annotations

import gzip
import shutil
import uuid
from pathlib import Path

import orjson
import pytest

from consumers.raw_zone import LocalRawZone
from ottlake.cli.main import main
from producers.simulator import FaultRates, SimConfig, simulate
from producers.simulator.landing import land
from schemas.layout import Lake, encode, object_key

pytestmark = [pytest.mark.integration, pytest.mark.slow]

START_MS = 1_772_366_400_000  # 2026-03-01T12:00:00Z
STREAM = "ottlake-player-events"


def batch(lake: Path, capsys) -> str:
    rc = main(["batch", "--lake", str(lake)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err + captured.out
    return captured.out


def table(spark, path: str):
    return spark.read.format("delta").load(path)


def rows_by(spark, path: str, key: str) -> dict:
    return {row[key]: row.asDict() for row in table(spark, path).collect()}


def versions(spark, lake: Lake) -> dict[str, int]:
    from delta.tables import DeltaTable

    paths = [lake.bronze, lake.quarantine, lake.play_sessions, lake.viewer_sessions, lake.qoe_hourly, lake.qoe_daily]
    return {p: DeltaTable.forPath(spark, p).history(1).first()["version"] for p in paths}


@pytest.fixture(scope="module")
def simulated_lake(tmp_path_factory, spark):
    """A lake with two simulated hours landed, and batch run once over it."""
    lake_dir = tmp_path_factory.mktemp("lake")
    simulation = simulate(SimConfig(viewers=25, minutes=120, seed=31, start_ms=START_MS,
                                    faults=FaultRates(duplicate=0.03, out_of_order=0.05, late=0.02, skew=0.2)))
    land(simulation.deliveries, LocalRawZone(lake_dir), stream_name=STREAM)
    return lake_dir, simulation


def test_first_run_builds_every_table_and_accounts_for_every_line(simulated_lake, spark, capsys) -> None:
    lake_dir, simulation = simulated_lake
    out = batch(lake_dir, capsys)
    lake = Lake.at(lake_dir)
    bronze = table(spark, lake.bronze)
    distinct_events = {d.event["event_id"] for d in simulation.deliveries}
    assert bronze.count() == len(distinct_events)
    assert bronze.select("event_id").distinct().count() == len(distinct_events)
    assert table(spark, lake.quarantine).count() == 0
    sessions = rows_by(spark, lake.play_sessions, "play_session_id")
    assert set(sessions) == {s.truth["play_session_id"] for s in simulation.sessions}
    assert "rows_in" in out and "duplicates" in out
    for path in (lake.viewer_sessions, lake.qoe_hourly, lake.qoe_daily):
        assert table(spark, path).count() > 0
    # nothing but the state tables: bronze's checked rows never touch the lake
    assert sorted(p.name for p in (lake_dir / "_state").iterdir()) == ["marks", "raw_objects"]


def test_second_run_over_the_same_raw_zone_changes_nothing(simulated_lake, spark, capsys) -> None:
    lake_dir, _ = simulated_lake
    lake = Lake.at(lake_dir)
    before = versions(spark, lake)
    snapshot = {p: sorted(map(str, table(spark, p).collect())) for p in before}
    out = batch(lake_dir, capsys)
    assert "no new raw objects" in out
    assert versions(spark, lake) == before
    assert {p: sorted(map(str, table(spark, p).collect())) for p in before} == snapshot


def test_every_table_is_within_what_delta_rs_reads(simulated_lake, spark) -> None:
    """Each table's protocol asks for nothing delta-rs 1.x cannot read (no deletion
    vectors, no column mapping: reader version 1, or 3 with none of those features),
    and delta-rs reads every row Spark does, with the columns of schemas.tables."""
    from deltalake import DeltaTable

    from schemas.tables import LAKE_TABLES

    lake = Lake.at(simulated_lake[0])
    paths = {name: lake.table(name) for name in LAKE_TABLES}
    paths |= {"marks": lake.state("marks"), "raw_objects": lake.state("raw_objects")}
    for name, path in paths.items():
        table = DeltaTable(path)
        protocol = table.protocol()
        features = set(protocol.reader_features or []) | set(protocol.writer_features or [])
        assert protocol.min_reader_version in (1, 3), (name, protocol)
        assert not features & {"deletionVectors", "columnMapping", "v2Checkpoint", "variantType", "rowTracking"}, (
            name, features)
        assert table.to_pyarrow_table().num_rows == spark.read.format("delta").load(path).count(), name
        if name in LAKE_TABLES:
            assert [field.name for field in table.schema().fields] == list(LAKE_TABLES[name].names), name


def test_tables_are_readable_by_delta_rs(simulated_lake, spark) -> None:
    from deltalake import DeltaTable

    lake = Lake.at(simulated_lake[0])
    for path, key in ((lake.bronze, "event_id"), (lake.play_sessions, "play_session_id")):
        arrow = DeltaTable(path).to_pyarrow_table()
        assert arrow.num_rows == table(spark, path).count()
        assert sorted(arrow.column(key).to_pylist()) == sorted(r[0] for r in table(spark, path).select(key).collect())
    # Timestamps are stored as INT64 microseconds (spark.COMMON_CONF), not INT96:
    # a reader sees a plain UTC microsecond timestamp, with Spark's values.
    import pyarrow as pa
    import pyarrow.parquet as pq

    one_file = next(Path(lake.bronze).rglob("*.parquet"))
    schema = pq.ParquetFile(one_file).schema
    stored = {schema.column(i).path: schema.column(i).physical_type for i in range(len(schema))}
    assert stored["event_time"] == stored["ingest_ts"] == "INT64"
    # Parquet's column statistics only for the columns Delta keeps statistics of
    # (bronze.STATS_COLUMNS, delta_io.parquet_statistics_only).
    from spark_jobs.jobs.bronze import STATS_COLUMNS

    row_group = pq.ParquetFile(one_file).metadata.row_group(0)
    with_stats = {row_group.column(i).path_in_schema for i in range(row_group.num_columns)
                  if row_group.column(i).is_stats_set}
    assert with_stats == set(map(str, STATS_COLUMNS))
    arrow = DeltaTable(lake.bronze).to_pyarrow_table(columns=["event_id", "event_time"])
    assert arrow.schema.field("event_time").type == pa.timestamp("us", tz="UTC")
    micros = table(spark, lake.bronze).selectExpr("event_id", "unix_micros(event_time) AS us").collect()
    assert dict(zip(arrow.column("event_id").to_pylist(),
                    arrow.column("event_time").cast(pa.int64()).to_pylist())) == {r.event_id: r.us for r in micros}


def _session_lines(session_id: str, viewer: str, events: list[tuple[int, str, dict]], *, received_delay: int = 100):
    lines = []
    for seq, (ts, event_type, fields) in enumerate(events):
        event = {"schema_version": 1, "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{session_id}/{seq}")),
                 "event_type": event_type, "event_ts": START_MS + ts, "seq": seq, "viewer_id": viewer,
                 "play_session_id": session_id, "content_id": "c1", "content_type": "vod", "cdn": "cdn-a",
                 "received_ts": START_MS + ts + received_delay, **fields}
        lines.append(orjson.dumps(event))
    return lines


def test_a_late_event_recomputes_only_its_session(tmp_path, spark, capsys) -> None:
    store = LocalRawZone(tmp_path)
    a = _session_lines("A", "v1", [(0, "view_start", {}), (1000, "play_request", {}),
                                   (3000, "playing", {"bitrate_kbps": 3000}), (63_000, "view_end", {})])
    b = _session_lines("B", "v2", [(0, "view_start", {}), (500, "play_request", {}),
                                   (1500, "playing", {"bitrate_kbps": 2000}), (61_500, "view_end", {})])
    store.put(object_key(stream_name=STREAM, arrival_ms=START_MS + 70_000, name_seed="first"),
              encode([a[0], a[1], a[2], a[3], *b]))
    batch(tmp_path, capsys)
    lake = Lake.at(tmp_path)
    first = rows_by(spark, lake.play_sessions, "play_session_id")
    assert first["A"]["play_time_ms"] == 60_000 and first["A"]["rebuffer_count"] == 0

    # A stall of A arrives an hour late, in a later object (seq 4 and 5: after view_end
    # by seq, but at 20 s and 25 s by event_ts, where order comes from).
    late = [
        orjson.dumps({**orjson.loads(a[0]), "event_id": "00000000-0000-4000-8000-00000000aaa1", "seq": 4,
                      "event_type": "buffer_start", "event_ts": START_MS + 20_000, "received_ts": START_MS + 3_600_000}),
        orjson.dumps({**orjson.loads(a[0]), "event_id": "00000000-0000-4000-8000-00000000aaa2", "seq": 5,
                      "event_type": "buffer_end", "event_ts": START_MS + 25_000, "received_ts": START_MS + 3_600_000}),
    ]
    store.put(object_key(stream_name=STREAM, arrival_ms=START_MS + 3_600_500, name_seed="late"), encode(late))
    batch(tmp_path, capsys)
    second = rows_by(spark, lake.play_sessions, "play_session_id")
    assert second["A"]["rebuffer_time_ms"] == 5_000 and second["A"]["rebuffer_count"] == 1
    assert second["A"]["play_time_ms"] == 55_000 and second["A"]["event_count"] == 6
    assert second["B"] == first["B"]
    from delta.tables import DeltaTable

    merge = DeltaTable.forPath(spark, lake.play_sessions).history(1).first()
    assert merge["operation"] == "MERGE"
    assert int(merge["operationMetrics"]["numTargetRowsUpdated"]) == 1
    assert int(merge["operationMetrics"]["numTargetRowsInserted"]) == 0
    hourly = table(spark, lake.qoe_hourly).collect()
    assert sum(r["rebuffer_time_ms"] for r in hourly) == 5_000
    assert sum(r["sessions"] for r in hourly) == 2


def test_bad_lines_go_to_quarantine_with_reasons(tmp_path, spark, capsys) -> None:
    good = _session_lines("Q", "v9", [(0, "view_start", {}), (1000, "play_request", {})])
    bad = [b'{"not json', b'{"schema_version": 1}', b"[1,2,3]"]
    LocalRawZone(tmp_path).put(object_key(stream_name=STREAM, arrival_ms=START_MS + 5_000, name_seed="q"),
                               encode([*good, *bad]))
    out = batch(tmp_path, capsys)
    lake = Lake.at(tmp_path)
    assert table(spark, lake.bronze).count() == 2
    quarantined = table(spark, lake.quarantine).collect()
    assert sorted(r["reason"] for r in quarantined) == ["malformed_json", "missing_field", "not_an_object"]
    assert all(r["source_object"].endswith(".gz") for r in quarantined)
    assert "quarantined" in out


def test_a_corrupt_object_fails_in_one_line_and_publishes_nothing(tmp_path, spark, capsys) -> None:
    key = object_key(stream_name=STREAM, arrival_ms=START_MS, name_seed="corrupt")
    body = b"".join(orjson.dumps({"id": str(uuid.uuid4())}) + b"\n" for _ in range(2000))
    LocalRawZone(tmp_path).put(key, gzip.compress(body)[:20_000])  # cut off mid-stream
    rc = main(["batch", "--lake", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc != 0
    assert err.startswith("error: ") and err.count("\n") == 1 and key.rsplit("/", 1)[1] in err
    assert not (tmp_path / "silver").exists() or not any((tmp_path / "silver").rglob("*.parquet"))


def test_bad_lake_root_is_a_clear_error(tmp_path, capsys) -> None:
    rc = main(["batch", "--lake", "ftp://nowhere/lake"])
    assert rc != 0 and "unsupported lake root" in capsys.readouterr().err
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_each_job_runs_alone_through_its_main(tmp_path, spark, capsys) -> None:
    """The spark-submit entry points: the same stages, one process each on EMR."""
    from spark_jobs.jobs import aggregates, bronze, sessions, viewers

    simulation = simulate(SimConfig(viewers=5, minutes=20, seed=5, start_ms=START_MS))
    land(simulation.deliveries, LocalRawZone(tmp_path), stream_name=STREAM)
    for job in (bronze, sessions, viewers, aggregates):
        assert job.main(["--lake", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":", 1)[0] for line in out] == ["bronze", "sessions", "viewer_sessions", "aggregates"]
    assert f"play_sessions_recomputed={len(simulation.sessions)}" in out[1]
    assert bronze.main(["--lake", str(tmp_path), "--window", "2026-03-02T00/2026-03-01T00"]) == 1
    assert "the end must be after the start" in capsys.readouterr().err


def test_lines_the_tally_does_not_account_for_publish_nothing(tmp_path, spark, capsys, monkeypatch) -> None:
    """The tally is observed as bronze stores its checked rows; into an empty bronze
    the rows written must be exactly the lines in less the quarantined and the
    duplicates, or nothing is committed (a map task counted twice would say so)."""
    from dataclasses import replace

    from spark_jobs.transforms.bronze import BronzeResult

    tally = BronzeResult.tally
    monkeypatch.setattr(BronzeResult, "tally", lambda self, counted=None: replace(tally(self, counted),
                                                                                    rows_in=tally(self, counted).rows_in + 1))
    simulation = simulate(SimConfig(viewers=3, minutes=10, seed=7, start_ms=START_MS))
    land(simulation.deliveries, LocalRawZone(tmp_path), stream_name=STREAM)
    rc = main(["batch", "--lake", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1
    assert err.startswith("error: bronze wrote ") and err.strip().endswith("nothing published")
    assert table(spark, Lake.at(tmp_path).bronze).count() == 0
    assert not list((tmp_path / "bronze").rglob("*.parquet"))


def test_a_lake_with_nothing_new_is_a_success(tmp_path, spark, capsys) -> None:
    (tmp_path / "raw" / "player_events").mkdir(parents=True)
    out = batch(tmp_path, capsys)
    assert f"nothing new in {tmp_path}/raw/player_events" in out
