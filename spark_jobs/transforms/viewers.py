"""Viewer sessions: a viewer's play sessions grouped by inactivity (qoe-metrics.md
section 3)."""

from __future__ import annotations

from datetime import timedelta

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from schemas.sessions import SESSION_GAP
from schemas.tables import PS, VS
from spark_jobs.columns import VIEWER_SESSIONS_SCHEMA, conform
from spark_jobs.transforms.common import utc_date

_STARTS_NEW = "starts_new"
_NUMBER = "viewer_session_number"


def viewer_sessions(play_sessions: DataFrame, *, gap: timedelta = SESSION_GAP) -> DataFrame:
    """One row per viewer session.

    Ordered by `start_time`, a play session joins the current viewer session when
    it starts at most `gap` after the latest `end_time` so far in it: a running
    maximum, so a short play session inside a long one does not split it. The
    running maximum is taken over all of the viewer's earlier play sessions, which
    is the same thing: every earlier viewer session ended more than `gap` before
    the current one's first start, so it can never raise the maximum past the gap.
    Play sessions that start at the same time are taken in play_session_id order.

    Section 3 lists `session_date` without defining it; as for play sessions
    (section 2) it is the UTC date of `start_time`, the partition column.
    """
    gap_ms = gap // timedelta(milliseconds=1)
    in_order = Window.partitionBy(PS.viewer_id).orderBy(PS.start_time, PS.play_session_id)
    earlier = in_order.rowsBetween(Window.unboundedPreceding, -1)
    through_current = in_order.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    latest_end = F.max(F.unix_millis(F.col(PS.end_time))).over(earlier)
    starts_new = latest_end.isNull() | (F.unix_millis(F.col(PS.start_time)) - latest_end > gap_ms)
    numbered = (
        play_sessions.select(PS.viewer_id, PS.play_session_id, PS.start_time, PS.end_time, PS.watch_time_ms)
        .withColumn(_STARTS_NEW, starts_new.cast(T.IntegerType()))
        .withColumn(_NUMBER, F.sum(_STARTS_NEW).over(through_current))
    )
    grouped = numbered.groupBy(VS.viewer_id, _NUMBER).agg(
        F.min(PS.start_time).alias(VS.start_time),
        F.max(PS.end_time).alias(VS.end_time),
        F.count(F.lit(1)).alias(VS.play_sessions),
        F.sum(PS.watch_time_ms).alias(VS.watch_time_ms),
    )
    return conform(
        grouped.select(
            VS.viewer_id,
            F.concat_ws(":", F.col(VS.viewer_id), F.unix_millis(F.col(VS.start_time)).cast(T.StringType())).alias(
                VS.viewer_session_id
            ),
            VS.start_time,
            VS.end_time,
            VS.play_sessions,
            VS.watch_time_ms,
            utc_date(F.col(VS.start_time)).alias(VS.session_date),
        ),
        VIEWER_SESSIONS_SCHEMA,
    )
