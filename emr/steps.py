"""The batch's one step list, and what each step needs to run anywhere.

Bronze, play sessions, viewer sessions, aggregates: in this order, each a job
module of spark_jobs (`main(argv)`: parse, read, transform, gate, write) that runs
its own quality gate and stops on a failed one. From this list alone come the EMR on
EC2 steps and the EMR Serverless job runs (emr.aws_calls) and the local runner's
stages (emr.local, behind `ottlake batch`): no other place knows the order of the
steps or their arguments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["local", "emr"]


@dataclass(frozen=True)
class Step:
    name: str  # as the batch's report and the quality results name the stage
    module: str  # the job module: `python -m <module>`, `<module>.run` in process
    takes_window: bool  # --window: arrival hours of the raw objects (bronze)
    takes_recompute: bool  # --recompute: session dates to rebuild (the derived tables)
    # Spark settings of the step's own (EMR sizes the rest): applied to its session.
    spark_conf: Mapping[str, str] = field(default_factory=dict)


STEPS: tuple[Step, ...] = (
    Step("bronze", "spark_jobs.jobs.bronze", takes_window=True, takes_recompute=False),
    Step("sessions", "spark_jobs.jobs.sessions", takes_window=False, takes_recompute=True),
    Step("viewer_sessions", "spark_jobs.jobs.viewers", takes_window=False, takes_recompute=True),
    Step("aggregates", "spark_jobs.jobs.aggregates", takes_window=False, takes_recompute=True),
)


@dataclass(frozen=True)
class StepRun:
    """One step of one run, with its arguments (the job module's command line)."""

    step: Step
    arguments: tuple[str, ...]


def plan(lake: str, *, window: str | None = None, recompute: str | None = None,
         mode: Mode = "emr") -> list[StepRun]:
    """The steps of one run over the lake at `lake`: every step, or with `recompute`
    (FROM/TO session dates) the steps that rebuild derived tables (bronze takes no raw
    objects then)."""
    runs = []
    for step in STEPS:
        if recompute is not None and not step.takes_recompute:
            continue
        arguments = ["--lake", lake, "--mode", mode]
        if window and step.takes_window:
            arguments += ["--window", window]
        if recompute and step.takes_recompute:
            arguments += ["--recompute", recompute]
        runs.append(StepRun(step, tuple(arguments)))
    return runs


def runs_of(arguments: Sequence[str]) -> list[StepRun]:
    """The plan that a command line of `plan`'s arguments (`--lake L --mode M [--window W]
    [--recompute R]`) names: how the entry script's `batch` reads its arguments."""
    import argparse

    parser = argparse.ArgumentParser(prog="ottlake_entry.py batch")
    parser.add_argument("--lake", required=True)
    parser.add_argument("--mode", choices=["local", "emr"], default="emr")
    parser.add_argument("--window")
    parser.add_argument("--recompute")
    args = parser.parse_args(list(arguments))
    return plan(args.lake, window=args.window, recompute=args.recompute, mode=args.mode)


def batch_arguments(lake: str, *, window: str | None = None, recompute: str | None = None,
                    mode: Mode = "emr") -> list[str]:
    """The entry script's arguments that run the whole list in one job (`runs_of` reads them)."""
    arguments = ["--lake", lake, "--mode", mode]
    if window:
        arguments += ["--window", window]
    if recompute:
        arguments += ["--recompute", recompute]
    return arguments
