"""Send a simulation's delivery plan through the SDK, paced or as fast as possible.

Pacing maps simulated time onto the wall clock: with speed X, an event sent at
simulated time t leaves at `run_start + (t - window_start) / X`, and never before
t itself (an event must not arrive before it happened, or ingest would call it
`future_timestamp`). Without a speed the plan is a backfill: everything leaves at
once, in plan order. Either way the order, and so every byte sent apart from
sent_ts, is the same.

The SDK's `track()` never blocks and drops when its queue is full, so a backfill
flushes every `flush_every` events: back-pressure instead of loss.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from producers.events import now_ms
from producers.simulator.faults import Delivery


class TrackerLike(Protocol):
    """What the emitter needs of producers.sdk.Tracker."""

    def track(self, event: Mapping[str, Any], *, clock_offset_ms: int = 0) -> bool: ...

    def flush(self, timeout: float | None = None) -> bool: ...


@dataclass(frozen=True)
class Pacer:
    speed: float | None  # simulated ms per wall ms; None = as fast as possible
    sim_start_ms: int  # the window's start
    clock: Callable[[], int] = now_ms  # wall epoch ms (the server's clock)
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        if self.speed is not None and not self.speed > 0:
            raise ValueError("speed must be > 0")

    def send_time(self, at_ms: int, run_start_ms: int) -> int:
        """Wall epoch ms at which a delivery planned at simulated `at_ms` may leave."""
        if self.speed is None:
            return at_ms
        slot = run_start_ms + math.ceil((at_ms - self.sim_start_ms) / self.speed)
        return max(slot, at_ms)

    def wait_until(self, wall_ms: int) -> float:
        """Sleep until the wall clock reaches `wall_ms`; returns the seconds slept."""
        delay_ms = wall_ms - self.clock()
        if delay_ms <= 0:
            return 0.0
        self.sleep(delay_ms / 1000)
        return delay_ms / 1000


@dataclass
class EmitReport:
    tracked: int = 0  # accepted by track()
    refused: int = 0  # track() returned False (queue full, shut down)
    kinds: dict[str, int] = field(default_factory=dict)
    slept_s: float = 0.0
    flushed: bool = True


def emit(
    deliveries: Iterable[Delivery],
    tracker: TrackerLike,
    *,
    pacer: Pacer,
    flush_every: int = 5_000,
    flush_timeout_s: float | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> EmitReport:
    """Track every delivery in order, with its device's clock offset, then flush."""
    report = EmitReport()
    run_start = pacer.clock()
    for count, delivery in enumerate(deliveries, start=1):
        report.slept_s += pacer.wait_until(pacer.send_time(delivery.at_ms, run_start))
        if tracker.track(delivery.event, clock_offset_ms=delivery.clock_offset_ms):
            report.tracked += 1
        else:
            report.refused += 1
        report.kinds[delivery.kind] = report.kinds.get(delivery.kind, 0) + 1
        if flush_every and count % flush_every == 0:
            tracker.flush(flush_timeout_s)
            if on_progress is not None:
                on_progress(count)
    report.flushed = tracker.flush(flush_timeout_s)
    return report
