"""The lake tables' Spark schemas, derived from their one definition
(schemas.tables), and `conform`, the closing select of every transform.

Each StructType below is the table's contract on the Spark side: names, order,
types, and each column's meaning as its `comment`, which Delta shows to analysts.
Column names are schemas.tables' constants (`PS.watch_time_ms`).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from schemas.tables import (
    BRONZE,
    MARKS,
    PLAY_SESSIONS,
    QOE_DAILY,
    QOE_HOURLY,
    QUALITY_RESULTS,
    QUARANTINE,
    RAW_OBJECTS,
    VIEWER_SESSIONS,
)

BRONZE_SCHEMA = BRONZE.spark()
QUARANTINE_SCHEMA = QUARANTINE.spark()
PLAY_SESSIONS_SCHEMA = PLAY_SESSIONS.spark()
VIEWER_SESSIONS_SCHEMA = VIEWER_SESSIONS.spark()
QOE_HOURLY_SCHEMA = QOE_HOURLY.spark()
QOE_DAILY_SCHEMA = QOE_DAILY.spark()
RAW_OBJECTS_SCHEMA = RAW_OBJECTS.spark()
MARKS_SCHEMA = MARKS.spark()
RESULTS_SCHEMA = QUALITY_RESULTS.spark()


def conform(frame: DataFrame, schema: T.StructType) -> DataFrame:
    """The closing select of a transform: exactly the schema's columns, in its
    order, with its types and comments."""
    return frame.select(
        *(F.col(field.name).cast(field.dataType).alias(field.name, metadata=field.metadata) for field in schema.fields)
    )
