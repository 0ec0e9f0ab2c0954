"""`ottlake demo`: the embedded default end to end (what `make demo` runs)."""

from __future__ import annotations

import time

import click
from rich.table import Table

from ottlake.cli.common import console, settings_from
from ottlake.cli.simulate_cmd import print_simulation
from ottlake.services.demo import run_demo
from producers.events import now_ms


@click.command("demo")
@click.option("--viewers", type=click.IntRange(1, 2_000), default=300, show_default=True, help="Simulated viewers.")
@click.option("--minutes", type=click.IntRange(1, 120), default=10, show_default=True,
              help="Minutes of traffic, ending now, sent as fast as the stream takes it.")
@click.option("--seed", type=int, default=7, show_default=True, help="Same seed, same traffic.")
@click.pass_context
def demo_cmd(ctx: click.Context, viewers: int, minutes: int, seed: int) -> None:
    """Stack up, provision, simulate traffic into the stream through the SDK, and show what arrived."""
    settings = settings_from(ctx)
    began = time.monotonic()
    with console.status("demo") as status:
        report = run_demo(
            settings, viewers=viewers, minutes=minutes, seed=seed,
            start_ms=now_ms() - minutes * 60_000,
            on_step=lambda message: (console.print(f"[green]✓[/] {message}", highlight=False), status.update(message)),
        )
    print_simulation(report.simulation, destination=report.sent.destination, counters=report.sent.counters,
                     truth_path=None, elapsed_s=time.monotonic() - began)
    arrived = report.arrived
    table = Table(title="what arrived in the stream", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("records", f"{arrived.records:,} ({arrived.bytes / 1e6:.1f} MB)")
    table.add_row("per shard", ", ".join(f"{shard} {n:,}" for shard, n in sorted(arrived.per_shard.items())))
    table.add_row("distinct events", f"{arrived.distinct_events:,} (+{arrived.duplicates:,} duplicate records)")
    table.add_row("play sessions", f"{len(arrived.play_sessions):,} from {len(arrived.viewers):,} viewers")
    table.add_row("event types", ", ".join(f"{t} {n:,}" for t, n in arrived.event_types.most_common()))
    table.add_row("contract violations", ", ".join(f"{r} {n:,}" for r, n in arrived.invalid.items()) or "none")
    table.add_row("keyed by play_session_id", "yes" if not arrived.wrong_partition_key else
                  f"no: {arrived.wrong_partition_key:,} records")
    console.print(table)


COMMANDS: list[click.Command] = [demo_cmd]
