"""One play session's state machine (qoe-metrics.md §1), fed one event at a time.

The batch path folds a whole session at once (spark_jobs.transforms.sessions);
the live path cannot wait for the session to end, so this walks the same
transition table incrementally and reports each piece of time and each outcome,
at the derived event time it happened, to a `Ledger` (the windows). Events must
arrive in (event_ts, seq) order; the windows' per-session reorder buffer does that.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from schemas.contract import E, EventType
from schemas.sessions import SESSION_GAP_MS as GAP_MS
from schemas.sessions import State

_CLOSING = frozenset({EventType.ended, EventType.view_end})


class Span(StrEnum):
    """Kinds of time a session reports; watch time is all but pause (§2)."""

    starting = "starting"
    play = "play"
    ad = "ad"
    rebuffer = "rebuffer"
    seek = "seek"
    pause = "pause"


class Outcome(StrEnum):
    """Counted once per session, at the event that decides them (§2 start_outcome,
    playback_failure), plus one count per entry into rebuffering."""

    start = "start"
    start_failure = "start_failure"
    exit_before_start = "exit_before_start"
    playback_failure = "playback_failure"
    rebuffer = "rebuffer"


class Ledger(Protocol):
    def span(self, series: tuple[str, ...], kind: Span, start_ms: int, length_ms: int, bitrate_kbps: int | None) -> None:
        """`length_ms` of `kind` from derived time `start_ms` (bitrate in force for play)."""

    def outcome(self, series: tuple[str, ...], kind: Outcome, at_ms: int) -> None: ...

    def startup_sample(self, series: tuple[str, ...], startup_ms: int, at_ms: int) -> None: ...

    def active(self, series: tuple[str, ...], session_id: str, at_ms: int) -> None: ...


@dataclass(slots=True)
class Session:
    """What the live path keeps of one play session between its events."""

    session_id: str
    series: tuple[str, ...]
    # A processor that first sees a session after its seq-0 event (restart from a
    # checkpoint, a dropped late view_start) cannot know how it started: it counts
    # its time but none of its start outcomes.
    joined: bool
    state: State = State.idle
    in_ad: bool = False
    seek_from_paused: bool = False
    first_frame: bool = False
    requested: bool = False
    bitrate_kbps: int | None = None
    prev_ts: int | None = None  # event_ts of the previous event (durations: one device clock)
    prev_time: int = 0  # its derived time (placement on the calendar)
    last_key: tuple[int, int] = (-1, -1)
    startup_ms: int = 0  # time in `starting` so far: the startup sample at the first frame

    def step(self, event: dict[str, Any], event_time: int, ledger: Ledger) -> None:
        """Apply one event (§1), reporting to `ledger`."""
        if self.state is State.closed:
            return  # §1: events after closed change nothing
        ts = event[E.event_ts]
        self.last_key = (ts, event[E.seq])
        if self.prev_ts is not None and 0 < ts - self.prev_ts <= GAP_MS:
            self._elapse(ts - self.prev_ts, ledger)
        self.prev_ts, self.prev_time = ts, event_time
        ledger.active(self.series, self.session_id, event_time)
        self._transition(event, event_time, ledger)
        bitrate = event.get(E.bitrate_kbps)
        if bitrate is not None:
            self.bitrate_kbps = bitrate  # §2: the latest bitrate_kbps carried by any event

    def _elapse(self, elapsed: int, ledger: Ledger) -> None:
        """The time since the previous event belongs to the state in force after it (§1)."""
        state, start = self.state, self.prev_time
        if state is State.starting:
            # §2 (clarified 2026-12-07): time in `starting` is watch time whether or not a
            # first frame comes, so it is reported as it passes; only the startup sample
            # (startup_time_ms) waits for the first frame.
            ledger.span(self.series, Span.starting, start, elapsed, None)
            self.startup_ms += elapsed
        elif state is State.playing:
            if self.in_ad:
                ledger.span(self.series, Span.ad, start, elapsed, None)
            else:
                ledger.span(self.series, Span.play, start, elapsed, self.bitrate_kbps)
        elif state is State.rebuffering:
            ledger.span(self.series, Span.rebuffer, start, elapsed, None)
        elif state is State.seeking:
            ledger.span(self.series, Span.seek, start, elapsed, None)
        elif state is State.paused:
            ledger.span(self.series, Span.pause, start, elapsed, None)

    def _transition(self, event: dict[str, Any], at: int, ledger: Ledger) -> None:
        kind, state = event[E.event_type], self.state
        fatal = kind == EventType.error and event.get(E.error_fatal) is True
        if fatal or kind in _CLOSING:
            self._close(fatal=fatal, at=at, ledger=ledger)
        elif kind == EventType.play_request:
            self.requested = True
            if state is State.idle or (state is State.paused and not self.first_frame):
                self.state = State.starting
        elif kind == EventType.playing:
            if not self.first_frame:
                self._first_frame(at, ledger)
            self.state = State.playing
        elif kind == EventType.pause:
            if state in (State.starting, State.playing, State.rebuffering, State.seeking):
                self.state = State.paused
        elif kind == EventType.seek_start:
            if state in (State.playing, State.rebuffering, State.paused):
                self.seek_from_paused = state is State.paused
                self.state = State.seeking
        elif kind == EventType.seek_end:
            if state is State.seeking and self.seek_from_paused:
                self.state = State.paused
        elif kind == EventType.buffer_start:
            if state is State.playing and not self.in_ad:
                self.state = State.rebuffering
                ledger.outcome(self.series, Outcome.rebuffer, at)
        elif kind == EventType.buffer_end:
            if state is State.rebuffering:
                self.state = State.playing
        elif kind == EventType.ad_break_start:
            self.in_ad = True
        elif kind == EventType.ad_break_end:
            self.in_ad = False

    def _first_frame(self, at: int, ledger: Ledger) -> None:
        self.first_frame = True
        if self.joined:
            return
        ledger.outcome(self.series, Outcome.start, at)
        if self.requested:  # §2: null startup without a play_request before the first frame
            ledger.startup_sample(self.series, self.startup_ms, at)

    def _close(self, *, fatal: bool, at: int, ledger: Ledger) -> None:
        self.state = State.closed
        if fatal and self.first_frame:
            ledger.outcome(self.series, Outcome.playback_failure, at)
        elif self.joined or self.first_frame:
            pass
        elif fatal:
            ledger.outcome(self.series, Outcome.start_failure, at)
        elif self.requested:
            ledger.outcome(self.series, Outcome.exit_before_start, at)
