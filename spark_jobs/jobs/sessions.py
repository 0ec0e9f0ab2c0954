"""silver.play_sessions from bronze: recompute every play session that changed.

A session changed when bronze got a row for it since the last run (the change data
feed), or when it was not final and the watermark moved (it may be final now).
Each changed session is recomputed from all of its events and upserted by
`play_session_id` (qoe-metrics.md §2: "a late event re-opens its session").
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from quality.gate import GateRun, check
from quality.suites import PLAY_SESSIONS
from schemas.contract import E
from schemas.layout import Lake
from schemas.sessions import SESSION_GAP, SESSION_GAP_MS
from schemas.tables import EVENT_DATE, PS
from spark_jobs import delta_io, state
from spark_jobs.columns import PLAY_SESSIONS_SCHEMA
from spark_jobs.jobs.common import DateRange, StageReport, Window, distinct_values, run_job, utc_now
from spark_jobs.transforms.sessions import play_sessions

JOB = "sessions"
BRONZE_JOB = "bronze"  # whose mark holds the watermark
_CHANGED = ("insert", "update_postimage")


def ensure(spark: SparkSession, lake: Lake) -> None:
    delta_io.ensure_table(spark, lake.play_sessions, PLAY_SESSIONS_SCHEMA,
                          partition_by=[PS.session_date], change_feed=True)


def run(spark: SparkSession, lake: Lake, *, window: Window = Window(), gates: GateRun,
        recompute: DateRange | None = None) -> StageReport:
    """`window` is for the raw zone; this job takes whatever bronze changed, or, with
    `recompute`, every session of those session dates."""
    ensure(spark, lake)
    report = StageReport(JOB)
    if recompute is not None:
        return _recompute(spark, lake, recompute, gates, report)
    todo = state.pending(spark, lake, JOB, lake.bronze)
    watermark_ms = state.read_mark(spark, lake, BRONZE_JOB).watermark_ms
    if todo is None or watermark_ms is None:
        report.note = "bronze unchanged" if todo is None else "no valid events yet"
        return report

    bronze = delta_io.read_table(spark, lake.bronze)
    first_run = delta_io.is_empty(spark, lake.play_sessions)
    if first_run:
        events = bronze
    else:
        changed = _changed_sessions(spark, lake, todo, watermark_ms)
        # Adaptive execution broadcasts the ids when they are few.
        events = bronze.join(changed, on=E.play_session_id, how="left_semi")
    fresh = play_sessions(events, watermark_ms=watermark_ms, gap=SESSION_GAP).persist()
    try:
        # Computed (and cached) first, so the gate's seconds are its own, not the fold's.
        report.counts["play_sessions_recomputed"] = fresh.count()
        dates = distinct_values(fresh, PS.session_date)
        report.add_gate(check(lake, suite=PLAY_SESSIONS.name, frame=fresh, run=gates))
        if not first_run:
            ids = fresh.select(PS.play_session_id)
            old = delta_io.read_table(spark, lake.play_sessions).join(ids, on=PS.play_session_id, how="left_semi")
            dates = sorted(set(dates) | set(distinct_values(old, PS.session_date)))
        delta_io.merge_rows(spark, lake.play_sessions, fresh, keys=[PS.play_session_id],
                            prune={PS.session_date: dates})
    finally:
        fresh.unpersist()
    state.write_mark(spark, lake, JOB, state.Mark(todo.version, watermark_ms), at=utc_now())
    return report


def _recompute(spark: SparkSession, lake: Lake, dates: DateRange, gates: GateRun,
               report: StageReport) -> StageReport:
    """Every play session of `dates` from all of its events in bronze, replacing those
    partitions (sessions no longer there are deleted); written only where a row
    differs, so a second recompute commits nothing. The job's mark stays: the next
    run still takes what bronze changed since."""
    watermark_ms = state.read_mark(spark, lake, BRONZE_JOB).watermark_ms
    if watermark_ms is None:
        report.note = "no valid events yet"
        return report
    bronze = delta_io.read_table(spark, lake.bronze)
    # A session of date D has its first event on D (session_date is its start's date):
    # its id is among the events of those dates; its later events may be on any date.
    ids = bronze.where(F.col(EVENT_DATE).between(dates.first, dates.last)).select(E.play_session_id).distinct()
    events = bronze.join(ids, on=E.play_session_id, how="left_semi")
    in_range = F.col(PS.session_date).between(dates.first, dates.last)
    fresh = play_sessions(events, watermark_ms=watermark_ms, gap=SESSION_GAP).where(in_range).persist()
    try:
        report.counts["play_sessions_recomputed"] = fresh.count()
        report.add_gate(check(lake, suite=PLAY_SESSIONS.name, frame=fresh, run=gates))
        report.counts["play_sessions_changed"] = delta_io.replace_scope(
            spark, lake.play_sessions, fresh, keys=[PS.play_session_id], scope=dates.frame(spark, PS.session_date),
            prune={PS.session_date: dates.dates})
    finally:
        fresh.unpersist()
    return report


def _changed_sessions(spark: SparkSession, lake: Lake, todo: state.Pending, watermark_ms: int) -> DataFrame:
    """Ids of sessions with new bronze rows, and of open sessions the watermark may close."""
    new_rows = (
        delta_io.changes_since(spark, lake.bronze, todo.mark.input_version, until=todo.version)
        .where(F.col("_change_type").isin(*_CHANGED))
        .select(E.play_session_id)
    )
    may_close = (
        delta_io.read_table(spark, lake.play_sessions)
        .where(~F.col(PS.is_final))
        .where(F.unix_millis(F.col(PS.end_time)) < F.lit(watermark_ms - SESSION_GAP_MS))
        .select(PS.play_session_id)
    )
    return new_rows.unionByName(may_close).distinct()


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(argv, "Build silver.play_sessions from bronze.player_events.", run)


if __name__ == "__main__":
    raise SystemExit(main())
