"""`ottlake batch`: bronze, play sessions, viewer sessions and aggregates, in order,
in one SparkSession, over the raw objects no earlier run consumed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import SparkSession

from ottlake import lakes
from ottlake.errors import ConfigError, JobError, OttlakeError
from quality.gate import GateRun, recorded
from schemas.layout import Lake
from spark_jobs import delta_io
from spark_jobs.jobs import aggregates, bronze, sessions, viewers
from spark_jobs.jobs.common import Bounds, DateRange, StageReport, Window

STAGES: tuple[tuple[str, Callable[..., StageReport]], ...] = (
    ("bronze", bronze.run),
    ("sessions", sessions.run),
    ("viewer_sessions", viewers.run),
    ("aggregates", aggregates.run),
)


@dataclass
class BatchReport:
    run_id: str
    stages: list[StageReport] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    # Appending the gates' results and rendering Data Docs, once for the whole run.
    recording_seconds: float = 0.0


def run_batch(
    spark: SparkSession,
    lake: Lake,
    *,
    window: Window = Window(),
    recompute: DateRange | None = None,
    bounds: Bounds = Bounds(),
    gates: GateRun | None = None,
    on_stage: Callable[[str], None] = lambda _name: None,
) -> BatchReport:
    """Run every stage; the first failure (an OttlakeError, a failed quality gate
    among them) stops the rest. All stages' gates are recorded under one run id,
    once, when the run ends (passed or failed).

    `recompute` (session dates) rebuilds the play sessions, viewer sessions and
    aggregates of those dates from bronze through the same gates, as dbt's full
    refresh does after a change of definition; bronze takes no raw objects then.
    Nothing is created when the lake is not there (ottlake.lakes.require)."""
    import time

    lakes.require(lake)
    stages = STAGES
    options: dict[str, Any] = {"bounds": bounds}
    if recompute is not None:
        if delta_io.is_missing(spark, lake.bronze):
            raise ConfigError(f"lake {lake.root} has no bronze table to recompute from: run `ottlake batch` first")
        stages, options = STAGES[1:], {**options, "recompute": recompute}
    gates = gates or GateRun.new()
    report = BatchReport(gates.run_id)
    gates.prepare(lake)
    with recorded(spark, gates):
        for name, stage in stages:
            on_stage(name)
            began = time.perf_counter()
            try:
                report.stages.append(stage(spark, lake, window=window, gates=gates, **options))
            except OttlakeError:
                raise
            except Exception as exc:  # Spark's and the JVM's errors: one line, naming the stage
                raise JobError(f"stage {name} failed: {spark_error_line(exc)}") from None
            report.seconds[name] = time.perf_counter() - began
        on_stage("quality record")
    report.recording_seconds = gates.recording_seconds
    return report


def spark_error_line(exc: BaseException) -> str:
    """The one line of a Spark or JVM error that says what went wrong."""
    text = str(exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:  # the JVM's own message, past py4j's preamble
        if "Exception:" in line or "Error:" in line or line.startswith("[") :
            return line[:500]
    return (lines[0] if lines else type(exc).__name__)[:500]
