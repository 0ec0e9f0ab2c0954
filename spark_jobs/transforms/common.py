"""Column expressions shared by the transforms."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

MS_PER_MINUTE = 60_000
MS_PER_HOUR = 3_600_000
MS_PER_DAY = 86_400_000


def ratio(numerator: Column, denominator: Column) -> Column:
    """numerator / denominator as a double, null when the denominator is 0.

    Spark 4 runs in ANSI mode, where a division by zero raises instead of giving
    null, and qoe-metrics.md wants null ("a rate with a zero denominator is
    null"): hence the explicit guard."""
    return F.when(denominator != 0, numerator.cast(T.DoubleType()) / denominator)


def utc_date(timestamp: Column) -> Column:
    """The UTC calendar date of a timestamp, whatever the session's time zone."""
    day = F.floor(F.unix_millis(timestamp) / MS_PER_DAY).cast(T.IntegerType())
    return F.date_from_unix_date(day)


def utc_hour(timestamp: Column) -> Column:
    """The UTC hour a timestamp falls in, whatever the session's time zone
    (date_trunc truncates in the session zone, which differs for zones with a
    half-hour offset)."""
    millis = F.unix_millis(timestamp)
    return F.timestamp_millis(millis - F.pmod(millis, F.lit(MS_PER_HOUR)))
