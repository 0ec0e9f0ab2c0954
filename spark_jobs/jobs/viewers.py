"""silver.viewer_sessions from silver.play_sessions: recompute the viewers that changed.

A changed play session can merge, split or extend its viewer's sessions, so every
viewer session of each affected viewer is recomputed and replaces the old ones
(ids that no longer exist are deleted in the same commit).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from quality.gate import GateRun, check
from quality.suites import VIEWER_SESSIONS
from schemas.layout import Lake
from schemas.tables import PS, VS
from spark_jobs import delta_io, state
from spark_jobs.columns import VIEWER_SESSIONS_SCHEMA
from spark_jobs.jobs.common import Bounds, DateRange, Days, StageReport, Window, run_job, utc_now, widened, within_span
from spark_jobs.transforms.viewers import viewer_sessions

JOB = "viewer_sessions"


def ensure(spark: SparkSession, lake: Lake) -> None:
    delta_io.ensure_table(spark, lake.viewer_sessions, VIEWER_SESSIONS_SCHEMA, partition_by=[VS.session_date])


def run(spark: SparkSession, lake: Lake, *, window: Window = Window(), gates: GateRun,
        recompute: DateRange | None = None, bounds: Bounds = Bounds()) -> StageReport:
    """The viewers whose play sessions changed since the last run; with `recompute`,
    the viewers with play sessions on those dates (the job's mark then stays)."""
    ensure(spark, lake)
    report = StageReport(JOB)
    play_sessions = delta_io.read_table(spark, lake.play_sessions)
    if recompute is not None:
        changed = (play_sessions.where(F.col(PS.session_date).between(recompute.first, recompute.last))
                   .select(PS.viewer_id, PS.session_date))
        _rebuild(spark, lake, play_sessions, changed, gates, report, bounds, only_changes=True)
        return report
    todo = state.pending(spark, lake, JOB, lake.play_sessions)
    if todo is None:
        report.note = "play sessions unchanged"
        return report

    if delta_io.is_empty(spark, lake.viewer_sessions):
        fresh = viewer_sessions(play_sessions).persist()
        try:
            _publish(spark, lake, fresh, None, None, gates, report)
        finally:
            fresh.unpersist()
    else:
        changed = (delta_io.changes_since(spark, lake.play_sessions, todo.mark.input_version, until=todo.version)
                   .select(PS.viewer_id, PS.session_date))
        _rebuild(spark, lake, play_sessions, changed, gates, report, bounds)
    state.write_mark(spark, lake, JOB, state.Mark(todo.version, todo.mark.watermark_ms), at=utc_now())
    return report


def _rebuild(spark: SparkSession, lake: Lake, play_sessions: DataFrame, changed: DataFrame, gates: GateRun,
             report: StageReport, bounds: Bounds, *, only_changes: bool = False) -> None:
    """The viewer sessions of the viewers in `changed` (viewer_id, session_date), made
    from their play sessions within the longest session of the changed dates
    (common.widened: wider where a viewer session reaches the edge), replace theirs
    in those partitions."""
    changed = changed.persist()
    try:
        first, last = changed.agg(F.min(PS.session_date), F.max(PS.session_date)).first()
        if first is None:
            report.note = "no play session changed"
            return
        viewers = changed.select(PS.viewer_id).distinct()

        def build(around: Days) -> DataFrame:
            return viewer_sessions(play_sessions.where(F.col(PS.session_date).between(*around))
                                   .join(viewers, on=PS.viewer_id, how="left_semi"))

        fresh, around = widened(build, within_span(first, last, bounds), bounds, start=VS.start_time, end=VS.end_time)
    finally:
        changed.unpersist()
    try:
        days = DateRange(*around)
        scope = viewers.crossJoin(days.frame(spark, VS.session_date))
        _publish(spark, lake, fresh, scope, days.dates, gates, report, only_changes=only_changes)
    finally:
        fresh.unpersist()


def _publish(spark: SparkSession, lake: Lake, fresh: DataFrame, scope: DataFrame | None, dates: list[date] | None,
             gates: GateRun, report: StageReport, *, only_changes: bool = False) -> None:
    """Gate `fresh` (persisted) and make it the table's rows in `scope` (viewer ids by
    session dates, the partitions `dates`; everything when None). `only_changes`:
    write nothing when no row differs (a recompute)."""
    # Computed (and cached) first, so the gate's seconds are its own.
    report.counts["viewer_sessions_recomputed"] = fresh.count()
    report.add_gate(check(lake, suite=VIEWER_SESSIONS.name, frame=fresh, run=gates))
    if scope is None:
        delta_io.merge_rows(spark, lake.viewer_sessions, fresh, keys=[VS.viewer_session_id])
    elif only_changes:
        report.counts["viewer_sessions_changed"] = delta_io.replace_scope(
            spark, lake.viewer_sessions, fresh, keys=[VS.viewer_session_id], scope=scope,
            prune={VS.session_date: dates})
    else:
        delta_io.merge_rows(spark, lake.viewer_sessions, fresh, keys=[VS.viewer_session_id],
                            prune={VS.session_date: dates}, replace_scope=scope)


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(argv, "Build silver.viewer_sessions from silver.play_sessions.", run)


if __name__ == "__main__":
    raise SystemExit(main())
