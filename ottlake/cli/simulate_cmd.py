"""`ottlake simulate`: realistic player traffic into the stream (or a file), plus its truth.

    ottlake simulate --viewers 200 --minutes 30 --seed 7                  # backfill into the stream
    ottlake simulate --viewers 50 --minutes 10 --speed 10 --out ev.jsonl  # paced, to a file
    ottlake simulate ... --truth truth.jsonl --incident cdn-stall:akamai:5-12:6

The window is the `--minutes` ending now (or starting at `--start`), so no event
is ever in the server's future; the same seed and start give the same events.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from ottlake.cli.common import console, settings_from
from ottlake.errors import ConfigError
from ottlake.services import traffic
from producers.events import now_ms
from producers.sdk import SdkConfig
from producers.simulator import FaultRates, SimConfig, parse_incident, scenario_incidents, simulate
from producers.simulator.incidents import SCENARIOS
from producers.simulator.run import MAX_MINUTES, MAX_VIEWERS, Simulation
from producers.simulator.truth import write_truth

_RATE = click.FloatRange(0.0, 1.0)


class _OneLineErrors(click.Command):
    """Bad flags become a ConfigError: one line on stderr and exit 2, not a usage dump."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise ConfigError(exc.format_message()) from None


@click.command("simulate", cls=_OneLineErrors)
@click.option("--viewers", type=click.IntRange(1, MAX_VIEWERS), default=100, show_default=True,
              help="Viewers (devices) active in the window.")
