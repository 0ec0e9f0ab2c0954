"""`ottlake demo`: the whole pipeline on the embedded default (what `make demo` runs).

Thin over ottlake.services.demo: this module draws the progress, wires in the
batch (`ottlake batch`'s local runner: services may not import emr), turns
SIGTERM into the same clean stop as Ctrl-C, and prints the closing summary.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ottlake.cli.common import console, settings_from
from ottlake.errors import DemoError
from ottlake.settings import Settings

if TYPE_CHECKING:
    from ottlake.services.demo import BatchOutcome, DemoSummary
    from schemas.layout import Lake


# Without a terminal (a log, a pipe) rich draws no bars: a status line this often instead.
_PLAIN_EVERY_S = 10.0


class RichProgress:
    """The demo's Progress drawn with rich: a bar per long step, a line per finished one
    (and, when the output is no terminal, a plain status line every few seconds)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.plain = not progress.console.is_terminal
        self.last_line = 0.0

    def begin(self, key: str, description: str, *, total: int | None = None) -> None:
        with self.lock:
            self.tasks[key] = self.progress.add_task(description, total=total)
        if self.plain:
            self.progress.console.print(f"… {description}", highlight=False, soft_wrap=True)

    def update(self, key: str, completed: int, *, description: str | None = None) -> None:
        with self.lock:
            task = self.tasks.get(key)
            if task is None:
                return
            if description is None:
                self.progress.update(task, completed=completed)
            else:
                self.progress.update(task, completed=completed, description=description)
            # A new description (the batch's next stage) is news; counts, every few seconds.
            if self.plain and (description is not None or time.monotonic() - self.last_line >= _PLAIN_EVERY_S):
                self.last_line = time.monotonic()
                self.progress.console.print("… " + "; ".join(self._status(t) for t in self.tasks.values()),
                                            highlight=False, soft_wrap=True)

    def _status(self, task_id: Any) -> str:
        task = next(t for t in self.progress.tasks if t.id == task_id)
        done = f" {task.completed:,.0f}/{task.total:,.0f}" if task.total else ""
        return f"{task.description}{done} ({task.elapsed or 0:.0f} s)"

    def end(self, key: str, message: str) -> None:
        with self.lock:
            task = self.tasks.pop(key, None)
            if task is not None:
                self.progress.remove_task(task)
        self.progress.console.print(f"[green]✓[/] {escape(message)}", highlight=False, soft_wrap=True)

    def note(self, message: str) -> None:
        self.progress.console.print(f"[bold yellow]![/] {escape(message)}", highlight=False, soft_wrap=True)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the demo the way Ctrl-C does (KeyboardInterrupt): every step's
    `finally` runs, so the consumers are joined and the stack is stopped."""
    if threading.current_thread() is not threading.main_thread():  # tests may call the CLI from a thread
        yield
        return

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt_quietly(_signum: int, _frame: Any) -> None:
    logging.disable(logging.CRITICAL)
    raise KeyboardInterrupt


def _local_batch(settings: Settings) -> Callable[[Lake, Callable[[str], None]], BatchOutcome]:
    """`ottlake batch` (its local runner, every gate) as the demo's BatchRunner."""

    def run(lake: Lake, on_stage: Callable[[str], None]) -> BatchOutcome:
        from ottlake.cli.batch_cmd import run_local
        from ottlake.services.demo import BatchOutcome

        def stage(name: str) -> None:
            # pyspark's SIGINT handler (installed with the session) cancels the jobs from
            # inside the interrupted py4j call, which breaks the connection and turns
            # Ctrl-C into a failed stage; a plain KeyboardInterrupt stops the demo as
            # anywhere else (the JVM exits with this process), without py4j logging the
            # interrupted call's traceback.
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGINT, _interrupt_quietly)
            on_stage(name)

        report = run_local(settings.model_copy(update={"lake": lake.root}), lake, on_stage=stage)
        return BatchOutcome(report.run_id, {stage.stage: dict(stage.counts) for stage in report.stages},
                            [warning for stage in report.stages for warning in stage.warnings])

    return run


def _ottlake_command() -> str:
    """How to call ottlake from here: the venv's script (relative when it is below the
    working directory, as after `make demo`), else `ottlake` on the PATH."""
    script = Path(sys.executable).parent / "ottlake"
    if not script.exists():
        return "ottlake"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


@click.command("demo")
@click.option("--viewers", type=click.IntRange(1, 6_000), default=2_000, show_default=True,
              help="Simulated viewers.")
@click.option("--minutes", type=click.IntRange(30, 60), default=60, show_default=True,
              help="Simulated minutes, ending at the start of the current UTC hour.")
@click.option("--speed", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True,
              help="Time compression: simulated seconds per wall second (60: the hour in a minute, if the "
                   "stream keeps up).")
@click.option("--as-fast-as-possible", "backfill", is_flag=True,
              help="No pacing: send the whole hour as fast as the stream takes it.")
@click.option("--seed", type=int, default=7, show_default=True, help="Same seed, same traffic.")
@click.option("--collector-share", type=click.FloatRange(0, 1), default=0.25, show_default=True,
              help="The share of the play sessions sent over HTTP through the collector (`ottlake collector`, "
                   "run by the demo); the rest go through the SDK into the stream.")
