"""The one place that builds the SparkSession, for a laptop and for EMR.

The two modes differ only here. Local: `local[2]` with 8 GiB for the driver and 8
shuffle partitions (DESIGN.md measured 4g as enough on this kind of 2-core machine
at a few million events; why 8 here: LOCAL_CONF), no UI, and Delta's jars from the set-up
cache as `spark.jars` (never `spark.jars.packages`: nothing is downloaded at run
time), nor ottlake's own jar (`spark_jobs/java/`, compiled at set-up). EMR: the
cluster provides master, memory, parallelism, the UI and Delta's jars
(`delta-defaults`: `delta.enabled=true`), so none of them is set here; ottlake's
jar travels with the step (`spark-submit --jars`), as the code does.

Both modes set what the jobs' results depend on: UTC as the session time zone
(session_date and the hourly grain are UTC, qoe-metrics.md section 2), Delta's SQL
extension and catalog, and ottlake's extension (its SQL functions, registered by
OttlakeExtensions in every session that names it).

Nothing here runs at import time; `pyspark` itself is imported only when a session
is asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from spark_jobs import jars

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

Mode = Literal["local", "emr"]

# Errors only, on stderr (the JVM's INFO/WARN start-up chatter would bury the CLI's output).
LOG_CONFIG = Path(__file__).with_name("log4j2.properties")

# ottlake's SQL functions (the line check, the play-session fold) come with its jar
# through a SparkSessionExtensions provider, Spark's supported way to add functions to
# every session by configuration alone: the same setting serves spark-submit on EMR.
OTTLAKE_EXTENSIONS = "io.ottlake.spark.OttlakeExtensions"
DELTA_CONF: dict[str, str] = {
    "spark.sql.extensions": f"io.delta.sql.DeltaSparkSessionExtension,{OTTLAKE_EXTENSIONS}",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}
COMMON_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    # Timestamps in Parquet as INT64 microseconds (the type Delta's protocol and
    # every other reader, delta-rs and DuckDB among them, take as native), not
    # Spark's legacy INT96: also cheaper to encode (a long's dictionary instead of
    # 12-byte binaries); bronze's append of 3M events took 7.8 s instead of 8.6-9.1.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    **DELTA_CONF,
}
LOCAL_CONF: dict[str, str] = {
    "spark.master": "local[2]",
    # 8 GiB of this machine's 24, set when bronze cached its checked rows: at 10M
    # events 4 GiB spilled (that pass took 219 s instead of 198 s). Bronze now
    # stores them as Parquet, and the 10M batch peaked at 5.4 GiB RSS (BENCHMARKS.md,
    # run G); 4 GiB has not been measured again since.
    "spark.driver.memory": "8g",
    "spark.sql.shuffle.partitions": "8",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    # Delta rebuilds a table's state from its log with 50 partitions by default,
    # sized for clusters; on two local cores that made a 2-row read take 9 s
    # instead of 0.7 s (measured here).
    "spark.databricks.delta.snapshotPartitions": "8",
    # What opening a file costs, as bytes of reading (Spark packs files into a task
    # until it holds 128 MiB, each file weighing its size plus this). The default,
    # 4 MiB, is for HDFS and S3; a local raw zone of 40 KiB objects then made a task
    # of 32 objects, so 830 tasks for 10M events, each planning the bronze checks'
    # large projection again. At 256 KiB: about 60 tasks; the checks of 1M events
    # took 14.1 s instead of 18.3 s, the parse floor 3.9 s instead of 4.9 s.
    "spark.sql.files.openCostInBytes": str(256 * 1024),
    # Partitioned Delta writes (bronze by event_date) with a writer open per
    # partition value in a task, instead of sorting the task's rows by it first:
    # a task of the raw zone holds a day or two of events.
    "spark.sql.maxConcurrentOutputFileWriters": "16",
    # A JVM-wide UTC default too, so that anything outside Spark SQL (log lines,
    # Java date formatting in Delta's commit info) agrees with the session. The
    # throughput collector rather than G1: a batch wants throughput, not short
    # pauses (bronze and sessions at 3M events, two runs each way: 77-79 s against
    # 81-82 s).
    "spark.driver.extraJavaOptions": (
        f"-Duser.timezone=UTC -Dlog4j2.configurationFile={LOG_CONFIG.as_uri()} -XX:+UseParallelGC"
    ),
}


def session_conf(mode: Mode = "local", *, jars_cache: Path = jars.DEFAULT_CACHE) -> dict[str, str]:
    """Every setting the session gets in `mode`; raises JobError when a local
    session's Delta jars have not been fetched."""
    if mode == "emr":
        return dict(COMMON_CONF)
    if mode != "local":
        raise ValueError(f"unknown mode {mode!r}: local or emr")
    local_jars = jars.session_jars(jars_cache)
    return {**COMMON_CONF, **LOCAL_CONF, "spark.jars": ",".join(str(path) for path in local_jars)}


