"""The local runner: the step list (emr.steps) in one SparkSession, behind `ottlake batch`.

The same steps, in the same order and with the same arguments as on EMR, each
called in process (`<module>.run`) instead of `spark-submit`: one JVM for the run,
where a spark-submit a step would start four (BENCHMARKS.md). The first failure (an
OttlakeError, a failed quality gate among them) stops the rest; every step's gates
are recorded under one run id, once, when the run ends (passed or failed).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import SparkSession

from emr.steps import STEPS, Step
from ottlake import lakes
from ottlake.errors import ConfigError, JobError, OttlakeError
from quality.gate import GateRun, recorded
from schemas.layout import Lake
from spark_jobs import delta_io
from spark_jobs.jobs.common import Bounds, DateRange, StageReport, Window


@dataclass
class BatchReport:
    run_id: str
    stages: list[StageReport] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    # Appending the gates' results and rendering Data Docs, once for the whole run.
    recording_seconds: float = 0.0


def job(step: Step) -> Callable[..., StageReport]:
    """The step's job, in process: `run(spark, lake, *, window, gates, ...)` of its module."""
    return importlib.import_module(step.module).run


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
    """Run the steps; `recompute` (session dates) runs the steps that rebuild the derived
    tables of those dates from bronze, through the same gates, as dbt's full refresh does
    after a change of definition (bronze takes no raw objects then). Nothing is created
    when the lake is not there (ottlake.lakes.require)."""
    lakes.require(lake)
    steps = [step for step in STEPS if recompute is None or step.takes_recompute]
    options: dict[str, Any] = {"bounds": bounds}
    if recompute is not None:
        if delta_io.is_missing(spark, lake.bronze):
            raise ConfigError(f"lake {lake.root} has no bronze table to recompute from: run `ottlake batch` first")
        options["recompute"] = recompute
    gates = gates or GateRun.new()
    report = BatchReport(gates.run_id)
    gates.prepare(lake)
    with recorded(spark, gates):
        for step in steps:
            on_stage(step.name)
            began = time.perf_counter()
            try:
                report.stages.append(job(step)(spark, lake, window=window, gates=gates, **options))
            except OttlakeError:
                raise
            except Exception as exc:  # Spark's and the JVM's errors: one line, naming the stage
                raise JobError(f"stage {step.name} failed: {spark_error_line(exc)}") from None
            report.seconds[step.name] = time.perf_counter() - began
        on_stage("quality record")
    report.recording_seconds = gates.recording_seconds
    return report


def spark_error_line(exc: BaseException) -> str:
    """The one line of a Spark or JVM error that says what went wrong."""
    text = str(exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:  # the JVM's own message, past py4j's preamble
        if "Exception:" in line or "Error:" in line or line.startswith("["):
            return line[:500]
    return (lines[0] if lines else type(exc).__name__)[:500]
