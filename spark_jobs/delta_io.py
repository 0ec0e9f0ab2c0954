"""Delta reads and writes shared by every job: create, read changes, merge.

Every table write is one Delta commit, so a failing job never leaves a partial
table visible. Writes that must be idempotent are MERGEs keyed on the table's key
(STYLE.md), with the partition values of the rows involved in the condition so
that Delta prunes the files it reads.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

# The source rows of a merge carry what to do with their key.
_OP = "_ottlake_op"
_UPSERT, _DELETE = "upsert", "delete"


def ensure_table(
    spark: SparkSession,
    path: str,
    schema: T.StructType,
    *,
    partition_by: Sequence[str] = (),
    change_feed: bool = False,
    stats_columns: Sequence[str] = (),
) -> None:
    """Create the Delta table at `path` if it is not there (an empty version 0).

    `change_feed` turns on Delta's change data feed from the first version, so that
    the next job reads only the rows this one changed. `stats_columns`: the only
    columns Delta keeps file statistics (min, max, nulls) of for data skipping;
    by default it keeps them for the first 32 columns, which on a wide table costs
    the writes more than they save the reads."""
    from delta.tables import DeltaTable

    builder = DeltaTable.createIfNotExists(spark).location(path).addColumns(schema)
    if partition_by:
        builder = builder.partitionedBy(*(str(column) for column in partition_by))
    if change_feed:
        builder = builder.property("delta.enableChangeDataFeed", "true")
    if stats_columns:
        builder = builder.property("delta.dataSkippingStatsColumns", ",".join(map(str, stats_columns)))
    builder.execute()


# parquet-java's switch of the footer's column statistics (min, max, nulls of each
# row group and page), for every column or, suffixed `#column`, for one.
_PARQUET_STATISTICS = "parquet.column.statistics.enabled"


@contextmanager
def parquet_statistics_only(spark: SparkSession, columns: Sequence[str]) -> Iterator[None]:
    """Parquet files written meanwhile keep column statistics of `columns` alone.

    For a table whose Delta file statistics are limited to the same columns
    (ensure_table's `stats_columns`): a reader skips files by Delta's statistics and
    row groups by Parquet's, and on the other columns (random ids, a dimension's
    few values spread over every file) neither skips anything. Keeping them cost
    the encoding: bronze's append of 3M events took 12.7-13.6 s with them and
    10.8-11.3 s without (four runs each way, one JVM). Runtime options of the
    session, which Spark copies into each write's Hadoop configuration; the
    earlier values are put back on leaving."""
    keys = {_PARQUET_STATISTICS: "false", **{f"{_PARQUET_STATISTICS}#{column}": "true" for column in columns}}
    before = {key: spark.conf.get(key, None) for key in keys}
    for key, value in keys.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def snapshot(spark: SparkSession, path: str) -> Any:
    """The Delta table's latest snapshot (the JVM's `Snapshot`), brought up to date
    by listing its log. Its version, files count and metadata come from the log
    alone: asked through `DeltaTable.history` or `detail`, each was a Spark job
    (0.1-0.2 s warm, 1-5 s in a fresh JVM; the snapshot's answers take ~10 ms).
    `startTransaction` is the JVM API's stable way to an updated snapshot; the
    transaction is dropped unused."""
    log = spark._jvm.org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, path)
    return log.startTransaction().snapshot()


def current_version(spark: SparkSession, path: str) -> int:
    return int(snapshot(spark, path).version())


def table_id(spark: SparkSession, path: str) -> tuple[str, int]:
    """(the table's id, its version): what names one state of one table, even when
    a table is dropped and made again at the same path."""
    return snapshot_id(snapshot(spark, path))


def snapshot_id(current: Any) -> tuple[str, int]:
    """table_id of a snapshot already taken."""
    return str(current.metadata().id()), int(current.version())


def is_empty(spark: SparkSession, path: str) -> bool:
    return file_count(snapshot(spark, path)) == 0


def file_count(current: Any) -> int:
    """The number of data files of a snapshot (the JVM's `Snapshot`): from its
    version's checksum file when the writer left one (the Delta protocol's Version
    Checksum File, whose numFiles every Delta writer that writes it must fill),
    else from the log's state. `Snapshot.numOfFiles` rebuilds the state with a
    Spark job even when the checksum is there: 1.1-1.2 s for a table just made
    (4 s for the first in a fresh JVM), against ~10 ms for the checksum."""
    checksum = current.checksumOpt()
    if checksum.isDefined():
        return int(checksum.get().numFiles())
    return int(current.numOfFiles())


def read_table(spark: SparkSession, path: str) -> DataFrame:
    return spark.read.format("delta").load(path)


def changes_since(spark: SparkSession, path: str, version: int, *, until: int) -> DataFrame:
    """Rows changed by versions (version, until], from the change data feed, with
    Delta's `_change_type` (insert, update_preimage, update_postimage, delete)."""
    return (
        spark.read.format("delta")
        .option("readChangeFeed", "true")
        .option("startingVersion", version + 1)
        .option("endingVersion", until)
        .load(path)
    )


def merge_rows(
    spark: SparkSession,
    path: str,
    fresh: DataFrame,
    *,
    keys: Sequence[str],
    prune: Mapping[str, Sequence[Any]] | None = None,
    replace_scope: DataFrame | None = None,
    inserted_only: bool = False,
    update_when: str | None = None,
) -> None:
    """Upsert `fresh` into the table by `keys` (null-safe), in one commit.

    - A matched row is rewritten only when a value differs, so a re-run with the
      same input changes nothing (no new files, no change-feed rows).
    - `replace_scope` (a frame of values of some target columns, e.g. the viewers
      recomputed) makes `fresh` the whole truth for those slices: target rows in the
      scope whose key is not in `fresh` are deleted in the same commit.
    - `prune` restricts the target side to these values of its (partition)
      columns; it must cover every row the merge can match.
    - `inserted_only`: matched rows are left alone (first copy wins), unless
      `update_when` (a condition on `t.` and `s.`) says to replace them.
    """
    from delta.tables import DeltaTable

    target = DeltaTable.forPath(spark, path)
    columns = [field.name for field in target.toDF().schema.fields]
    if is_empty(spark, path):
        # Nothing to match: a plain append is the same commit, without the join.
        fresh.select(*columns).write.format("delta").mode("append").save(path)
        return
    source = fresh.select(*columns).withColumn(_OP, F.lit(_UPSERT))
    if replace_scope is not None:
        source = source.unionByName(_stale_keys(target.toDF(), fresh, keys, replace_scope), allowMissingColumns=True)

    condition = " AND ".join([f"t.`{k}` <=> s.`{k}`" for k in keys] + _prune_sql(prune))
    assign = {f"`{c}`": f"s.`{c}`" for c in columns}
    merge = target.alias("t").merge(source.alias("s"), condition)
    if replace_scope is not None:
        merge = merge.whenMatchedDelete(condition=f"s.{_OP} = '{_DELETE}'")
    if inserted_only:
        if update_when:
            merge = merge.whenMatchedUpdate(condition=f"s.{_OP} = '{_UPSERT}' AND ({update_when})", set=assign)
    else:
        differs = " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in columns if c not in keys)
        merge = merge.whenMatchedUpdate(condition=f"s.{_OP} = '{_UPSERT}' AND ({differs or 'false'})", set=assign)
    merge.whenNotMatchedInsert(condition=f"s.{_OP} = '{_UPSERT}'", values=assign).execute()


def replace_scope(
    spark: SparkSession,
    path: str,
    fresh: DataFrame,
    *,
    keys: Sequence[str],
    scope: DataFrame,
    prune: Mapping[str, Sequence[Any]] | None = None,
) -> int:
    """Make the table's rows inside `scope` (a frame of values of some of its
    columns: dates, hours) exactly `fresh`, in one commit (merge_rows with
    replace_scope), and nothing at all when no row differs: a recompute that finds
    the table right leaves no commit. The number of rows upserted or deleted."""
    target = read_table(spark, path)
    current = target.join(scope, on=list(scope.columns), how="left_semi").select(*target.columns)
    rows = fresh.select(*target.columns)
    changed = rows.exceptAll(current).count() + current.select(*keys).exceptAll(rows.select(*keys)).count()
    if changed:
        merge_rows(spark, path, fresh, keys=keys, prune=prune, replace_scope=scope)
    return changed


def compact(spark: SparkSession, path: str) -> None:
    """Rewrite the table's small files as few larger ones (Delta's OPTIMIZE: the
    same rows, a commit that changes no data, so it conflicts with no append)."""
    from delta.tables import DeltaTable

    DeltaTable.forPath(spark, path).optimize().executeCompaction()


class StagedAppend:
    """An append whose data files are written into the table's folder but not yet
    committed: no Delta reader sees them until `commit` (write, audit, publish).

    `frame` reads exactly the written files (Parquet, with the table's schema and
    partition values), so a gate can check the rows as they will be published and
    read only the columns it needs, instead of recomputing the source frame once
    a query. `abort` deletes the files; files left by a process that died in
    between are not in the log, and VACUUM removes them like any unreferenced file.

    Delta's own transaction does the work (DeltaLog.startTransaction, writeFiles,
    commit: the steps of a DataFrame append, with the audit between them); it has
    read the whole table, so a commit by another writer since makes this one fail
    (ConcurrentAppendException) instead of appending blindly beside it.
    """

    def __init__(self, spark: SparkSession, path: str, transaction: Any, actions: Any, partition_by: Sequence[str]):
        self._spark, self._path, self._txn, self._actions = spark, path, transaction, actions
        self._partition_by = list(partition_by)
        self.frame = _files_frame(spark, path, transaction, actions)

    @property
    def rows(self) -> int:
        """The rows written, as the files' statistics count them (counted when a
        session collects no statistics)."""
        counts = [action.numLogicalRecords() for action in _each(self._actions)]
        if all(count.isDefined() for count in counts):
            return sum(int(count.get()) for count in counts)
        return self.frame.count()

    def commit(self) -> int:
        """Publish the files in one commit; the table's new version."""
        jvm = self._spark._jvm
        scala = _Scala(jvm)
        none = scala.none()
        write = getattr(jvm.org.apache.spark.sql.delta, "DeltaOperations$Write")(
            jvm.org.apache.spark.sql.SaveMode.Append, scala.some(scala.seq(self._partition_by)),
            none, none, none, none, none, none, none)
        return int(self._txn.commit(self._actions, write))

    def abort(self) -> None:
        """Delete the written files (nothing was committed)."""
        from spark_jobs.spark import hadoop_path

        log = self._txn.deltaLog()
        filesystem, _ = hadoop_path(self._spark, self._path)
        for action in _each(self._actions):
            filesystem.delete(action.absolutePath(log), False)


def stage_append(spark: SparkSession, path: str, fresh: DataFrame) -> StagedAppend | None:
    """Write `fresh` (the table's columns) as an append into the empty table at
    `path`, without committing (StagedAppend); None when the table has rows, whose
    keys a merge must match instead."""
    jvm = spark._jvm
    log = jvm.org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, path)
    transaction = log.startTransaction()
    snapshot = transaction.snapshot()
    if file_count(snapshot) != 0:
        return None
    transaction.readWholeTable()
    columns = [field.name for field in read_table(spark, path).schema.fields]
    partition_by = [str(name) for name in _Scala(jvm).list(snapshot.metadata().partitionColumns())]
    actions = transaction.writeFiles(fresh.select(*columns)._jdf)
    return StagedAppend(spark, path, transaction, actions, partition_by)


def _files_frame(spark: SparkSession, path: str, transaction: Any, actions: Any) -> DataFrame:
    """The rows of `actions`' files (AddFile each: an append writes nothing else)."""
    kinds = {action.getClass().getSimpleName() for action in _each(actions)}
    if kinds - {"AddFile"}:
        from ottlake.errors import JobError

        raise JobError(f"staged append to {path} wrote {sorted(kinds)} actions, expected AddFile only")
    scala = _Scala(spark._jvm)
    return DataFrame(transaction.deltaLog().createDataFrame(transaction.snapshot(), actions, False, scala.none()),
                     spark)


def _each(actions: Any) -> list[Any]:
    """The elements of a Scala Seq of Delta actions, through py4j."""
    return [actions.apply(index) for index in range(actions.size())]


class _Scala:
    """Scala values for Delta's JVM API, through py4j."""

    def __init__(self, jvm: Any) -> None:
        self._jvm = jvm

    def none(self) -> Any:
        return self._jvm.scala.Option.apply(None)

    def some(self, value: Any) -> Any:
        return self._jvm.scala.Option.apply(value)

    def seq(self, values: Sequence[Any]) -> Any:
        items = self._jvm.java.util.ArrayList()
        for value in values:
            items.add(value)
        return self._jvm.scala.jdk.javaapi.CollectionConverters.asScala(items).toList()

    def list(self, seq: Any) -> list[Any]:
        return list(self._jvm.scala.jdk.javaapi.CollectionConverters.asJava(seq))


def _stale_keys(target: DataFrame, fresh: DataFrame, keys: Sequence[str], scope: DataFrame) -> DataFrame:
    """Keys of target rows inside `scope` that `fresh` no longer has: to delete."""
    in_scope = target.join(scope, on=list(scope.columns), how="left_semi").select(*keys).alias("old")
    new_keys = fresh.select(*keys).alias("new")
    same = [F.col(f"old.`{k}`").eqNullSafe(F.col(f"new.`{k}`")) for k in keys]
    joined = in_scope.join(new_keys, on=_and_all(same), how="left_anti")
    return joined.select(*(F.col(f"`{k}`") for k in keys)).withColumn(_OP, F.lit(_DELETE))


def _and_all(conditions: Sequence[Any]) -> Any:
    result = conditions[0]
    for condition in conditions[1:]:
        result = result & condition
    return result


def _prune_sql(prune: Mapping[str, Sequence[Any]] | None) -> list[str]:
    clauses = []
    for column, values in (prune or {}).items():
        if not values:
            clauses.append("false")
            continue
        clauses.append(f"t.`{column}` IN ({', '.join(_sql_literal(v) for v in sorted(set(values)))})")
    return clauses


def _sql_literal(value: Any) -> str:
    if isinstance(value, date):
        return f"DATE'{value.isoformat()}'"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def last_commit_metrics(spark: SparkSession, path: str) -> dict[str, int]:
    """The operation metrics of the table's latest commit (rows inserted, updated...)."""
    from delta.tables import DeltaTable

    metrics = DeltaTable.forPath(spark, path).history(1).select("operationMetrics").first()[0] or {}
    return {key: int(value) for key, value in metrics.items() if str(value).isdigit()}
