"""What each job has consumed, kept in the lake under `_state/` as Delta tables.

- `raw_objects`: every raw object bronze has read (path, size, write time), so
  the next run takes only new ones; an object rewritten in place (the lake sink
  after a restart) has a new size or time and is read again (dedup absorbs it).
  Each run appends the objects it read (record_objects).
- `marks`: per job, the version of its input table it has consumed up to, and
  the watermark (the largest `received_ts` seen so far, qoe-metrics.md §2).
Both are written only after the job's own tables, so a failed run is simply
re-done by the next one.

A mark is appended (one row a job run), not merged: a job's mark only moves
forward (its input version and the watermark never go down), so its latest row is
its greatest by (input_version, watermark_ms), whatever the clocks of the
machines that wrote them. A blind append commits without reading the table's
files: 0.7-0.9 s warm against 3.5-7.6 s for the MERGE of one row, which Delta
plans against the table's file list (a log replay, Spark jobs) before it writes
(four marks a batch). When either table holds more than COMPACT_FILES files, the
writer compacts them (Delta's OPTIMIZE: the rows stay, as the history of the
marks; blind appends beside it do not conflict with it).

The marks are read once a process: the rows of the version read (or written by
this process) are kept, and used while the table is still at that version (the
table's id and version, through Delta's public DESCRIBE DETAIL and DESCRIBE HISTORY).
Read anew by each stage, they and the input versions cost a 10M-event batch ~11 s (a
new snapshot after every mark written, then a Spark job).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from schemas.layout import Lake
from spark_jobs.columns import MARKS_SCHEMA, RAW_OBJECTS_SCHEMA
from spark_jobs.delta_io import TableState, compact, ensure_table, is_empty, is_missing, read_table, table_state
from spark_jobs.raw import RawObject


@dataclass(frozen=True)
class Mark:
    input_version: int  # -1: nothing consumed yet
    watermark_ms: int | None


def new_objects(spark: SparkSession, lake: Lake, listed: list[RawObject], *,
                since: datetime | None = None) -> list[RawObject]:
    """The listed objects not consumed before (or changed since). With `since` (the
    listing's first arrival hour), only the records of objects from that hour on are
    read: Delta skips the files of older ones by their statistics."""
    path = lake.state("raw_objects")
    ensure_table(spark, path, RAW_OBJECTS_SCHEMA)
    if is_empty(spark, path):  # a first run: nothing to read
        return list(listed)
    records = read_table(spark, path)
    if since is not None and ARRIVAL_HOUR in records.columns:
        hour = F.col(ARRIVAL_HOUR)
        records = records.where((hour >= F.lit(since.replace(tzinfo=UTC))) | hour.isNull())
    seen = {(row.path, row.size, row.modified_ms) for row in records.select("path", "size", "modified_ms").collect()}
    return [obj for obj in listed if (obj.path, obj.size, obj.modified_ms) not in seen]


ARRIVAL_HOUR = "arrival_hour"


def last_consumed_hour(spark: SparkSession, lake: Lake) -> datetime | None:
    """The newest arrival hour among the consumed objects (None before the first
    run, or when no record has one): Delta answers a max from its statistics."""
    path = lake.state("raw_objects")
    if is_missing(spark, path):
        return None
    records = read_table(spark, path)
    if ARRIVAL_HOUR not in records.columns:
        return None
    newest = records.agg(F.unix_micros(F.max(ARRIVAL_HOUR))).first()[0]
    return None if newest is None else datetime.fromtimestamp(newest / 1e6, UTC).replace(tzinfo=None)


def record_objects(spark: SparkSession, lake: Lake, objects: list[RawObject], *, run_id: str, at: datetime) -> None:
    if not objects:
        return
    rows = [(o.path, o.size, o.modified_ms, run_id, at, o.arrival_hour and o.arrival_hour.replace(tzinfo=UTC))
            for o in objects]
    # Appended, not merged: the objects are the ones `new_objects` found unrecorded,
    # and a copy recorded twice (two runs racing over one object) is harmless, as
    # `new_objects` takes the set. The MERGE cost 2.3-2.8 s warm (11 s in a fresh
    # JVM) for 200 objects against the 10M benchmark's 26,614, the append 0.5 s.
    _append(spark, lake.state("raw_objects"), spark.createDataFrame(rows, RAW_OBJECTS_SCHEMA))


def read_mark(spark: SparkSession, lake: Lake, job: str) -> Mark:
    return _marks(spark, lake).rows.get(job, Mark(-1, None))


def write_mark(spark: SparkSession, lake: Lake, job: str, mark: Mark, *, at: datetime) -> None:
    path = lake.state("marks")
    before = _marks(spark, lake)
    frame = spark.createDataFrame([(job, mark.input_version, mark.watermark_ms, at)], MARKS_SCHEMA)
    after = _append(spark, path, frame)
    table, version = after.id, after.version
    if (table, version) == (before.table, before.version + 1):  # no other commit since the rows read: this one
        _MARKS[path] = _Marks(table, version, {**before.rows, job: latest([before.rows.get(job), mark])})
    else:
        _MARKS.pop(path, None)


# Files of a state table past which a writer compacts them (a batch appends four
# marks and one record of raw objects).
COMPACT_FILES = 64


def _append(spark: SparkSession, path: str, frame: DataFrame) -> TableState:
    """Append `frame` to the state table at `path` (a blind append: no read of the
    table's files), then compact its files when there are more than COMPACT_FILES;
    the table's state right after the append."""
    # mergeSchema: a state table made before a column was added gains it here.
    frame.write.format("delta").mode("append").option("mergeSchema", "true").save(path)
    current = table_state(spark, path)
    if current.files > COMPACT_FILES:
        compact(spark, path)
    return current


def latest(marks: list[Mark | None]) -> Mark:
    """The newest of one job's marks: a job's input version and watermark only move
    forward, so the greatest is the last written (module docstring)."""
    written = [mark for mark in marks if mark is not None]
    if not written:
        return Mark(-1, None)
    return max(written, key=lambda mark: (mark.input_version, -1 if mark.watermark_ms is None else mark.watermark_ms))


@dataclass(frozen=True)
class _Marks:
    """Every job's mark at one version of one marks table."""

    table: str
    version: int
    rows: dict[str, Mark]


# By the marks table's path: the rows this process last read or wrote.
_MARKS: dict[str, _Marks] = {}


def _marks(spark: SparkSession, lake: Lake) -> _Marks:
    path = lake.state("marks")
    ensure_table(spark, path, MARKS_SCHEMA)
    current = table_state(spark, path)
    table, version = current.id, current.version
    kept = _MARKS.get(path)
    if kept is not None and (kept.table, kept.version) == (table, version):
        return kept
    # The rows of that version exactly (time travel), should another writer commit
    # meanwhile; none to read when it has no files (a first run).
    rows = [] if current.files == 0 else (
        spark.read.format("delta").option("versionAsOf", version).load(path).collect())
    history: dict[str, list[Mark | None]] = {}
    for row in rows:
        history.setdefault(row.job, []).append(Mark(int(row.input_version), row.watermark_ms))
    kept = _Marks(table, version, {job: latest(marks) for job, marks in history.items()})
    _MARKS[path] = kept
    return kept


@dataclass(frozen=True)
class Pending:
    """An input table that changed since a job last consumed it."""

    mark: Mark  # where the job stopped
    version: int  # the input's version now


def pending(spark: SparkSession, lake: Lake, job: str, input_path: str) -> Pending | None:
    """What `job` has to consume from its input table, or None when nothing changed."""
    from spark_jobs.delta_io import current_version

    version = current_version(spark, input_path)
    mark = read_mark(spark, lake, job)
    return None if mark.input_version >= version else Pending(mark, version)
