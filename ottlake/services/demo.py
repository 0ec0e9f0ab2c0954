"""The demo on the embedded default: what `make demo` runs.

The stack up (or the one already running), everything provisioned, a few minutes
of simulated traffic sent through the SDK into the stream, and the stream read
back and checked: every record a valid event, keyed by its play session, nothing
missing. The stack is stopped again only if the demo started it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from consumers.stream import read_stream
from ottlake.errors import ProducerError
from ottlake.services import infra, stack, traffic
from ottlake.services.arrivals import Arrivals, count_arrivals
from ottlake.settings import Settings
from producers.sdk import SdkConfig
from producers.simulator import SimConfig, Simulation, scenario_incidents, simulate


@dataclass(frozen=True)
class DemoReport:
    actions: list[infra.Action]
    simulation: Simulation
    sent: traffic.Traffic
    arrived: Arrivals


def run_demo(
    settings: Settings,
    *,
    viewers: int,
    minutes: int,
    seed: int,
    start_ms: int,
    on_step: Callable[[str], None] = lambda _message: None,
) -> DemoReport:
    """Run the demo end to end; raises OttlakeError when anything did not arrive."""
    with stack.running(settings) as where:
        on_step(f"stack at {where.endpoint_url}")
        actions = infra.apply(settings)
        on_step("stream, bucket and tables provisioned")
        simulation = simulate(
            SimConfig(
                viewers=viewers, minutes=minutes, seed=seed, start_ms=start_ms,
                incidents=scenario_incidents("default", minutes=minutes),
            )
        )
        on_step(f"simulated {len(simulation.sessions):,} play sessions, {len(simulation.deliveries):,} records")
        sink, destination = traffic.open_sink(settings)
        before = _stream_records(settings)
        sent = traffic.send(simulation, sink, destination, sdk=SdkConfig(**settings.sdk()))
        sent.raise_if_lost()
        on_step(f"sent {sent.counters.sent:,} records to {destination}")
        arrived = count_arrivals(read_stream(settings.aws().client("kinesis"), settings.stream_name))
    new_records = arrived.records - before
    if new_records != sent.counters.sent:
        raise ProducerError(f"the stream holds {new_records:,} new records, the SDK sent {sent.counters.sent:,}")
    return DemoReport(actions, simulation, sent, arrived)


def _stream_records(settings: Settings) -> int:
    """Records already in the stream (a stack that was up before the demo)."""
    return sum(1 for _ in read_stream(settings.aws().client("kinesis"), settings.stream_name))
