"""The one SparkSession builder: local and EMR settings, Delta from the set-up cache."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ottlake.errors import JobError
from spark_jobs import jars
from spark_jobs.spark import DELTA_CONF, session_conf

LAUNCH_SETTINGS = (
    "spark.master",
    "spark.driver.memory",
    "spark.jars",
    "spark.jars.packages",
    "spark.ui.enabled",
    "spark.sql.shuffle.partitions",
)


def test_emr_sets_nothing_emr_provides():
    conf = session_conf("emr")
    assert not set(LAUNCH_SETTINGS) & set(conf)
    # what results depend on: UTC, Delta, and timestamps every Delta reader takes
    assert conf == {"spark.sql.session.timeZone": "UTC", "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
                    **DELTA_CONF}


def test_local_without_fetched_jars_names_the_fetch_command(tmp_path):
    with pytest.raises(JobError, match="python -m spark_jobs.jars fetch"):
        session_conf("local", jars_cache=tmp_path)


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="local or emr"):
        session_conf("yarn")  # type: ignore[arg-type]


def test_local_session_settings(spark):
    conf = spark.sparkContext.getConf()
    assert conf.get("spark.master") == "local[2]"
    assert conf.get("spark.driver.memory") == "8g"
    assert conf.get("spark.ui.enabled") == "false"
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.conf.get("spark.sql.extensions") == DELTA_CONF["spark.sql.extensions"]
    assert conf.get("spark.jars.packages", None) is None
    used = {Path(path.removeprefix("file:")).name for path in conf.get("spark.jars").split(",")}
    assert f"{jars.DELTA.artifact}-{jars.DELTA.version}.jar" in used
    assert jars.OWN_JAR in used
    assert used == {path.name for path in jars.session_jars()}


def test_delta_round_trip_and_merge(spark, tmp_path):
    from delta.tables import DeltaTable

    path = str(tmp_path / "table")
    spark.createDataFrame([(1, "a"), (2, "b")], "id long, value string").write.format("delta").save(path)
    updates = spark.createDataFrame([(2, "B"), (3, "c")], "id long, value string")
    table = DeltaTable.forPath(spark, path)
    (
        table.alias("t")
        .merge(updates.alias("u"), "t.id = u.id")
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .execute()
    )
    assert sorted(map(tuple, spark.read.format("delta").load(path).collect())) == [(1, "a"), (2, "B"), (3, "c")]
    assert [row["operation"] for row in table.history().orderBy("version").collect()] == ["WRITE", "MERGE"]


def test_a_stored_frame_observes_its_rows_as_it_stores_them(spark):
    from pyspark.sql import functions as F

    from spark_jobs.spark import stored

    frame = spark.range(100).withColumn("day", F.date_add(F.lit("2026-03-01").cast("date"), (F.col("id") % 2)
                                                          .cast("int")))
    metrics = {"rows": F.count(F.lit(1)), "odd": F.count_if(F.col("id") % 2 == 1), "days": F.collect_set("day")}
    kept = stored(frame, metrics)
    try:
        observed = kept.metrics
        assert (observed["rows"], observed["odd"], sorted(observed["days"])) == (100, 50, ["2026-03-01", "2026-03-02"])
        assert kept.rows == 100 and kept.frame.count() == 100
        assert kept.frame.storageLevel.useDisk and not kept.frame.storageLevel.useMemory
    finally:
        kept.frame.unpersist()


def test_a_stored_frame_is_computed_once_and_read_from_storage(spark, tmp_path):
    """What bronze keeps its checked rows with: later queries read the stored rows,
    not the source again (here the source is gone)."""
    from pyspark.sql import functions as F

    from spark_jobs.spark import stored

    source = tmp_path / "lines.txt"
    source.write_text("".join(f"line {n}\n" for n in range(500)))
    frame = spark.read.text(str(source)).select(F.col("value"), F.length("value").alias("length"))
    kept = stored(frame)
    source.unlink()
    try:
        expected = sorted((f"line {n}", len(f"line {n}")) for n in range(500))
        for _ in range(2):
            assert sorted(tuple(row) for row in kept.frame.collect()) == expected
        assert kept.frame.filter(F.col("length") == 6).count() == 10  # queries on top plan as usual
    finally:
        kept.frame.unpersist()


def test_importing_the_jobs_starts_no_session():
    code = (
        "import spark_jobs.spark, spark_jobs.columns, spark_jobs.jars\n"
        "import spark_jobs.transforms.sessions, spark_jobs.transforms.viewers, spark_jobs.transforms.aggregates\n"
        "from pyspark.sql import SparkSession\n"
        "from pyspark import SparkContext\n"
        "assert SparkSession.getActiveSession() is None and SparkContext._active_spark_context is None\n"
        "assert SparkContext._gateway is None, 'a JVM was launched'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=jars.REPO_ROOT, timeout=120)


def test_a_java_function_missing_from_the_session_is_a_clear_error(spark):
    from ottlake.errors import JobError
    from spark_jobs.spark import require_function

    require_function(spark, "ottlake_event_check")  # the extension registered it
    require_function(spark, "ottlake_play_session_fold")
    with pytest.raises(JobError, match=r"ottlake_nothing is missing: .*spark_jobs.jars build.*--jars.*"
                                       r"io.ottlake.spark.OttlakeExtensions"):
        require_function(spark, "ottlake_nothing")


def test_is_in_tests_membership_of_many_strings_exactly(spark):
    """spark.is_in: the values cross in one SQL text, as they are (quotes, backslashes,
    newlines, non-ASCII); no value means no match, null stays null."""

    from spark_jobs.spark import is_in

    odd = ["it's", "back\\slash", "two\nlines", "ünï", "%20 and space"]
    values = odd + [f"file-{n}" for n in range(3000)]
    probe = spark.createDataFrame([(v,) for v in [*odd, "file-2999", "file-3000", "its", None]], "v string")
    rows = probe.select("v", is_in("v", values).alias("hit")).collect()
    assert {row.v: row.hit for row in rows} == {
        **{v: True for v in odd}, "file-2999": True, "file-3000": False, "its": False, None: None,
    }
    assert {row.hit for row in probe.select(is_in("v", []).alias("hit")).collect()} == {False}


def test_parquet_statistics_only_keeps_the_named_columns_stats_and_restores_the_session(spark, tmp_path):
    import pyarrow.parquet as pq

    from spark_jobs.delta_io import parquet_statistics_only

    frame = spark.createDataFrame([(1, "a", 10), (2, "b", 20)], "k long, s string, t long")
    spark.conf.set("parquet.column.statistics.enabled#s", "false")  # a value set before: put back after
    try:
        with parquet_statistics_only(spark, ["t"]):
            frame.write.parquet(str(tmp_path / "limited"))
            assert spark.conf.get("parquet.column.statistics.enabled") == "false"
        assert spark.conf.get("parquet.column.statistics.enabled", None) is None
        assert spark.conf.get("parquet.column.statistics.enabled#t", None) is None
        assert spark.conf.get("parquet.column.statistics.enabled#s") == "false"
    finally:
        spark.conf.unset("parquet.column.statistics.enabled#s")
    frame.write.parquet(str(tmp_path / "default"))

    def stats(folder):
        files = [f for f in (tmp_path / folder).glob("*.parquet") if pq.ParquetFile(f).metadata.num_rows]
        group = pq.ParquetFile(files[0]).metadata.row_group(0)
        return {group.column(i).path_in_schema for i in range(group.num_columns) if group.column(i).is_stats_set}

    assert stats("limited") == {"t"}
    assert stats("default") == {"k", "s", "t"}


def test_a_session_with_another_spark_refuses_the_jar_in_one_line(tmp_path):
    """The jar records the Spark and Scala it was compiled against (build.properties);
    OttlakeExtensions refuses a session that runs another Spark, naming both. Here a
    copy of the jar claims Spark 4.0.2, in a fresh JVM."""
    import zipfile

    other = tmp_path / "ottlake-spark-for-4.0.2.jar"
    with zipfile.ZipFile(jars.own_jar()) as source, zipfile.ZipFile(other, "w") as copy:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == jars.BUILD_INFO:
                assert data.decode() == "spark.version=4.1.1\nscala.binary.version=2.13\n"
                data = b"spark.version=4.0.2\nscala.binary.version=2.13\n"
            copy.writestr(item, data)
    code = (
        "from ottlake.errors import JobError\n"
        "from spark_jobs import jars\n"
        "from spark_jobs.spark import build_session\n"
        f"paths = [*map(str, jars.jar_paths()), {str(other)!r}]\n"
        "try:\n"
        "    build_session('local', conf={'spark.jars': ','.join(paths)})\n"
        "except JobError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=jars.REPO_ROOT, capture_output=True, text=True,
                            timeout=300, check=True)
    assert result.stdout.strip() == (
        "ottlake's jar was compiled for Spark 4.0.2 (Scala 2.13) but this session runs Spark 4.1.1 (Scala 2.13.17): "
        "build it against this Spark (python -m spark_jobs.jars build) or run the Spark it was built for")
