"""bronze.player_events and quarantine.player_events from the raw zone's new objects.

Reads every raw object no earlier run consumed (`_state/raw_objects`), parses and
checks each line against the contract, quarantines what fails with its reasons,
and merges the rest into bronze by `event_id`: a copy already there stays unless
this one was received earlier (player-events.md, Delivery: "the first copy by
received_ts wins"). Every line is accounted for:
rows_in = bronze + quarantined + duplicates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from ottlake.errors import JobError
from quality import frames
from quality.gate import GateRun, check
from quality.suites import BRONZE, EVENT_ID_HASH_REPEATS, RAW
from schemas.contract import E
from schemas.layout import Lake
from schemas.tables import EVENT_DATE, EVENT_TIME, SOURCE_OBJECT
from spark_jobs import delta_io, raw, state
from spark_jobs.columns import BRONZE_SCHEMA, QUARANTINE_SCHEMA
from spark_jobs.jobs.common import Bounds, StageReport, Window, run_job
from spark_jobs.spark import stored
from spark_jobs.transforms.bronze import (
    LINE,
    BronzeResult,
    Tally,
    bronze,
    tally_metrics,
)

JOB = "bronze"
# Bronze's file statistics, Delta's and Parquet's (delta_io.parquet_statistics_only):
# the times, which queries filter on (a day's or an hour's events). Ids are random
# UUIDs and the dimensions have few values, so a file's min and max of them skip
# nothing; Delta's default (the first 32 columns) made the append of 1M events
# 5.4 s instead of 4.0 s.
STATS_COLUMNS = (E.event_ts, E.received_ts, E.sent_ts, EVENT_TIME)


def ensure(spark: SparkSession, lake: Lake) -> None:
    delta_io.ensure_table(spark, lake.bronze, BRONZE_SCHEMA, partition_by=[EVENT_DATE], change_feed=True,
                          stats_columns=STATS_COLUMNS)
    delta_io.ensure_table(spark, lake.quarantine, QUARANTINE_SCHEMA)


def run(spark: SparkSession, lake: Lake, *, window: Window = Window(), gates: GateRun,
        bounds: Bounds = Bounds()) -> StageReport:
    ensure(spark, lake)
    report = StageReport(JOB)
    todo = _new_objects(spark, lake, window, bounds, report)
    if not todo:
        report.note = "no new raw objects"
        return report

    ingest_ts = datetime.now(UTC)
    result = bronze(raw.read_lines(spark, lake.raw, todo), ingest_ts=ingest_ts)
    # Parse and check the input once: every query after reads the checked rows from
    # the executors' disks (spark.stored: persist(DISK_ONLY), Spark's supported
    # storage), in the partitions of the tasks that read them, so that bronze's files
    # keep the rows of an object together and in arrival order (by a hash of the id,
    # sessions then read bronze 15-20% slower). The tally's counts are observed as the
    # rows are stored: no pass of their own.
    checked = stored(result.checked, tally_metrics())
    counted = checked.metrics
    result = result.staged(checked.frame)
    # The dedup's repeated id hashes and losing copies, kept: the tally, the gate and
    # the append read them.
    kept = [checked.frame, result.repeated.persist(StorageLevel.MEMORY_AND_DISK),
            result.losers.persist(StorageLevel.MEMORY_AND_DISK)]
    events = result.events
    try:
        tally = result.tally(counted)
        if tally.quarantined:  # else nothing to write
            delta_io.merge_rows(spark, lake.quarantine, result.quarantine, keys=[SOURCE_OBJECT, LINE],
                                inserted_only=True)
        # The gates, before bronze is published: the run's counts (quarantine share),
        # then the events. The quarantine is kept either way: it holds the evidence.
        run_counts = frames.run_counts(spark, tally.counts())
        report.add_gate(check(lake, suite=RAW.name, frame=run_counts, run=gates))
        with delta_io.parquet_statistics_only(spark, STATS_COLUMNS):  # bronze's writes, either way
            inserted = _append(spark, lake, result, tally, report, gates, kept)
            if inserted is None:
                report.add_gate(check(lake, suite=BRONZE.name, frame=result.gated(EVENT_ID_HASH_REPEATS), run=gates))
                # A later copy of an event may carry a slightly different derived time:
                # look a day either side of the dates this run touches.
                around = sorted({d + timedelta(days=k) for d in tally.dates for k in (-1, 0, 1)})
                delta_io.merge_rows(
                    spark, lake.bronze, events, keys=[E.event_id], prune={EVENT_DATE: around},
                    inserted_only=True, update_when=f"s.`{E.received_ts}` < t.`{E.received_ts}`",
                )
                inserted = _inserted(spark, lake.bronze, tally.bronze)
    finally:
        for frame in kept:
            frame.unpersist()

    previous = state.read_mark(spark, lake, JOB).watermark_ms
    watermark = max((w for w in (previous, tally.watermark_ms) if w is not None), default=None)
    state.record_objects(spark, lake, todo, run_id=ingest_ts.isoformat(), at=ingest_ts.replace(tzinfo=None))
    state.write_mark(spark, lake, JOB, state.Mark(-1, watermark), at=ingest_ts.replace(tzinfo=None))
    report.counts = {
        "objects": len(todo),
        "rows_in": tally.rows_in,
        "bronze": inserted,
        "quarantined": tally.quarantined,
        # in this run, and copies of events an earlier run already has
        "duplicates": tally.duplicates + (tally.bronze - inserted),
    }
    return report


def _new_objects(spark: SparkSession, lake: Lake, window: Window, bounds: Bounds,
                 report: StageReport) -> list[raw.RawObject]:
    """The raw objects to take: those of `window`; else those of the hours from the
    newest consumed one less the lookback (every object on a first run). Objects that
    are new but landed further back (one more lookback is looked at) are left, with a
    warning naming their count and the window that takes them."""
    if window.start is not None or window.end is not None:
        since = window.start
        listed = raw.in_window(raw.list_objects(spark, lake.raw, since=since), window.start, window.end)
        return state.new_objects(spark, lake, listed, since=since)
    newest = state.last_consumed_hour(spark, lake)
    if newest is None:
        return state.new_objects(spark, lake, raw.list_objects(spark, lake.raw))
    since = newest - bounds.raw_lookback
    behind = since - bounds.raw_lookback
    listed = raw.list_objects(spark, lake.raw, since=behind)
    new = state.new_objects(spark, lake, listed, since=behind)
    late = [obj for obj in new if obj.arrival_hour is not None and obj.arrival_hour < since]
    if late:
        report.warnings.append(
            f"{len(late):,} raw objects arrived in hours before {since:%Y-%m-%dT%H} (more than the lookback of "
            f"{bounds.raw_lookback} behind the newest consumed hour) and were not taken: run with "
            f"--window {min(o.arrival_hour for o in late):%Y-%m-%dT%H}/{since:%Y-%m-%dT%H} to take them")
    return [obj for obj in new if obj not in late]


def _append(spark: SparkSession, lake: Lake, result: BronzeResult, tally: Tally, report: StageReport,
            gates: GateRun, kept: list[DataFrame]) -> int | None:
    """Into an empty bronze (a first run, a backfill): write-audit-publish through
    Spark's and Delta's public APIs. The deduplicated events are stored
    (persist(DISK_ONLY)), counted against the tally, gated, and only then appended in
    one commit; the rows appended. None when bronze has rows: the events must be
    merged by event_id.

    Stored first, the gate's queries read the events without redoing the dedup: on
    the checked rows, each of them (seven, with GX's bundling) re-applied it (at 3M
    events ~1.2-3.8 s each). (Delta's own transaction could write the files before
    the audit and commit them after, but only through its internal classes:
    spark_jobs/java/NON_PUBLIC_APIS.md.)"""
    if not delta_io.is_empty(spark, lake.bronze):
        return None
    events = stored(result.gated(EVENT_ID_HASH_REPEATS))
    kept.append(events.frame)
    rows = events.rows
    if rows != tally.bronze:  # the tally was observed as the rows were stored: its own check
        raise JobError(f"bronze wrote {rows:,} events where the run's lines account for "
                       f"{tally.bronze:,} ({tally.rows_in:,} in, {tally.quarantined:,} quarantined, "
                       f"{tally.duplicates:,} duplicates); nothing published")
    report.add_gate(check(lake, suite=BRONZE.name, frame=events.frame, run=gates))
    events.frame.drop(EVENT_ID_HASH_REPEATS).write.format("delta").mode("append").save(lake.bronze)
    return rows


def _inserted(spark: SparkSession, path: str, rows: int) -> int:
    """Rows the last commit added to bronze (all of them when it was the first append)."""
    metrics = delta_io.last_commit_metrics(spark, path)
    if "numTargetRowsInserted" in metrics:
        return metrics["numTargetRowsInserted"]
    return metrics.get("numOutputRows", rows)


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(argv, "Build bronze.player_events and quarantine.player_events from the raw zone.", run)


if __name__ == "__main__":
    raise SystemExit(main())
