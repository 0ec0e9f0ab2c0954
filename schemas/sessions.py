"""The rules every layer applies to a play session, stated once: the 30-minute
rule of time, the states of qoe-metrics.md section 1 and the outcomes of section 2.

The batch fold (spark_jobs, with PlaySessionFold.java numbering the states in this
order), the live monitor (consumers/monitor), the simulator's truth and the quality
gates all read these; the ingest window (player-events.md, Time) is the contract's
own (schemas.contract.LIMITS, from the JSON Schema's x-limits).
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

# qoe-metrics.md: one span of 30 minutes for three rules. Section 1: a gap of more
# than this between two events belongs to no state. Section 2: a session is final
# once its last event is more than this before the watermark. Section 3: a play
# session joins a viewer session when it starts at most this after its latest end.
SESSION_GAP = timedelta(minutes=30)
SESSION_GAP_MS = SESSION_GAP // timedelta(milliseconds=1)


class State(StrEnum):
    """Section 1's states, in the order PlaySessionFold.java numbers them (0..6)."""

    idle = "idle"
    starting = "starting"
    playing = "playing"
    paused = "paused"
    seeking = "seeking"
    rebuffering = "rebuffering"
    closed = "closed"

    @property
    def number(self) -> int:
        """The state's number in the batch fold's accumulator."""
        return list(State).index(self)


class StartOutcome(StrEnum):
    """Values of `start_outcome` (section 2)."""

    started = "started"
    start_failure = "start_failure"
    exit_before_start = "exit_before_start"
    no_attempt = "no_attempt"
    in_progress = "in_progress"


# Section 4: the outcomes that count as an attempt.
ATTEMPT_OUTCOMES: tuple[StartOutcome, ...] = (
    StartOutcome.started, StartOutcome.start_failure, StartOutcome.exit_before_start)
