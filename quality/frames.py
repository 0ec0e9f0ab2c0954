"""The small frames some gates validate besides a stage's own output.

- the raw gate's one row of run counts;
- the hourly and daily aggregates stacked into one frame, so that one validation
  covers both tables;
- per period, the aggregates' sums minus the play sessions' sums (a dropped
  group, a lost partition or a double count shows as a non-zero difference).

Pure: DataFrames and plain values in, a DataFrame out; nothing here runs a job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from quality.suites import (
    BRONZE_ROWS,
    DUPLICATES,
    GRAIN,
    PERIOD,
    QUARANTINE_SHARE,
    QUARANTINED,
    ROWS_IN,
    TOTALS,
    difference,
)
from schemas.tables import QOE

_COUNTS = (ROWS_IN, BRONZE_ROWS, QUARANTINED, DUPLICATES)


def run_counts(spark: SparkSession, counts: Mapping[str, int]) -> DataFrame:
    """One row: the bronze transform's counts of this run, and the quarantined share."""
    rows_in = counts[ROWS_IN]
    share = counts[QUARANTINED] / rows_in if rows_in else 0.0
    schema = T.StructType([*(T.StructField(name, T.LongType(), False) for name in _COUNTS),
                           T.StructField(QUARANTINE_SHARE, T.DoubleType(), False)])
    return spark.createDataFrame([(*(int(counts[name]) for name in _COUNTS), share)], schema)


def stacked(grains: Mapping[str, tuple[DataFrame, str]]) -> DataFrame:
    """{grain: (aggregates, period column)} as one frame: `grain`, `period` (as text)
    and the columns the tables share."""
    frames = [
        aggregates.select(F.lit(grain).alias(GRAIN), F.col(period).cast("string").alias(PERIOD),
                          *(name for name in aggregates.columns if name != period))
        for grain, (aggregates, period) in grains.items()
    ]
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame)
    return result


def totals_difference(grain: str, aggregates: DataFrame, play_sessions: DataFrame, *, period: str,
                      totals: Sequence[str] = TOTALS) -> DataFrame:
    """Per period: sum over the aggregate groups minus the same sum over the play
    sessions (`play_sessions` carries the `period` column). `sessions` is a row
    count on the sessions' side. A period on one side only counts as zero on the
    other, so a dropped period is a difference too."""
    session_sums = [
        (F.count(F.lit(1)) if name == QOE.sessions else F.sum(name)).alias(name) for name in totals
    ]
    left = aggregates.groupBy(period).agg(*(F.sum(name).alias(name) for name in totals)).alias("a")
    right = play_sessions.groupBy(period).agg(*session_sums).alias("s")
    joined = left.join(right, on=period, how="full")
    return joined.select(
        F.lit(grain).alias(GRAIN),
        F.col(period).cast("string").alias(PERIOD),
        *((F.coalesce(F.col(f"a.{name}"), F.lit(0)) - F.coalesce(F.col(f"s.{name}"), F.lit(0)))
          .alias(difference(name)) for name in totals),
    )