@click.option("--minutes", type=click.IntRange(1, MAX_MINUTES), default=30, show_default=True,
              help="Length of the simulated window, ending now.")
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed and start, same events.")
@click.option("--speed", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Simulated time runs this many times faster than real time. Default: as fast as possible.")
@click.option("--start", "start_ms", type=click.IntRange(min=0), default=None,
              help="Window start, epoch ms (default: now minus --minutes). The window must end by now.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write JSON lines to this file instead of the stream.")
@click.option("--raw-zone", "raw_zone_lake", default=None, metavar="LAKE",
              help="Land the events straight in this lake's raw zone (gzip NDJSON in Firehose's layout, "
                   "stamped as the SDK and the lake sink would), skipping the stream.")
@click.option("--collector", "collector_url", default=None, metavar="URL",
              help="Send through a running collector (`ottlake collector`) over HTTP instead of the SDK's "
                   "Kinesis sink, e.g. http://127.0.0.1:8080.")
@click.option("--write-key", default=None, help="The collector's write key (with --collector).")
@click.option("--truth", "truth_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the ground truth, one JSON line per play session.")
@click.option("--scenario", type=click.Choice(SCENARIOS), default="default", show_default=True,
              help="Built-in incidents: default (a CDN stalls, a player version fails to start) or calm.")
@click.option("--incident", "incident_specs", multiple=True, metavar="SPEC",
              help="Add an incident, e.g. cdn-stall:fastly:10-20:8 or player-start-failure:4.9.2:5-15:0.9.")
@click.option("--duplicate-rate", type=_RATE, default=0.01, show_default=True, help="Share of events sent twice.")
@click.option("--out-of-order-rate", type=_RATE, default=0.02, show_default=True,
              help="Share of events sent after their successor.")
@click.option("--late-rate", type=_RATE, default=0.005, show_default=True,
              help="Share of events held back 15 minutes (at most to the window's end).")
@click.option("--skew-rate", type=_RATE, default=0.1, show_default=True, help="Share of devices with a wrong clock.")
@click.pass_context
def simulate_cmd(ctx: click.Context, **opts: Any) -> None:
    """Simulate viewers watching titles, with QoE problems and delivery faults."""
    settings = settings_from(ctx)
    minutes: int = opts["minutes"]
    now = now_ms()
    start_ms = opts["start_ms"] if opts["start_ms"] is not None else now - minutes * 60_000
    if start_ms + minutes * 60_000 > now:
        raise ConfigError("the window must end by now (--start + --minutes is in the future)")
    incidents = scenario_incidents(opts["scenario"], minutes=minutes) + tuple(
        parse_incident(spec, minutes=minutes) for spec in opts["incident_specs"]
    )
    config = SimConfig(
        viewers=opts["viewers"], minutes=minutes, seed=opts["seed"], start_ms=start_ms,
        faults=FaultRates(duplicate=opts["duplicate_rate"], out_of_order=opts["out_of_order_rate"],
                          late=opts["late_rate"], skew=opts["skew_rate"]),
        incidents=incidents,
    )
    # Fail before the work, not after it: an unwritable file or an unreachable stream.
    if opts["truth_path"] is not None:
        traffic.check_writable(opts["truth_path"])
    if sum(opts[name] is not None for name in ("raw_zone_lake", "out", "collector_url")) > 1:
        raise ConfigError("--raw-zone, --out and --collector each say where the events go: give one")
    began = time.monotonic()
    if opts["raw_zone_lake"] is not None:
        simulation = simulate(config)
        _write_truth(simulation, opts["truth_path"])
        landed = traffic.land_in_raw_zone(simulation, settings, lake=opts["raw_zone_lake"])
        print_simulation(simulation, destination=f"raw zone of {opts['raw_zone_lake']} ({landed.objects:,} objects)",
                         counters=None, truth_path=opts["truth_path"], elapsed_s=time.monotonic() - began)
        return
    sink, destination = traffic.open_sink(settings, out=opts["out"], collector=opts["collector_url"],
                                          write_key=opts["write_key"])
    simulation = simulate(config)
    _write_truth(simulation, opts["truth_path"])
    total = len(simulation.deliveries)
    with console.status(f"sending {total:,} records to {destination}") as status:
        result = traffic.send(
            simulation, sink, destination, sdk=SdkConfig(**settings.sdk()), speed=opts["speed"],
            on_progress=lambda sent: status.update(f"sent {sent:,} of {total:,} records to {destination}"),
        )
    print_simulation(simulation, destination=destination, counters=result.counters, truth_path=opts["truth_path"],
                     elapsed_s=time.monotonic() - began)
    result.raise_if_lost()


def _write_truth(simulation: Simulation, path: Path | None) -> None:
    if path is not None:
        write_truth((s.truth for s in simulation.sessions), path)


def print_simulation(simulation: Simulation, *, destination: str, counters: Any, truth_path: Path | None,
                   elapsed_s: float) -> None:
    summary = simulation.summary()
    faults = summary["faults"]
    table = Table(title="ottlake simulate", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    config = simulation.config
    table.add_row("window", f"{_utc(config.start_ms)} .. {_utc(config.end_ms)} ({config.minutes} min, seed {config.seed})")
    table.add_row("viewers", f"{summary['viewers']:,} ({summary['skewed_viewers']:,} with a skewed clock)")
    table.add_row("sessions", f"{summary['sessions']:,} ({summary['open_sessions']:,} still open)")
    table.add_row("outcomes", ", ".join(f"{k} {v:,}" for k, v in summary["outcomes"].items()))
    table.add_row("events", f"{summary['events']:,} distinct, {summary['deliveries']:,} records")
    table.add_row("faults", f"duplicates {faults['duplicate']:,}, late {faults['late']:,}, "
                            f"out of order {faults['out_of_order']:,}")
    touched = summary["incidents"]
    names = [i.name for i in config.incidents]
    table.add_row("incidents", "; ".join(f"{n} ({touched.get(n, 0):,} sessions)" for n in names) or "none")
    table.add_row("sent to", destination)
    if counters is not None:
        table.add_row("tracker", f"queued {counters.queued:,}, sent {counters.sent:,}, retried {counters.retried:,}, "
                                 f"failed {counters.failed:,}, dropped {counters.dropped:,}, "
                                 f"invalid {counters.invalid:,}")
    if truth_path is not None:
        table.add_row("truth", str(truth_path))
    table.add_row("elapsed", f"{elapsed_s:.1f} s")
    console.print(table)


def _utc(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000)) + "Z"


COMMANDS: list[click.Command] = [simulate_cmd]
