"""QoE aggregates by hour and by day (qoe-metrics.md section 4).

Both grains are one function over a different time column. Every rate is a ratio
of sums, never a mean of per-session ratios, and null when its denominator is 0
(`common.ratio`).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from schemas.sessions import ATTEMPT_OUTCOMES, StartOutcome
from schemas.tables import PS, QOE, QOE_DIMENSIONS
from spark_jobs.columns import QOE_DAILY_SCHEMA, QOE_HOURLY_SCHEMA, conform
from spark_jobs.transforms.common import MS_PER_MINUTE, ratio, utc_hour

# percentile_approx's accuracy: relative rank error 1/accuracy; section 4 allows 1%.
PERCENTILE_ACCURACY = 1_000


def qoe_hourly(play_sessions: DataFrame) -> DataFrame:
    """QoE per UTC start hour (`hour`: start_time truncated to the hour) and dimensions."""
    return _qoe(play_sessions, QOE.hour, utc_hour(F.col(PS.start_time)), QOE_HOURLY_SCHEMA)


def qoe_daily(play_sessions: DataFrame) -> DataFrame:
    """QoE per `session_date` (the UTC date of start_time) and dimensions."""
    return _qoe(play_sessions, QOE.session_date, F.col(PS.session_date), QOE_DAILY_SCHEMA)


def _count_if(condition: Column) -> Column:
    return F.count(F.when(condition, F.lit(1)))


_MEASURES = (
    PS.viewer_id,
    PS.start_outcome,
    PS.playback_failure,
    PS.startup_time_ms,
    PS.watch_time_ms,
    PS.play_time_ms,
    PS.rebuffer_time_ms,
    PS.rebuffer_count,
    PS.played_kbits,
    PS.bitrate_play_ms,
)
# The play sessions' columns both grains read (their time columns, the dimensions,
# the measures): a caller that keeps the sessions in memory keeps only these.
SESSION_COLUMNS: tuple[str, ...] = tuple(map(str, (PS.start_time, PS.session_date, *QOE_DIMENSIONS, *_MEASURES)))


def _qoe(play_sessions: DataFrame, grain: str, grain_value: Column, schema: T.StructType) -> DataFrame:
    """Section 4 by `grain` (the time column, `grain_value` per session) and the dimensions."""
    outcome = F.col(PS.start_outcome)
    sessions = play_sessions.select(grain_value.alias(grain), *QOE_DIMENSIONS, *_MEASURES)
    sums = sessions.groupBy(grain, *QOE_DIMENSIONS).agg(
        F.count(F.lit(1)).alias(QOE.sessions),
        _count_if(outcome.isin(*(o.value for o in ATTEMPT_OUTCOMES))).alias(QOE.attempts),
        _count_if(outcome == StartOutcome.started.value).alias(QOE.starts),
        _count_if(outcome == StartOutcome.start_failure.value).alias(QOE.start_failures),
        _count_if(outcome == StartOutcome.exit_before_start.value).alias(QOE.exits_before_start),
        _count_if(F.col(PS.playback_failure)).alias(QOE.playback_failures),
        F.count_distinct(PS.viewer_id).alias(QOE.unique_viewers),
        F.sum(PS.watch_time_ms).alias(QOE.watch_time_ms),
        F.sum(PS.play_time_ms).alias(QOE.play_time_ms),
        F.sum(PS.rebuffer_time_ms).alias(QOE.rebuffer_time_ms),
        F.sum(PS.rebuffer_count).alias(QOE.rebuffer_count),
        F.percentile_approx(PS.startup_time_ms, 0.5, PERCENTILE_ACCURACY).alias(QOE.startup_time_p50_ms),
        F.percentile_approx(PS.startup_time_ms, 0.95, PERCENTILE_ACCURACY).alias(QOE.startup_time_p95_ms),
        F.sum(PS.played_kbits).alias(PS.played_kbits),
        F.sum(PS.bitrate_play_ms).alias(PS.bitrate_play_ms),
    )
    attempts, watch_time = F.col(QOE.attempts), F.col(QOE.watch_time_ms)
    rates = sums.select(
        "*",
        ratio(F.col(QOE.start_failures), attempts).alias(QOE.start_failure_rate),
        ratio(F.col(QOE.exits_before_start), attempts).alias(QOE.exit_before_start_rate),
        ratio(F.col(QOE.start_failures) + F.col(QOE.playback_failures), attempts).alias(QOE.playback_failure_rate),
        ratio(F.col(QOE.rebuffer_time_ms), watch_time).alias(QOE.rebuffer_ratio),
        ratio(F.col(QOE.rebuffer_count), watch_time / MS_PER_MINUTE).alias(QOE.rebuffers_per_minute),
        ratio(F.col(PS.played_kbits) * 1000, F.col(PS.bitrate_play_ms)).alias(QOE.avg_bitrate_kbps),
    )
    return conform(rates, schema)
