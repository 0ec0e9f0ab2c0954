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
(session_date and the hourly grain are UTC, qoe-metrics.md section 2) and Delta's
SQL extension and catalog (setting them where spark-defaults already does is
harmless: same values).

Nothing here runs at import time; `pyspark` itself is imported only when a session
is asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from spark_jobs import jars

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import DataType

Mode = Literal["local", "emr"]

# Errors only, on stderr (the JVM's INFO/WARN start-up chatter would bury the CLI's output).
LOG_CONFIG = Path(__file__).with_name("log4j2.properties")

DELTA_CONF: dict[str, str] = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
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


def hadoop_path(spark: SparkSession, path: str) -> tuple[Any, Any]:
    """(Hadoop FileSystem, Path) for `path`, through the session's Hadoop
    configuration: the same calls for a local folder and S3."""
    target = spark.sparkContext._jvm.org.apache.hadoop.fs.Path(path)
    return target.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), target


def hadoop_kind(spark: SparkSession) -> Callable[[str], str]:
    """A probe for ottlake.lakes.require: what a path is (folder, file or missing),
    through Hadoop's FileSystem, so that S3 lakes are checked as local ones."""
    def kind(path: str) -> str:
        filesystem, target = hadoop_path(spark, path)
        if not filesystem.exists(target):
            return "missing"
        return "folder" if filesystem.getFileStatus(target).isDirectory() else "file"

    return kind


KERNEL_EXPRESSION = "io.ottlake.spark.KernelExpression"


def register_java_expression(spark: SparkSession, name: str, class_name: str, return_type: DataType,
                             *args: Any) -> None:
    """Make the Java function `class_name` (a KernelExpression.Kernel of ottlake's
    jar), built with `args`, callable as `name(first, second)`, returning
    `return_type`: a Catalyst expression that hands Spark its internal values
    itself, where a UDF's Java values are converted value by value
    (KernelExpression.java). JobError when the session does not have the jar, or
    when the class refuses `args` (its message says why)."""
    from pyspark.errors.exceptions.captured import CapturedException

    from ottlake.errors import JobError

    java_class = _java_class(spark, class_name)
    try:
        kernel = java_class(*args)
    except CapturedException as exc:  # what PySpark makes of the constructor's exception
        raise JobError(f"{class_name}: {str(exc).splitlines()[0]}") from None
    data_type = spark._jsparkSession.parseDataType(return_type.json())
    _java_class(spark, KERNEL_EXPRESSION).register(spark._jsparkSession, name, kernel, data_type)


def is_in(spark: SparkSession, column: Column, values: Sequence[str]) -> Column:
    """`column IN values` for many strings (Spark makes it a hash-set lookup).

    PySpark's `Column.isin` makes a literal of each value with a call to the JVM of
    its own: the 26,614 raw objects of 10M events took 11 s. Here the values cross
    in one batch, as a one-column frame of `spark` the JVM collects into the list it
    tests against (~1 s, with the job that collects them)."""
    if not values:
        from pyspark.sql import functions as F

        return F.lit(False)
    frame = spark.createDataFrame([(value,) for value in values], "value string")
    listed = getattr(frame._jdf, "as")(spark._jvm.org.apache.spark.sql.Encoders.STRING()).collectAsList()
    return type(column)(column._jc.isInCollection(listed))


def shuffle_stage(frame: DataFrame, *columns: str | Column) -> DataFrame:
    """`frame` computed now, once, hash-partitioned by `columns` and kept as the
    shuffle's files; the frame returned reads them (ShuffleStage.java: why, and how
    it compares with persisting or storing Parquet). An action: the rows are
    computed by this call."""
    return observed_shuffle_stage(frame, columns, {})[0]


def observed_shuffle_stage(frame: DataFrame, columns: Sequence[str | Column],
                           metrics: Mapping[str, Column]) -> tuple[DataFrame, dict[str, Any]]:
    """shuffle_stage, and the aggregates `metrics` ({name: aggregate column}) of
    `frame`'s rows, computed as they are stored (Dataset.observe: no pass of their
    own), as JSON values (a date is its ISO text).

    Like any accumulator of a map stage, the metrics would count a task twice if
    Spark re-ran it (an executor lost while the stage ran): a caller that can
    check them against a count of its own should (bronze: the rows it writes)."""
    import json

    from pyspark.sql import DataFrame as Frame

    spark = frame.sparkSession
    stage = _java_class(spark, "io.ottlake.spark.ShuffleStage")
    if metrics:
        frame = frame.observe(_METRICS, *(column.alias(name) for name, column in metrics.items()))
    source = frame.repartition(*columns)._jdf
    stored = Frame(stage.of(source), spark)
    observed = stage.observed(source, _METRICS) if metrics else None
    return stored, ({} if observed is None else json.loads(observed))


_METRICS = "ottlake_stage_metrics"


def _java_class(spark: SparkSession, class_name: str) -> Any:
    """The class `class_name` of ottlake's jar, through py4j; JobError when the
    session does not have the jar."""
    from py4j.java_gateway import JavaClass

    from ottlake.errors import JobError

    java_class = spark._jvm
    for part in class_name.split("."):
        java_class = getattr(java_class, part)
    if not isinstance(java_class, JavaClass):
        raise JobError(
            f"{class_name} is not on the session's class path: ottlake's jar is missing (local: run "
            f"`{jars.BUILD_COMMAND}`; EMR: pass it to spark-submit with --jars)"
        )
    return java_class


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

    builder = SparkSession.builder.appName(app_name)
    for key, value in {**session_conf(mode, jars_cache=jars_cache), **(conf or {})}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
