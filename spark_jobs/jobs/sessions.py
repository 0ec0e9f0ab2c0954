"""silver.play_sessions from bronze: recompute every play session that changed.

A session changed when bronze got a row for it since the last run (the change data
feed), or when it was not final and the watermark moved (it may be final now).
Each changed session is recomputed from all of its events and upserted by
`play_session_id` (qoe-metrics.md §2: "a late event re-opens its session").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from quality.gate import GateRun, check
from quality.suites import PLAY_SESSIONS
from schemas.contract import E
from schemas.layout import Lake
from schemas.sessions import SESSION_GAP, SESSION_GAP_MS
from schemas.tables import EVENT_DATE, PS
from spark_jobs import delta_io, state
from spark_jobs.columns import PLAY_SESSIONS_SCHEMA
from spark_jobs.jobs.common import (
    Bounds,
    DateRange,
    Days,
    StageReport,
    Window,
    distinct_values,
    run_job,
    utc_now,
    widened,
    within_span,
)
from spark_jobs.transforms.sessions import play_sessions

JOB = "sessions"
BRONZE_JOB = "bronze"  # whose mark holds the watermark
_CHANGED = ("insert", "update_postimage")


def ensure(spark: SparkSession, lake: Lake) -> None:
    delta_io.ensure_table(spark, lake.play_sessions, PLAY_SESSIONS_SCHEMA,
                          partition_by=[PS.session_date], change_feed=True)


def run(spark: SparkSession, lake: Lake, *, window: Window = Window(), gates: GateRun,
        recompute: DateRange | None = None, bounds: Bounds = Bounds()) -> StageReport:
    """`window` is for the raw zone; this job takes whatever bronze changed, or, with
    `recompute`, every session of those session dates."""
    ensure(spark, lake)
    report = StageReport(JOB)
    if recompute is not None:
        return _recompute(spark, lake, recompute, gates, report, bounds)
    todo = state.pending(spark, lake, JOB, lake.bronze)
    watermark_ms = state.read_mark(spark, lake, BRONZE_JOB).watermark_ms
    if todo is None or watermark_ms is None:
        report.note = "bronze unchanged" if todo is None else "no valid events yet"
        return report

    bronze = delta_io.read_table(spark, lake.bronze)
    first_run = delta_io.is_empty(spark, lake.play_sessions)
    if first_run:
        fresh = play_sessions(bronze, watermark_ms=watermark_ms, gap=SESSION_GAP).persist()
        around = None
    else:
        changed = _changed_sessions(spark, lake, todo, watermark_ms, bounds).persist()
        try:
            fresh, around = _fold_changed(bronze, changed, watermark_ms, bounds)
        finally:
            changed.unpersist()
    try:
        # Computed (and cached) first, so the gate's seconds are its own, not the fold's.
        report.counts["play_sessions_recomputed"] = fresh.count()
        dates = distinct_values(fresh, PS.session_date)
        report.add_gate(check(lake, suite=PLAY_SESSIONS.name, frame=fresh, run=gates))
        if around is not None:  # the rows they replace, among the dates they can have had
            ids = fresh.select(PS.play_session_id)
            old = (delta_io.read_table(spark, lake.play_sessions).where(_between(PS.session_date, around))
                   .join(ids, on=PS.play_session_id, how="left_semi"))
            dates = sorted(set(dates) | set(distinct_values(old, PS.session_date)))
        delta_io.merge_rows(spark, lake.play_sessions, fresh, keys=[PS.play_session_id],
                            prune={PS.session_date: dates})
    finally:
        fresh.unpersist()
    state.write_mark(spark, lake, JOB, state.Mark(todo.version, watermark_ms), at=utc_now())
    return report


def _recompute(spark: SparkSession, lake: Lake, dates: DateRange, gates: GateRun,
               report: StageReport, bounds: Bounds) -> StageReport:
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
    # its id is among the events of those dates; its other events lie within the
    # longest session of them (_fold_changed).
    changed = (bronze.where(_between(EVENT_DATE, (dates.first, dates.last)))
               .select(E.play_session_id, F.col(EVENT_DATE).alias(_DAY)).distinct().persist())
    try:
        folded, _ = _fold_changed(bronze, changed, watermark_ms, bounds)
    finally:
        changed.unpersist()
    fresh = folded.where(_between(PS.session_date, (dates.first, dates.last))).persist()
    try:
        report.counts["play_sessions_recomputed"] = fresh.count()
        report.add_gate(check(lake, suite=PLAY_SESSIONS.name, frame=fresh, run=gates))
        report.counts["play_sessions_changed"] = delta_io.replace_scope(
            spark, lake.play_sessions, fresh, keys=[PS.play_session_id], scope=dates.frame(spark, PS.session_date),
            prune={PS.session_date: dates.dates})
    finally:
        fresh.unpersist()
        folded.unpersist()
    return report


# Columns of the changed sessions: the id, and a date of the session's events.
_DAY = "_day"


def _changed_sessions(spark: SparkSession, lake: Lake, todo: state.Pending, watermark_ms: int,
                      bounds: Bounds) -> DataFrame:
    """(id, a date of its events) of the sessions with new bronze rows, and of the open
    sessions the watermark may close. Only recent partitions of play_sessions hold an
    open session: one opened more than the longest session before the last watermark
    was final then."""
    new_rows = (
        delta_io.changes_since(spark, lake.bronze, todo.mark.input_version, until=todo.version)
        .where(F.col("_change_type").isin(*_CHANGED))
        .select(E.play_session_id, F.col(EVENT_DATE).alias(_DAY))
    )
    since = todo.mark.watermark_ms if todo.mark.watermark_ms is not None else watermark_ms
    oldest_open = (datetime.fromtimestamp(since / 1000, UTC) - bounds.session_span).date()
    may_close = (
        delta_io.read_table(spark, lake.play_sessions)
        .where(F.col(PS.session_date) >= F.lit(oldest_open))
        .where(~F.col(PS.is_final))
        .where(F.unix_millis(F.col(PS.end_time)) < F.lit(watermark_ms - SESSION_GAP_MS))
        .select(PS.play_session_id, F.col(PS.session_date).alias(_DAY))
    )
    return new_rows.unionByName(may_close).distinct()


def _fold_changed(bronze: DataFrame, changed: DataFrame, watermark_ms: int,
                  bounds: Bounds) -> tuple[DataFrame, Days | None]:
    """The changed sessions folded from their events, read only in the bronze partitions
    within the longest session of the dates they changed on (common.widened: wider
    where a session reaches the edge); and that range."""
    first, last = changed.agg(F.min(_DAY), F.max(_DAY)).first()
    if first is None:  # nothing changed (a commit that added no row: OPTIMIZE, say)
        return play_sessions(bronze.limit(0), watermark_ms=watermark_ms, gap=SESSION_GAP).persist(), None
    ids = changed.select(E.play_session_id).distinct()

    def fold(around: Days) -> DataFrame:
        events = bronze.where(_between(EVENT_DATE, around)).join(ids, on=E.play_session_id, how="left_semi")
        return play_sessions(events, watermark_ms=watermark_ms, gap=SESSION_GAP)

    return widened(fold, within_span(first, last, bounds), bounds, start=PS.start_time, end=PS.end_time)


def _between(column: str, dates: Days) -> Column:
    return F.col(column).between(F.lit(dates[0]), F.lit(dates[1]))


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(argv, "Build silver.play_sessions from bronze.player_events.", run)


if __name__ == "__main__":
    raise SystemExit(main())
