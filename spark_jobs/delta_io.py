"""Delta reads and writes shared by every job: create, read changes, merge.

Every table write is one Delta commit, so a failing job never leaves a partial
table visible. Writes that must be idempotent are MERGEs keyed on the table's key
(STYLE.md), with the partition values of the rows involved in the condition so
that Delta prunes the files it reads.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
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


@dataclass(frozen=True)
class TableState:
    """What names one state of one table (its id survives nothing but the table: a
    table dropped and made again at the same path has another), and its file count."""

    id: str
    version: int
    files: int


def table_state(spark: SparkSession, path: str) -> TableState:
    """The table's id, latest version and number of data files, through Delta's public
    API (DESCRIBE DETAIL and DESCRIBE HISTORY: two small Spark jobs)."""
    from delta.tables import DeltaTable

    table = DeltaTable.forPath(spark, path)
    detail = table.detail().select("id", "numFiles").first()
    version = table.history(1).select("version").first()[0]
    return TableState(str(detail["id"]), int(version), int(detail["numFiles"]))


def current_version(spark: SparkSession, path: str) -> int:
    from delta.tables import DeltaTable

    return int(DeltaTable.forPath(spark, path).history(1).select("version").first()[0])


def is_empty(spark: SparkSession, path: str) -> bool:
    """No data files (a table just made, or every row deleted and vacuumed)."""
    from delta.tables import DeltaTable

    return int(DeltaTable.forPath(spark, path).detail().select("numFiles").first()[0]) == 0


def is_missing(spark: SparkSession, path: str) -> bool:
    """No Delta table at `path`."""
    from delta.tables import DeltaTable

    return not DeltaTable.isDeltaTable(spark, path)


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
        stale = _stale_keys(_pruned(target.toDF(), prune), fresh, keys, replace_scope)
        source = source.unionByName(stale, allowMissingColumns=True)

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
    current = _pruned(target, prune).join(scope, on=list(scope.columns), how="left_semi").select(*target.columns)
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


def _pruned(rows: DataFrame, prune: Mapping[str, Sequence[Any]] | None) -> DataFrame:
    """`rows` in the partitions `prune` names only (a filter Spark prunes files by)."""
    for column, values in (prune or {}).items():
        rows = rows.where(F.col(column).isin(sorted(set(values))))
    return rows


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
