"""silver.viewer_sessions from silver.play_sessions: recompute the viewers that changed.

A changed play session can merge, split or extend its viewer's sessions, so every
viewer session of each affected viewer is recomputed and replaces the old ones
(ids that no longer exist are deleted in the same commit).
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import SparkSession

from quality.gate import GateRun, check
from quality.suites import VIEWER_SESSIONS
from spark_jobs import delta_io, state
from spark_jobs.columns import PS, VIEWER_SESSIONS_SCHEMA, VS
from spark_jobs.jobs.common import StageReport, Window, distinct_values, run_job, utc_now
from spark_jobs.lake import Lake
from spark_jobs.transforms.viewers import viewer_sessions

JOB = "viewer_sessions"


def ensure(spark: SparkSession, lake: Lake) -> None:
    delta_io.ensure_table(spark, lake.viewer_sessions, VIEWER_SESSIONS_SCHEMA, partition_by=[VS.session_date])


def run(spark: SparkSession, lake: Lake, *, window: Window = Window(), gates: GateRun) -> StageReport:
    ensure(spark, lake)
    report = StageReport(JOB)
    todo = state.pending(spark, lake, JOB, lake.play_sessions)
    if todo is None:
        report.note = "play sessions unchanged"
        return report

    play_sessions = delta_io.read_table(spark, lake.play_sessions)
    first_run = delta_io.is_empty(spark, lake.viewer_sessions)
    if first_run:
        viewers = None
        fresh = viewer_sessions(play_sessions)
    else:
        viewers = (
            delta_io.changes_since(spark, lake.play_sessions, todo.mark.input_version, until=todo.version)
            .select(PS.viewer_id).distinct()
        )
        fresh = viewer_sessions(play_sessions.join(viewers, on=PS.viewer_id, how="left_semi"))
    fresh = fresh.persist()
    try:
        # Computed (and cached) first, so the gate's seconds are its own.
        report.counts["viewer_sessions_recomputed"] = fresh.count()
        dates = set(distinct_values(fresh, VS.session_date))
        report.add_gate(check(lake, suite=VIEWER_SESSIONS.name, frame=fresh, run=gates))
        if viewers is not None:
            old = delta_io.read_table(spark, lake.viewer_sessions).join(viewers, on=VS.viewer_id, how="left_semi")
            dates |= set(distinct_values(old, VS.session_date))
        delta_io.merge_rows(spark, lake.viewer_sessions, fresh, keys=[VS.viewer_session_id],
                            prune={VS.session_date: sorted(dates)}, replace_scope=viewers)
    finally:
        fresh.unpersist()
    state.write_mark(spark, lake, JOB, state.Mark(todo.version, todo.mark.watermark_ms), at=utc_now())
    return report


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(argv, "Build silver.viewer_sessions from silver.play_sessions.", run)


if __name__ == "__main__":
    raise SystemExit(main())
