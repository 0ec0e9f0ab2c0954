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
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from quality import frames
from quality.gate import GateRun, check
from quality.suites import BRONZE, RAW
from schemas.contract import E
from spark_jobs import delta_io, raw, state
from spark_jobs.columns import EVENT_TIME
from spark_jobs.jobs.common import StageReport, Window, run_job, scratch_folder
from spark_jobs.lake import Lake
from spark_jobs.transforms.bronze import (
    BRONZE_SCHEMA,
    EVENT_DATE,
    LINE,
    QUARANTINE_SCHEMA,
    SOURCE_OBJECT,
    VALID,
    bronze,
)

JOB = "bronze"
# Bronze's file statistics: the times, which queries filter on (a day's or an
# hour's events). Ids are random UUIDs and the dimensions have few values, so a
# file's min and max of them skip nothing; Delta's default (the first 32 columns)
# made the append of 1M events 5.4 s instead of 4.0 s.
STATS_COLUMNS = (E.event_ts, E.received_ts, E.sent_ts, EVENT_TIME)


def ensure(spark: SparkSession, lake: Lake) -> None:
    delta_io.ensure_table(spark, lake.bronze, BRONZE_SCHEMA, partition_by=[EVENT_DATE], change_feed=True,
                          stats_columns=STATS_COLUMNS)
    delta_io.ensure_table(spark, lake.quarantine, QUARANTINE_SCHEMA)


def run(spark: SparkSession, lake: Lake, *, window: Window = Window(), gates: GateRun) -> StageReport:
    ensure(spark, lake)
    report = StageReport(JOB)
    listed = raw.in_window(raw.list_objects(spark, lake.raw), window.start, window.end)
    todo = state.new_objects(spark, lake, listed)
    if not todo:
        report.note = "no new raw objects"
        return report

    ingest_ts = datetime.now(UTC)
    result = bronze(raw.read_lines(spark, lake.raw, todo), ingest_ts=ingest_ts)
    with scratch_folder(spark, lake.scratch(JOB)) as staging:
        # Parse and check the input once: the checked rows (typed columns; the raw
        # line only on rejected rows) are stored as Parquet, and everything after
        # reads them. Stored, not cached: at 3M events filling Spark's cache cost
        # 20 s over the checks, writing Parquet 10 s, and reading a few of its
        # columns back (the dedup's, the dates) costs next to nothing; the plans
        # after it start from a file scan instead of the checks' large projection.
        result.checked.write.mode("overwrite").parquet(staging)
        result = result.staged(spark.read.parquet(staging))
        # The dedup's losing copies, kept: the counts, the gate and the append read them.
        losers = result.losers.persist(StorageLevel.MEMORY_AND_DISK)
        events = result.events
        try:
            counts = result.counts()
            # The watermark is the largest received_ts seen (a losing copy's too);
            # the dates bound the MERGE's partition pruning.
            summary = result.checked.filter(VALID).agg(
                F.max(E.received_ts).alias("watermark"), F.collect_set(EVENT_DATE).alias("dates")).first()
            dates = summary["dates"]
            if counts["quarantined"]:  # else nothing to write
                delta_io.merge_rows(spark, lake.quarantine, result.quarantine, keys=[SOURCE_OBJECT, LINE],
                                    inserted_only=True)
            # The gates, before bronze is written: the run's counts (quarantine share),
            # then the events. The quarantine is kept either way: it holds the evidence.
            run_counts = frames.run_counts(spark, counts)
            report.add_gate(check(lake, suite=RAW.name, frame=run_counts, run=gates))
            report.add_gate(check(lake, suite=BRONZE.name, frame=events, run=gates))
            # A later copy of an event may carry a slightly different derived time:
            # look a day either side of the dates this run touches.
            around = sorted({d + timedelta(days=k) for d in dates for k in (-1, 0, 1)})
            delta_io.merge_rows(
                spark, lake.bronze, events, keys=[E.event_id], prune={EVENT_DATE: around},
                inserted_only=True, update_when=f"s.`{E.received_ts}` < t.`{E.received_ts}`",
            )
            inserted = _inserted(spark, lake.bronze, counts["bronze"])
        finally:
            losers.unpersist()

    previous = state.read_mark(spark, lake, JOB).watermark_ms
    watermark = max(w for w in (previous, summary["watermark"]) if w is not None) if (
        previous is not None or summary["watermark"] is not None) else None
    state.record_objects(spark, lake, todo, run_id=ingest_ts.isoformat(), at=ingest_ts.replace(tzinfo=None))
    state.write_mark(spark, lake, JOB, state.Mark(-1, watermark), at=ingest_ts.replace(tzinfo=None))
    report.counts = {
        "objects": len(todo),
        "rows_in": counts["rows_in"],
        "bronze": inserted,
        "quarantined": counts["quarantined"],
        # in this run, and copies of events an earlier run already has
        "duplicates": counts["duplicates"] + (counts["bronze"] - inserted),
    }
    return report


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
