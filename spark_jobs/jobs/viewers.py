"""silver.viewer_sessions from silver.play_sessions: recompute the viewers that changed.

A changed play session can merge, split or extend its viewer's sessions, so every
viewer session of each affected viewer is recomputed and replaces the old ones
(ids that no longer exist are deleted in the same commit).
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from quality.gate import GateRun, check
from quality.suites import VIEWER_SESSIONS
from schemas.layout import Lake
from schemas.tables import PS, VS
from spark_jobs import delta_io, state
from spark_jobs.columns import VIEWER_SESSIONS_SCHEMA
from spark_jobs.jobs.common import DateRange, StageReport, Window, distinct_values, run_job, utc_now
from spark_jobs.transforms.viewers import viewer_sessions

JOB = "viewer_sessions"


def ensure(spark: SparkSession, lake: Lake) -> None:
    delta_io.ensure_table(spark, lake.viewer_sessions, VIEWER_SESSIONS_SCHEMA, partition_by=[VS.session_date])


def run(spark: SparkSession, lake: Lake, *, window: Window = Window(), gates: GateRun,
        recompute: DateRange | None = None) -> StageReport:
    """The viewers whose play sessions changed since the last run; with `recompute`,
    the viewers with play sessions on those dates (the job's mark then stays)."""
    ensure(spark, lake)
    report = StageReport(JOB)
    if recompute is not None:
        play_sessions = delta_io.read_table(spark, lake.play_sessions)
        viewers = (play_sessions.where(F.col(PS.session_date).between(recompute.first, recompute.last))
                   .select(PS.viewer_id).distinct())
        _publish(spark, lake, viewer_sessions(play_sessions.join(viewers, on=PS.viewer_id, how="left_semi")),
                 viewers, gates, report, only_changes=True)
        return report
    todo = state.pending(spark, lake, JOB, lake.play_sessions)
    if todo is None:
        report.note = "play sessions unchanged"
        return report

    play_sessions = delta_io.read_table(spark, lake.play_sessions)
    if delta_io.is_empty(spark, lake.viewer_sessions):
        viewers = None
        fresh = viewer_sessions(play_sessions)
    else:
        viewers = (
            delta_io.changes_since(spark, lake.play_sessions, todo.mark.input_version, until=todo.version)
            .select(PS.viewer_id).distinct()
        )
        fresh = viewer_sessions(play_sessions.join(viewers, on=PS.viewer_id, how="left_semi"))
    _publish(spark, lake, fresh, viewers, gates, report)
    state.write_mark(spark, lake, JOB, state.Mark(todo.version, todo.mark.watermark_ms), at=utc_now())
    return report


def _publish(spark: SparkSession, lake: Lake, fresh: DataFrame, viewers: DataFrame | None, gates: GateRun,
             report: StageReport, *, only_changes: bool = False) -> None:
    """Gate `fresh` (every viewer session of `viewers`, or of everyone when None) and
    make it the table's rows of those viewers. `only_changes`: write nothing when no
    row differs (a recompute)."""
    fresh = fresh.persist()
    try:
        # Computed (and cached) first, so the gate's seconds are its own.
        report.counts["viewer_sessions_recomputed"] = fresh.count()
        dates = set(distinct_values(fresh, VS.session_date))
        report.add_gate(check(lake, suite=VIEWER_SESSIONS.name, frame=fresh, run=gates))
        if viewers is not None:
            old = delta_io.read_table(spark, lake.viewer_sessions).join(viewers, on=VS.viewer_id, how="left_semi")
            dates |= set(distinct_values(old, VS.session_date))
        prune = {VS.session_date: sorted(dates)}
        if only_changes and viewers is not None:
            report.counts["viewer_sessions_changed"] = delta_io.replace_scope(
                spark, lake.viewer_sessions, fresh, keys=[VS.viewer_session_id], scope=viewers, prune=prune)
        else:
            delta_io.merge_rows(spark, lake.viewer_sessions, fresh, keys=[VS.viewer_session_id], prune=prune,
                                replace_scope=viewers)
    finally:
        fresh.unpersist()


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(argv, "Build silver.viewer_sessions from silver.play_sessions.", run)


if __name__ == "__main__":
    raise SystemExit(main())