def require_function(spark: SparkSession, name: str) -> None:
    """JobError, saying how to get it, when `spark` lacks ottlake's function `name`
    (its jar is not on the class path, or OTTLAKE_EXTENSIONS not in spark.sql.extensions)."""
    from ottlake.errors import JobError

    if not spark.catalog.functionExists(name):
        raise JobError(
            f"the SQL function {name} is missing: ottlake's jar is not in this session (local: run "
            f"`{jars.BUILD_COMMAND}`; EMR: pass the jar with --jars and add {OTTLAKE_EXTENSIONS} to "
            "spark.sql.extensions)"
        )


def is_in(column: str, values: Sequence[str]) -> Column:
    """`column IN values` for many strings (`column` a SQL name), as one SQL expression: Spark makes it a
    hash-set lookup, and a test of a file source's `_metadata.file_path` prunes the
    files before they are read.

    PySpark's `Column.isin` makes a literal of each value with a call to the JVM of
    its own (the 26,614 raw objects of 10M events took 11 s); the SQL text crosses in
    one call and Spark's parser reads the list."""
    from pyspark.sql import functions as F

    if not values:
        return F.lit(False)
    quoted = ", ".join("'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'" for value in values)
    return F.expr(f"{column} IN ({quoted})")


@dataclass(frozen=True)
class Stored:
    frame: DataFrame  # reads the stored rows; `unpersist` it when done
    rows: int
    metrics: dict[str, Any]  # JSON values (a date is its ISO text)


def stored(frame: DataFrame, metrics: Mapping[str, Column] | None = None) -> Stored:
    """`frame` computed now, once, and kept on the executors' disks
    (`persist(DISK_ONLY)`): the queries that follow read it instead of computing it
    again; its rows counted; and the aggregates `metrics` ({name: aggregate column})
    of its rows, observed while it is stored (`DataFrame.observe` with an
    Observation: no pass of their own).

    Like any accumulator of a map stage, the metrics would count a task twice if
    Spark re-ran it (an executor lost while the stage ran): a caller that can check
    them against a count of its own should (bronze: the rows it writes)."""
    import json
    from datetime import date

    from pyspark import StorageLevel
    from pyspark.sql import Observation

    observation = Observation("ottlake_stored") if metrics else None
    if observation is not None:
        frame = frame.observe(observation, *(column.alias(name) for name, column in (metrics or {}).items()))
    kept = frame.persist(StorageLevel.DISK_ONLY)
    rows = kept.count()
    observed = dict(observation.get) if observation is not None else {}
    return Stored(kept, rows, json.loads(json.dumps(observed, default=lambda v: v.isoformat() if isinstance(v, date) else v)))


def build_session(
    mode: Mode = "local",
    *,
    app_name: str = "ottlake",
    conf: Mapping[str, str] | None = None,
    jars_cache: Path = jars.DEFAULT_CACHE,
) -> SparkSession:
    """The SparkSession for `mode`; `conf` adds or overrides settings (a test suite
    asks for fewer shuffle partitions, a job for its own options).

    A session already running in this process is returned as it is, with only
    runtime SQL options of `conf` applied (Spark's getOrCreate rule); launch-time
    settings such as memory or jars cannot change without a new JVM.
    """
    from pyspark.sql import SparkSession

    from ottlake.errors import JobError

    builder = SparkSession.builder.appName(app_name)
    for key, value in {**session_conf(mode, jars_cache=jars_cache), **(conf or {})}.items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except Exception as exc:  # py4j's wrapping of the JVM's refusal
        refusal = next((line for line in str(exc).splitlines() if _REFUSAL in line), None)
        if refusal is None:
            raise
        raise JobError(refusal[refusal.index(_REFUSAL):]) from None


# How OttlakeExtensions refuses a session whose Spark is not the one its jar was built for.
_REFUSAL = "ottlake's jar was compiled for Spark"
