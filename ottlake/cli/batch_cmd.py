"""`ottlake batch`: the raw zone into the lake's Delta tables, stage by stage."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import click
from rich.table import Table

from ottlake.cli.common import console, err_console, lake_to_read, settings_from
from ottlake.settings import Settings

if TYPE_CHECKING:
    from emr.local import BatchReport
    from schemas.layout import Lake
    from spark_jobs.jobs.common import DateRange, Window


@click.command("batch")
@click.option("--lake", "lake_root", default=None,
              help="Lake root: a folder or s3://bucket/prefix. Env: OTTLAKE_LAKE (default ./lake).")
@click.option("--window", default=None, metavar="START/END",
              help="Only raw objects that arrived in these UTC hours, e.g. 2026-11-24T00/2026-11-24T06.")
@click.option("--recompute", default=None, metavar="FROM/TO",
              help="Rebuild the play sessions, viewer sessions and aggregates of these UTC session dates "
                   "from bronze (after a change of definition), e.g. 2026-03-01/2026-03-07; takes no raw objects.")
@click.option("--runner", type=click.Choice(["session", "spark-submit"]), default="session", show_default=True,
              help="The steps in one local SparkSession, or each through spark-submit as on EMR (slower: a JVM "
                   "a step).")
@click.pass_context
def batch_cmd(ctx: click.Context, lake_root: str | None, window: str | None, recompute: str | None,
              runner: str) -> None:
    """Run bronze, play sessions, viewer sessions and aggregates over the new raw objects.

    The step list EMR runs (`ottlake emr submit`), in the same order with the same
    arguments. Idempotent: a second run over the same raw zone changes nothing. Each
    table is written in one Delta commit, so a failure leaves no partial table.
    """
    settings = settings_from(ctx, lake=lake_root)
    from ottlake.errors import ConfigError
    from quality import docs
    from spark_jobs.jobs.common import DateRange, Window

    parsed_window, dates = Window.parse(window), DateRange.parse(recompute)
    if window and dates:
        raise ConfigError("--window selects raw objects and --recompute session dates: give one of them")
    lake = lake_to_read(settings)  # before Spark starts (run_batch checks again, through Hadoop)
    if runner == "spark-submit":
        _run_spark_submit(settings.lake, window, recompute)
        return

    with console.status("starting Spark") as status:
        report = run_local(settings, lake, window=parsed_window, recompute=dates,
                           on_stage=lambda name: status.update(f"stage {name}"))
    table = Table(title=f"ottlake batch: {lake.root}", title_justify="left")
    table.add_column("stage", style="bold")
    table.add_column("seconds", justify="right")
    table.add_column("gate s", justify="right")  # of the stage's seconds, its quality gates'
    table.add_column("result")
    for stage in report.stages:
        result = ", ".join(f"{key} {value:,}" for key, value in stage.counts.items())
        table.add_row(stage.stage, f"{report.seconds[stage.stage]:.1f}", f"{stage.gate_seconds:.1f}",
                      result or stage.note)
    if report.recording_seconds:
        # The gates' results of every stage, in one commit, and their Data Docs: once a run.
        table.add_row("quality record", f"{report.recording_seconds:.1f}", f"{report.recording_seconds:.1f}",
                      "results appended, Data Docs rendered")
    console.print(table)
    bronze = next((stage for stage in report.stages if stage.stage == "bronze"), None)
    if bronze is not None and not bronze.counts:
        console.print(f"nothing new in {lake.raw}: the tables are as they were", markup=False, soft_wrap=True)
    if dates is not None:
        console.print(f"recomputed session dates {dates}", markup=False, soft_wrap=True)
    for stage in report.stages:
        for warning in stage.warnings:
            err_console.print(f"warning ({stage.stage}): {warning}", markup=False, soft_wrap=True)
        for warning in stage.gate_warnings:
            console.print(f"gate warning ({stage.stage}): {warning}", markup=False)
    if any(stage.gate_seconds for stage in report.stages):
        console.print(f"quality: run {report.run_id}; Data Docs at {docs.index(lake)}", markup=False)


def run_local(settings: Settings, lake: Lake, *, window: Window | None = None, recompute: DateRange | None = None,
              on_stage: Callable[[str], None] = lambda _name: None) -> BatchReport:
    """The step list in one local SparkSession (emr.local.run_batch) with the settings'
    bounds and quarantine share; `ottlake batch` and `ottlake demo` both run it."""
    from emr.local import run_batch
    from quality.gate import GateRun
    from spark_jobs.jobs.common import Bounds, Window
    from spark_jobs.spark import build_session

    # PySpark logs a failed query's context to stderr as JSON; the CLI reports the
    # failure itself, in one line (an entry point may set logging; a library may not).
    logging.getLogger("DataFrameQueryContextLogger").setLevel(logging.CRITICAL)
    # great-expectations logs its own progress and deprecations; the gates report
    # their results in the table below and in `ottlake quality`.
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    gates = GateRun.new(max_quarantine_share=settings.quality_max_quarantine_share)
    spark = build_session("local", app_name="ottlake-batch")
    return run_batch(spark, lake, window=window or Window(), recompute=recompute, bounds=Bounds.of(settings),
                     gates=gates, on_stage=on_stage)


def _run_spark_submit(lake: str, window: str | None, recompute: str | None) -> None:
    from emr.local import run_spark_submit, spark_submit_commands
    from emr.steps import plan
    from spark_jobs.spark import session_conf

    runs = plan(lake, window=window, recompute=recompute, mode="local")
    with console.status("spark-submit") as status:
        seconds = run_spark_submit(spark_submit_commands(runs, session_conf("local")), runs,
                                   on_stage=lambda name: status.update(f"stage {name} (spark-submit)"))
    table = Table(title=f"ottlake batch --runner spark-submit: {lake}", title_justify="left")
    table.add_column("stage", style="bold")
    table.add_column("seconds", justify="right")
    for name, value in seconds.items():
        table.add_row(name, f"{value:.1f}")
    console.print(table)


COMMANDS: list[click.Command] = [batch_cmd]
