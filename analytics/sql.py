"""SQL over the lake's tables by their short names (schemas.tables.LAKE_TABLES), on
DuckDB (the default: no JVM) or Spark SQL (for scans too large for one process).

DuckDB reads the Delta tables through delta-rs: each table a query names is
registered as the pyarrow dataset of its current snapshot
(`DeltaTable.to_pyarrow_dataset()`), so DuckDB pushes the query's column
projection and its filters into the scan, and a filter on a partition column
(`event_date`, `session_date`) skips the other partitions' files. DuckDB's own
delta extension is not used: it downloads itself at run time. Spark registers
the same names as temporary views over `delta` paths. Both answer with a
pyarrow Table, so the output (analytics.output) is one code path, and the two
engines can be compared answer for answer.

Only the tables a query names are opened: a name counts when it stands as a
whole word (so a quoted string that spells one opens it too, which costs one
snapshot read and changes nothing).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ottlake.errors import QueryError
from schemas.layout import Lake
from schemas.tables import LAKE_TABLES

Engine = Literal["duckdb", "spark"]
ENGINES: tuple[Engine, ...] = ("duckdb", "spark")
_NAMED = re.compile(r"(?<![\w.\"`])(" + "|".join(sorted(LAKE_TABLES, key=len, reverse=True)) + r")(?![\w\"`])",
                    re.IGNORECASE)


def tables_named(query: str) -> list[str]:
    """The lake tables a query names, in the order of LAKE_TABLES."""
    found = {match.lower() for match in _NAMED.findall(query)}
    return [name for name in LAKE_TABLES if name in found]


def first_line(message: str) -> str:
    """An engine's error as one line (Spark's span several, with a query context)."""
    return next((line.strip() for line in str(message).splitlines() if line.strip()), "unknown error")


@dataclass
class LakeQuery:
    """Queries over one lake, on one engine; tables are registered the first time a
    query names them, so a prompt's later queries reuse them (each at the snapshot
    it was first opened at)."""

    lake: Lake
    engine: Engine = "duckdb"
    storage_options: Mapping[str, str] | None = None
    # Engine spark: a SparkSession, or what makes one on first use (the caller's,
    # spark_jobs.spark.build_session: a component never imports another).
    spark: Any = None
    make_spark: Callable[[], Any] | None = None
    _duckdb: Any = field(default=None, repr=False)
    _registered: set[str] = field(default_factory=set, repr=False)

    def run(self, query: str) -> Any:
        """The query's answer as a pyarrow Table; QueryError in one line otherwise."""
        if not query.strip():
            raise QueryError("the query is empty")
        for name in tables_named(query):
            if name not in self._registered:
                self._register(name)
                self._registered.add(name)
        return self._run_duckdb(query) if self.engine == "duckdb" else self._run_spark(query)

    def close(self) -> None:
        if self._duckdb is not None:
            self._duckdb.close()
            self._duckdb = None

    # --- registering a table ----------------------------------------------------------

    def _register(self, name: str) -> None:
        path = self.lake.table(name)
        if self.engine == "duckdb":
            self._connection().register(name, self._dataset(name, path))
        else:
            self._register_spark(name, path)

    def _dataset(self, name: str, path: str) -> Any:
        from deltalake import DeltaTable
        from deltalake.exceptions import DeltaError, TableNotFoundError

        try:
            table = DeltaTable(path, storage_options=dict(self.storage_options or {}))
        except TableNotFoundError:
            raise QueryError(_not_built(name, path)) from None
        except (DeltaError, OSError) as exc:
            raise QueryError(f"cannot read table {name} at {path}: {first_line(str(exc))}") from None
        return table.to_pyarrow_dataset()

    def _register_spark(self, name: str, path: str) -> None:
        from pyspark.errors import AnalysisException

        spark = self._spark()
        try:
            spark.read.format("delta").load(path).createOrReplaceTempView(name)
        except AnalysisException as exc:
            if any(sign in str(exc) for sign in _NOT_A_DELTA_TABLE):
                raise QueryError(_not_built(name, path)) from None
            raise QueryError(f"cannot read table {name} at {path}: {first_line(str(exc))}") from None

    # --- the engines -------------------------------------------------------------------

    def _connection(self) -> Any:
        if self._duckdb is None:
            import duckdb

            self._duckdb = duckdb.connect()
            # Timestamps are UTC instants (schemas.tables); show and truncate them in UTC,
            # as Spark's session does (spark_jobs.spark: spark.sql.session.timeZone).
            self._duckdb.execute("SET TimeZone = 'UTC'")
        return self._duckdb

    def _run_duckdb(self, query: str) -> Any:
        import duckdb

        try:
            relation = self._connection().sql(query)
            if relation is None:  # a statement without rows (SET, CREATE VIEW, ...)
                import pyarrow as pa

                return pa.table({})
            return relation.to_arrow_table()
        except duckdb.CatalogException as exc:
            raise QueryError(_unknown_table(first_line(str(exc)))) from None
        except duckdb.Error as exc:
            raise QueryError(f"SQL error: {first_line(str(exc))}") from None

    def _spark(self) -> Any:
        if self.spark is None:
            if self.make_spark is None:
                raise QueryError("engine spark needs a SparkSession")
            self.spark = self.make_spark()
        return self.spark

    def _run_spark(self, query: str) -> Any:
        from pyspark.errors import PySparkException

        try:
            return self._spark().sql(query).toArrow()
        except PySparkException as exc:
            message = first_line(str(exc))
            if "TABLE_OR_VIEW_NOT_FOUND" in message:
                raise QueryError(_unknown_table(message)) from None
            raise QueryError(f"SQL error: {message}") from None


# How Spark says that a path holds no Delta table (yet).
_NOT_A_DELTA_TABLE = ("DELTA_MISSING_DELTA_TABLE", "PATH_NOT_FOUND", "is not a Delta table")


def _not_built(name: str, path: str) -> str:
    return f"table {name} is not in the lake yet (no Delta table at {path}): run `ottlake batch` first"


# DuckDB: "Table with name x does not exist!"; Spark: "The table or view `x` cannot be found."
_MISSING_NAME = re.compile(r"Table with name (\S+) does not exist|table or view `?([^`\s]+)`? cannot be found")


def _unknown_table(message: str) -> str:
    """One line naming the unknown table and the tables there are."""
    match = _MISSING_NAME.search(message)
    known = f"the lake's tables: {', '.join(LAKE_TABLES)}"
    if match is None:
        return f"{message} ({known})"
    return f"unknown table {match.group(1) or match.group(2)} ({known})"
