"""`ottlake sql`: SQL over the lake's tables by their short names; thin over analytics.sql."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ottlake.cli.common import console, err_console, lake_to_read, settings_from
from ottlake.errors import OttlakeError
from schemas.tables import LAKE_TABLES

if TYPE_CHECKING:
    from analytics.sql import LakeQuery

_ENGINES = ("duckdb", "spark")
_FORMATS = ("table", "csv", "json", "parquet")


@click.command("sql")
@click.argument("query", required=False)
@click.option("--lake", "lake_root", default=None,
              help="Lake root: a folder or s3://bucket/prefix. Env: OTTLAKE_LAKE (default ./lake).")
@click.option("--engine", type=click.Choice(_ENGINES), default="duckdb", show_default=True,
              help="duckdb: in this process, no JVM, through delta-rs. spark: Spark SQL, for scans too large "
                   "for one process.")
@click.option("--format", "output_format", type=click.Choice(_FORMATS), default="table", show_default=True,
              help="An aligned table, CSV (header row), JSON (an array of objects) or Parquet (needs --out).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the answer to this file instead of stdout.")
@click.pass_context
def sql_cmd(ctx: click.Context, query: str | None, lake_root: str | None, engine: str, output_format: str,
            out: Path | None) -> None:
    """Run QUERY over the lake's Delta tables, named by their short names:
    player_events, quarantine, play_sessions, viewer_sessions, qoe_hourly,
    qoe_daily, quality_results.

    Only the tables the query names are opened; with DuckDB, a filter on a
    partition column (event_date, session_date) reads only those partitions,
    and only the columns the query uses are read.

    \b
    Examples:
      ottlake sql "SELECT cdn, avg(rebuffer_ratio) FROM play_sessions GROUP BY cdn"
      ottlake sql --format csv --out daily.csv "SELECT * FROM qoe_daily WHERE session_date = DATE '2026-03-01'"

    Without QUERY (and on a terminal), an interactive prompt opens: the table
    names complete with Tab, history is kept in <state-dir>/sql_history, and
    a blank line or Ctrl-D leaves.
    """
    settings = settings_from(ctx, lake=lake_root)
    from analytics import output
    from analytics.sql import LakeQuery

    lake = lake_to_read(settings)
    if engine == "spark":
        # PySpark logs a failed query's context as JSON on stderr; the CLI says it in one line.
        for name in ("DataFrameQueryContextLogger", "SQLQueryContextLogger"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    storage = None if lake.is_local else settings.aws().delta_storage_options()
    session = LakeQuery(lake, engine=engine, storage_options=storage,  # type: ignore[arg-type]
                        make_spark=_spark_maker())
    try:
        if query is not None:
            answer = session.run(query)
            output.write(answer, format=output_format, out=out, stdout=sys.stdout)  # type: ignore[arg-type]
            if out is not None:
                console.print(f"{answer.num_rows:,} rows written to {out}", markup=False, soft_wrap=True)
            return
        if not sys.stdin.isatty():
            raise click.UsageError("give a QUERY (the interactive prompt needs a terminal)")
        _prompt(session, settings.state_dir / "sql_history")
    finally:
        session.close()


def _spark_maker() -> Callable[[], Any]:
    """Spark as the jobs build it, started only when a query first needs it."""
    def make() -> Any:
        from spark_jobs.spark import build_session

        with console.status("starting Spark"):
            spark = build_session("local", app_name="ottlake-sql")
        spark.sparkContext.setLogLevel("ERROR")
        return spark

    return make


def _prompt(session: LakeQuery, history_path: Path) -> None:
    """A prompt_toolkit session: history in a file, table names completed."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import WordCompleter
    from prompt_toolkit.history import FileHistory

    from analytics import output

    history_path.parent.mkdir(parents=True, exist_ok=True)
    keywords = ["SELECT", "FROM", "WHERE", "GROUP BY", "ORDER BY", "JOIN", "LIMIT", "WITH", "OVER", "PARTITION BY"]
    prompt = PromptSession(history=FileHistory(str(history_path)),
                           completer=WordCompleter([*LAKE_TABLES, *keywords], ignore_case=True))
    console.print(f"tables: {', '.join(LAKE_TABLES)}; a blank line or Ctrl-D leaves", markup=False)
    while True:
        try:
            text = prompt.prompt("ottlake> ")
        except (EOFError, KeyboardInterrupt):
            return
        if not text.strip():
            return
        try:
            output.write(session.run(text), format="table", out=None, stdout=sys.stdout)
        except OttlakeError as exc:
            err_console.print(f"error: {exc}", markup=False, soft_wrap=True)


COMMANDS: list[click.Command] = [sql_cmd]
