"""The local runner: the step list (emr.steps), behind `ottlake batch`.

Two ways, the same steps in the same order with the same arguments as on EMR:
- in one SparkSession (the default): each step called in process (`<module>.run`),
  one JVM for the run; every step's gates are recorded under one run id, once, when
  the run ends (passed or failed);
- through `spark-submit` (`--runner spark-submit`): a JVM a step, each running the
  entry script EMR runs with the step's module and arguments (emr.entry), its gates
  recorded by the step itself. It costs a JVM start and a Delta log replay a step
  (BENCHMARKS.md, "Local runner"), which is why it is not the default.
The first failure (an OttlakeError, a failed quality gate among them) stops the rest.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from emr.aws_calls import conf_args
from emr.steps import STEPS, Step, StepRun
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


ENTRY_SCRIPT = Path(__file__).with_name("entry.py")


def spark_submit() -> Path:
    """The spark-submit of the installed pyspark (the pinned Spark)."""
    import pyspark

    return Path(pyspark.__file__).parent / "bin" / "spark-submit"


def spark_submit_commands(runs: Sequence[StepRun], conf: Mapping[str, str], *, entry: Path = ENTRY_SCRIPT,
                          py_files: Sequence[str] = ()) -> list[list[str]]:
    """One `spark-submit` a step, as EMR's steps run it: the entry script, the step's
    module and arguments, Spark settings as `--conf` (the step's own last)."""
    commands = []
    for run in runs:
        command = [str(spark_submit()), *conf_args({**conf, **run.step.spark_conf})]
        if py_files:
            command += ["--py-files", ",".join(py_files)]
        commands.append([*command, str(entry), run.step.module, *run.arguments])
    return commands


def run_spark_submit(commands: Sequence[Sequence[str]], runs: Sequence[StepRun], *, python: str = sys.executable,
                     env: Mapping[str, str] | None = None, on_stage: Callable[[str], None] = lambda _name: None,
                     timeout_s: float | None = None, cwd: Path | None = None) -> dict[str, float]:
    """Run the commands in order; JobError naming the step at the first that fails
    (with the last lines it wrote). Returns each step's seconds."""
    seconds: dict[str, float] = {}
    environment = {**os.environ, "PYSPARK_PYTHON": python, "PYSPARK_DRIVER_PYTHON": python, **(env or {})}
    for command, run in zip(commands, runs, strict=True):
        on_stage(run.step.name)
        began = time.perf_counter()
        try:
            done = subprocess.run(list(command), env=environment, capture_output=True, text=True, timeout=timeout_s,
                                  cwd=cwd)
        except subprocess.TimeoutExpired:
            raise JobError(f"stage {run.step.name}: spark-submit still running after {timeout_s:.0f} s") from None
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            said = next((line for line in reversed(lines) if line.startswith("error:")), " ".join(lines[-3:]))
            raise JobError(f"stage {run.step.name} failed (spark-submit exit {done.returncode}): {said[:500]}")
        seconds[run.step.name] = time.perf_counter() - began
    return seconds
