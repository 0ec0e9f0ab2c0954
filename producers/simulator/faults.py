"""Delivery faults: what the network and the devices do to events on the way.

Every hop is at least once and order is not kept (player-events.md, Delivery), and
device clocks are wrong (Time). The generative model makes each session's events
in true order; this module decides when each one leaves the device, so the lake
sees duplicates, reordering, stragglers and skewed clocks at configured rates.
It never changes an event: a duplicate is the same event (same event_id) twice.

Fault draws use their own RNG streams, so changing a fault rate changes the
deliveries but never the sessions or the truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from random import Random
from typing import Any, Literal

from ottlake.errors import ConfigError

MINUTE = 60_000
DeliveryKind = Literal["on_time", "duplicate", "late", "out_of_order"]


@dataclass(frozen=True)
class FaultRates:
    """Shares of events (devices for `skew`) that suffer each fault."""

    duplicate: float = 0.01  # sent twice (a retry after a lost acknowledgement)
    out_of_order: float = 0.02  # sent after the session's next event
    late: float = 0.005  # held back `late_delay_ms` (offline device), at most to the window's end
    skew: float = 0.1  # devices whose clock is off by 30 s to 3 h
    late_delay_ms: int = 15 * MINUTE

    def __post_init__(self) -> None:
        for name in ("duplicate", "out_of_order", "late", "skew"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} rate must be between 0 and 1, not {value}")
        if self.late_delay_ms < 0:
            raise ConfigError("late_delay_ms must be >= 0")


@dataclass(frozen=True, slots=True)
class Delivery:
    """One send of one event by its device, at true (server) time `at_ms`."""

    at_ms: int
    rank: int  # at equal at_ms, 0 goes before 1 (a reordered event goes after its successor)
    session_index: int
    seq: int
    copy: int  # 0 the first send, 1 a duplicate
    kind: DeliveryKind
    clock_offset_ms: int  # the device's skew: the SDK stamps sent_ts with it
    event: dict[str, Any]

    @property
    def sort_key(self) -> tuple[int, int, int, int, int]:
        return (self.at_ms, self.rank, self.session_index, self.seq, self.copy)


def draw_skew_ms(rng: Random, rate: float) -> int:
    """A device's constant clock offset: 0 for most, 30 s to 3 h either way for a few."""
    if rng.random() >= rate:
        return 0
    magnitude = rng.randint(30_000, 3 * 60 * MINUTE)
    return magnitude if rng.random() < 0.5 else -magnitude


def plan_deliveries(
    events: Sequence[dict[str, Any]],
    *,
    session_index: int,
    skew_ms: int,
    rates: FaultRates,
    rng: Random,
    window_end_ms: int,
) -> list[Delivery]:
    """When each event of one session leaves its device (unsorted)."""
    true_ts = [event["event_ts"] - skew_ms for event in events]
    out: list[Delivery] = []
    for i, event in enumerate(events):
        # Three draws per event whatever the rates, so one rate never shifts another's draws.
        late_draw, reorder_draw, duplicate_draw = rng.random(), rng.random(), rng.random()
        delay_draw = rng.randint(100, 30_000)
        at, rank, kind = true_ts[i], 0, "on_time"
        if late_draw < rates.late:
            at, kind = min(true_ts[i] + rates.late_delay_ms, max(window_end_ms, true_ts[i])), "late"
        elif reorder_draw < rates.out_of_order and i + 1 < len(events):
            at, rank, kind = true_ts[i + 1], 1, "out_of_order"
        seq = event["seq"]
        out.append(Delivery(at, rank, session_index, seq, 0, kind, skew_ms, event))  # type: ignore[arg-type]
        if duplicate_draw < rates.duplicate:
            again = min(at + delay_draw, max(window_end_ms, at))
            out.append(Delivery(again, rank, session_index, seq, 1, "duplicate", skew_ms, event))
    return out
