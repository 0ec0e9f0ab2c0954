"""One simulation run: viewers over a window, their play sessions, and the send plan.

`simulate` is pure (no I/O, no clock): the same config gives the same sessions,
events, truth and delivery order, whatever speed they are later sent at. Each
viewer draws from RNG streams named after the seed and the viewer's index, so
viewers are independent of one another, and fault draws never disturb the model.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from random import Random
from typing import Any

from ottlake.errors import ConfigError
from producers.simulator.catalog import Title, make_viewer, next_episode, pick_cdn, pick_title
from producers.simulator.faults import Delivery, FaultRates, draw_skew_ms, plan_deliveries
from producers.simulator.incidents import Incident, IncidentSchedule
from producers.simulator.model import SessionContext, generate_session

MINUTE = 60_000
# Ingest quarantines events derived more than 72 h before their arrival
# (player-events.md, Time); a backfill of at most 48 h stays clear of it.
MAX_MINUTES = 48 * 60
MAX_VIEWERS = 100_000
# Everything is generated before sending (for a deterministic, time-sorted plan):
# about 5 events per viewer-minute at about 1.4 KB each (measured: 1,000 viewers x
# 60 min = 304k events, 415 MB peak). The cap keeps a run under about 3 GB.
MAX_VIEWER_MINUTES = 400_000


@dataclass(frozen=True)
class SimConfig:
    viewers: int
    minutes: int
    seed: int
    start_ms: int  # the window's start, epoch ms (the CLI uses now - minutes)
    faults: FaultRates = field(default_factory=FaultRates)
    incidents: tuple[Incident, ...] = ()

    def __post_init__(self) -> None:
        if not 1 <= self.viewers <= MAX_VIEWERS:
            raise ConfigError(f"viewers must be 1..{MAX_VIEWERS}, not {self.viewers}")
        if not 1 <= self.minutes <= MAX_MINUTES:
            raise ConfigError(f"minutes must be 1..{MAX_MINUTES}, not {self.minutes}")
        if self.viewers * self.minutes > MAX_VIEWER_MINUTES:
            raise ConfigError(
                f"viewers x minutes must be at most {MAX_VIEWER_MINUTES:,} (the whole run is held in memory); "
                "run several seeds instead"
            )
        if self.start_ms < 0:
            raise ConfigError("the start time must be a positive epoch-ms value")

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.minutes * MINUTE


@dataclass
class SimSession:
    index: int
    viewer_index: int
    events: list[dict[str, Any]]
    truth: dict[str, Any]


@dataclass
class Simulation:
    config: SimConfig
    sessions: list[SimSession]
    deliveries: list[Delivery]  # in sending order
    skewed_viewers: int
    viewers: int

    def fault_counts(self) -> dict[str, int]:
        kinds = Counter(d.kind for d in self.deliveries)
        return {kind: kinds.get(kind, 0) for kind in ("on_time", "duplicate", "late", "out_of_order")}

    def summary(self) -> dict[str, Any]:
        outcomes = Counter(s.truth["start_outcome"] for s in self.sessions)
        touched = Counter(name for s in self.sessions for name in s.truth["incidents"])
        return {
            "viewers": self.viewers,
            "sessions": len(self.sessions),
            "open_sessions": sum(1 for s in self.sessions if not s.truth["closed"]),
            "events": sum(len(s.events) for s in self.sessions),
            "deliveries": len(self.deliveries),
            "faults": self.fault_counts(),
            "skewed_viewers": self.skewed_viewers,
            "outcomes": dict(sorted(outcomes.items())),
            "incidents": dict(sorted(touched.items())),
        }


def simulate(config: SimConfig) -> Simulation:
    schedule = IncidentSchedule(config.incidents, config.start_ms)
    sessions: list[SimSession] = []
    deliveries: list[Delivery] = []
    skewed = 0
    for viewer_index in range(config.viewers):
        skew = draw_skew_ms(Random(f"{config.seed}:clock:{viewer_index}"), config.faults.skew)
        skewed += skew != 0
        fault_rng = Random(f"{config.seed}:faults:{viewer_index}")
        for events, truth in _viewer_sessions(config, schedule, viewer_index, skew):
            session = SimSession(len(sessions), viewer_index, events, truth)
            sessions.append(session)
            deliveries += plan_deliveries(
                events, session_index=session.index, skew_ms=skew, rates=config.faults,
                rng=fault_rng, window_end_ms=config.end_ms,
            )
    deliveries.sort(key=lambda d: d.sort_key)
    return Simulation(config, sessions, deliveries, skewed, config.viewers)


def _viewer_sessions(
    config: SimConfig, schedule: IncidentSchedule, viewer_index: int, skew_ms: int,
) -> list[tuple[list[dict[str, Any]], dict[str, Any]]]:
    """One viewer's play sessions back to back until the window ends.

    The first one starts within the window's first 15 minutes (viewers already
    around), later ones after a browse, an autoplay of the next episode or a break.
    """
    rng = Random(f"{config.seed}:viewer:{viewer_index}")
    viewer = make_viewer(rng)
    at = config.start_ms + rng.randint(0, min(config.minutes, 15) * MINUTE - 1)
    title: Title = pick_title(rng)
    out = []
    while at <= config.end_ms:
        resume = None
        if title.duration_ms is not None and title.duration_ms > 20 * MINUTE and rng.random() < 0.2:
            resume = int(title.duration_ms * rng.uniform(0.1, 0.7))  # continue watching
        ctx = SessionContext(
            viewer=viewer, title=title, cdn=pick_cdn(rng, viewer.country), start_ms=at,
            window_start_ms=config.start_ms, horizon_ms=config.end_ms, skew_ms=skew_ms,
            schedule=schedule, resume_position_ms=resume,
        )
        outcome = generate_session(rng, ctx)
        out.append((outcome.events, outcome.truth))
        if not outcome.closed:
            break
        following = next_episode(title) if outcome.completed else None
        if following is not None and rng.random() < 0.7:
            at, title = outcome.last_ts + rng.randint(5_000, 15_000), following  # autoplay
        elif rng.random() < 0.45:
            at, title = outcome.last_ts + rng.randint(3_000, 90_000), pick_title(rng)
        else:
            at, title = outcome.last_ts + int(rng.expovariate(1 / (8 * MINUTE))) + 1_000, pick_title(rng)
    return out
