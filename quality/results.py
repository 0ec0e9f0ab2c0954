"""The gates' results as a Delta table, `<lake>/_quality/results`: one row per
expectation per gate run, appended (a history, never rewritten).

Written with Spark by the jobs; read back with delta-rs by `ottlake quality`, which
needs no JVM for a table this small.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pyspark.sql import SparkSession

from ottlake.errors import JobError
from schemas.tables import QUALITY_RESULTS

COLUMNS: tuple[str, ...] = QUALITY_RESULTS.names


@dataclass(frozen=True)
class ResultRow:
    """One expectation of one gate run, as the table holds it."""

    run_id: str
    stage: str
    suite: str
    expectation: str
    critical: bool
    success: bool
    observed_value: str | None
    unexpected_count: int | None
    rows: int | None
    gate_seconds: float
    checked_at: datetime

    def as_tuple(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in COLUMNS)


def append(spark: SparkSession, path: str, rows: Iterable[ResultRow]) -> None:
    """Append one gate run's rows, in one commit (the table is made by the first)."""
    frame = spark.createDataFrame([row.as_tuple() for row in rows], QUALITY_RESULTS.spark())
    frame.write.format("delta").mode("append").save(path)


def latest(path: str) -> list[dict[str, Any]]:
    """The rows of the latest run (by `checked_at`), in the order they were checked.

    Read with delta-rs: no SparkSession for a few hundred rows."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        rows = DeltaTable(path).to_pyarrow_table(columns=list(COLUMNS)).to_pylist()
    except TableNotFoundError:
        return []
    except OSError as exc:
        raise JobError(f"cannot read the quality results at {path}: {exc}") from None
    if not rows:
        return []
    last = max(rows, key=lambda row: row["checked_at"])["run_id"]
    return sorted((row for row in rows if row["run_id"] == last), key=lambda row: row["checked_at"])