@click.option("--lake", "lake_root", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-lake"),
              show_default=True,
              help="The demo lake. Each run starts from a clean one: a previous demo lake there is removed "
                   "(only a folder the demo made; anything else is refused).")
@click.pass_context
def demo_cmd(ctx: click.Context, viewers: int, minutes: int, speed: float, backfill: bool, seed: int,
             collector_share: float, lake_root: Path) -> None:
    """The whole pipeline on the embedded default, then a summary.

    The embedded stack up; the lake sink and the live QoE monitor under the
    in-process driver; a simulated hour (2,000 viewers by default) with one
    scheduled incident (a CDN's stalls) sent into the stream, compressed in time,
    a quarter of the play sessions over HTTP through the collector and the rest
    through the SDK; the monitor raising and resolving the incident's alert to
    a local webhook receiver, printed as it arrives; `ottlake batch` with every
    gate; `ottlake report` for the day; and a summary of what was sent, landed,
    deduplicated, quarantined and sessionized, with two `ottlake sql` commands
    to try next.

    A second run starts from a clean demo lake (one run, one hour, one report: the
    summary's counts reconcile). Ctrl-C or SIGTERM stops everything the demo
    started: the consumers after their last checkpoint, the webhook receiver,
    Spark, and the stack if the demo started it.
    """
    from ottlake.services.demo import DemoOptions, run_demo

    settings = settings_from(ctx)
    options = DemoOptions(viewers=viewers, minutes=minutes, seed=seed, speed=None if backfill else speed,
                          lake=lake_root, collector_share=collector_share)
    began = time.monotonic()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with _sigterm_as_interrupt(), Progress(*columns, console=console, transient=True) as bars:
        summary = run_demo(settings, options, batch=_local_batch(settings), progress=RichProgress(bars))
    print_summary(summary, elapsed_s=time.monotonic() - began)
    problems = summary.problems()
    if problems:
        raise DemoError("; ".join(problems))


def print_summary(summary: DemoSummary, *, elapsed_s: float) -> None:
    from ottlake.services.demo import sql_examples

    head = summary.headline
    table = Table(title=f"ottlake demo: {summary.window[0]:%Y-%m-%d %H:%M}-{summary.window[1]:%H:%M} UTC, "
                        f"done in {elapsed_s / 60:.1f} min", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    resends = summary.sent - summary.simulated_events - summary.broken
    table.add_row("events sent", f"{summary.sent:,} records (the SDK and the collector): "
                                 f"{summary.simulated_events:,} events of {summary.viewers:,} viewers, {resends:,} resends of them, {summary.broken:,} "
                                 "damaged by a broken player build")
    table.add_row("landed", f"{summary.landed:,} events in {summary.raw_objects:,} raw objects")
    table.add_row("duplicates removed", f"{summary.duplicates:,}")
    quarantined = sum(summary.quarantined.values())
    table.add_row("quarantined", f"{quarantined:,}" + (": " + ", ".join(
        f"{reason} {n:,}" for reason, n in summary.quarantined.items()) if quarantined else ""))
    table.add_row("bronze events", f"{summary.bronze_rows:,} (= landed - duplicates - quarantined)")
    table.add_row("sessions", f"{summary.play_sessions:,} play sessions, {summary.viewer_sessions:,} viewer sessions")
    table.add_row(f"QoE on {summary.day}", _headline(head))
    table.add_row("incident", f"{summary.incident.name} (stall hazard x{summary.incident.factor:g})")
    for text in summary.alerts:
        table.add_row("alert received", text)
    if not summary.alerts:
        table.add_row("alert received", "none")
    table.add_row("report", str(summary.report_path))
    table.add_row("Data Docs", summary.data_docs)
    table.add_row("tables", f"Delta tables under {summary.lake.root}: bronze/player_events, quarantine/player_events, "
                            "silver/play_sessions, silver/viewer_sessions, gold/qoe_hourly, gold/qoe_daily; "
                            "the raw zone in raw/player_events")
    table.add_row("steps", ", ".join(f"{name} {seconds:.0f} s" for name, seconds in summary.seconds.items()))
    console.print(table)
    console.print("Try next:", markup=False)
    for command in sql_examples(summary.lake, summary.day, ottlake=_ottlake_command()):
        console.print(f"  {command}", markup=False, soft_wrap=True, highlight=False)


def _headline(head: dict[str, Any]) -> str:
    def pct(value: Any) -> str:
        return "n/a" if value is None else f"{value * 100:.2f}%"

    def ms(value: Any) -> str:
        return "n/a" if value is None else f"{value:,.0f} ms"

    attempts = head.get("attempts") or 0
    failures = head.get("start_failures") or 0
    exits = head.get("exits_before_start") or 0
    return (f"{head['sessions']:,} sessions from {head['viewers']:,} viewers, {head['watch_hours'] or 0:,.1f} watch "
            f"hours; startup p50 {ms(head['startup_time_p50_ms'])}, p95 {ms(head['startup_time_p95_ms'])}; "
            f"rebuffer ratio {pct(head['rebuffer_ratio'])}; start failures "
            f"{pct(failures / attempts if attempts else None)}, exits before start "
            f"{pct(exits / attempts if attempts else None)} of {attempts:,} attempts")


COMMANDS: list[click.Command] = [demo_cmd]
