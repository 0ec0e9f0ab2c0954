"""`infra apply` registers the lake's tables in the Glue Data Catalog (a lake on S3),
against the embedded stack's Glue: the AWS code path, the emulator behind it."""

from __future__ import annotations

import uuid

import pytest

from ottlake.cli.main import main
from ottlake.services import glue as catalog
from ottlake.services import infra
from schemas.layout import Lake
from schemas.tables import LAKE_TABLES, PLAY_SESSIONS, QUARANTINE
from tests.fixtures_stack import stack_settings

pytestmark = pytest.mark.integration


def _s3_lake_settings(embedded_settings, **fields):
    tag = uuid.uuid4().hex[:8]
    names = {"stream_name": f"events-{tag}", "dead_letter_stream_name": f"dlq-{tag}", "bucket": f"lake-{tag}",
             "lake_sink_app": f"sink-{tag}", "qoe_monitor_app": f"qoe-{tag}", "live_table": f"live-{tag}",
             "glue_database": f"ottlake_{tag}", "lake": f"s3://lake-{tag}/lake"}
    return stack_settings(embedded_settings.state_dir, embedded_port=embedded_settings.embedded_port,
                          **{**names, **fields})


def test_apply_registers_every_table_once(embedded_settings) -> None:
    settings = _s3_lake_settings(embedded_settings)
    first = [a for a in infra.apply(settings) if a.resource.startswith("glue")]
    second = [a for a in infra.apply(settings) if a.resource.startswith("glue")]
    assert [(a.resource, a.name, a.outcome) for a in first] == [
        ("glue database", settings.glue_database, "created"),
        *(("glue table", f"{settings.glue_database}.{name}", "created") for name in LAKE_TABLES),
    ]
    assert {a.outcome for a in second} == {"present"}

    glue = settings.aws().client("glue")
    lake = Lake.at(settings.lake)
    listed = glue.get_tables(DatabaseName=settings.glue_database)["TableList"]
    assert sorted(table["Name"] for table in listed) == sorted(LAKE_TABLES)
    sessions = glue.get_table(DatabaseName=settings.glue_database, Name="play_sessions")["Table"]
    assert sessions["TableType"] == "EXTERNAL_TABLE"
    assert sessions["Parameters"]["spark.sql.sources.provider"] == "delta"
    assert sessions["Parameters"]["table_type"] == "DELTA"
    storage = sessions["StorageDescriptor"]
    assert storage["Location"] == lake.play_sessions == f"s3://{settings.bucket}/lake/silver/play_sessions"
    assert storage["SerdeInfo"]["Parameters"]["path"] == lake.play_sessions
    assert [column["Name"] for column in storage["Columns"]] == [
        name for name in PLAY_SESSIONS.names if name != "session_date"]
    assert sessions["PartitionKeys"] == [
        {"Name": "session_date", "Type": "date", "Comment": PLAY_SESSIONS.column("session_date").comment}]
    by_name = {column["Name"]: column["Type"] for column in storage["Columns"]}
    assert (by_name["watch_time_ms"], by_name["rebuffer_ratio"], by_name["start_time"]) == (
        "bigint", "double", "timestamp")
    database = glue.get_database(Name=settings.glue_database)["Database"]
    assert database["LocationUri"] == lake.root


def test_a_table_that_drifted_is_put_back(embedded_settings) -> None:
    settings = _s3_lake_settings(embedded_settings)
    infra.apply(settings)
    glue = settings.aws().client("glue")
    drifted = catalog.table_input("qoe_daily", LAKE_TABLES["qoe_daily"], "s3://elsewhere/qoe_daily")
    drifted["StorageDescriptor"]["Columns"] = drifted["StorageDescriptor"]["Columns"][:3]
    glue.update_table(DatabaseName=settings.glue_database, TableInput=drifted)

    changed = [a for a in infra.apply(settings) if a.outcome == "changed"]
    assert [a.name for a in changed] == [f"{settings.glue_database}.qoe_daily"]
    table = glue.get_table(DatabaseName=settings.glue_database, Name="qoe_daily")["Table"]
    assert table["StorageDescriptor"]["Location"] == Lake.at(settings.lake).qoe_daily
    assert len(table["StorageDescriptor"]["Columns"]) == len(LAKE_TABLES["qoe_daily"].names)


def test_a_local_lake_has_no_catalog(embedded_settings, tmp_path) -> None:
    settings = _s3_lake_settings(embedded_settings, lake=str(tmp_path / "lake"))
    assert not [a for a in infra.apply(settings) if a.resource.startswith("glue")]
    asked = [a for a in infra.apply(settings, glue=True) if a.resource.startswith("glue")]
    assert [(a.outcome, "local folder" in a.detail) for a in asked] == [("skipped", True)]


def test_the_cli_lists_the_catalog(embedded_settings, ottlake_env, capsys) -> None:
    settings = _s3_lake_settings(embedded_settings)
    for key, value in (("EMBEDDED_PORT", settings.embedded_port), ("STATE_DIR", settings.state_dir),
                       ("LAKE", settings.lake), ("BUCKET", settings.bucket),
                       ("GLUE_DATABASE", settings.glue_database)):
        ottlake_env.setenv(f"OTTLAKE_{key}", str(value))
    assert main(["infra", "apply"]) == 0
    out = capsys.readouterr().out
    assert out.count("glue table") == len(LAKE_TABLES)
    # New: the bucket, the database and the lake's tables; the session's streams and
    # DynamoDB tables are there already; Firehose is AWS's only.
    assert f"{2 + len(LAKE_TABLES)} created, 0 changed, 5 present, 1 skipped" in out


def test_types_are_hive_ddl() -> None:
    assert catalog.hive_type(QUARANTINE.column("violations").type) == "array<struct<field:string,reason:string>>"
    assert catalog.hive_type(("map", "string", "string")) == "map<string,string>"
    assert catalog.s3_location("s3a://bucket/lake/gold/qoe_daily") == "s3://bucket/lake/gold/qoe_daily"
