"""The clock, the event log and the ledger of one simulated play session.

The generative model (`model.py`) decides what happens and for how long; this
builder turns each decision into contract events at the right device time and
keeps the ledger the truth is made from: one `Span` per stretch of time the model
put the session in (idle, starting, ad, play at a bitrate, stall, seek, pause,
closed), plus errors, bitrate shifts and ads. It also does what a player SDK does
on its own: a heartbeat every 10 s while the session is open and not paused.

Time is integer epoch ms of the true clock; events carry `event_ts = true + skew`
(the device clock), so durations are exact integer differences either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from producers.events import PlaySession
from producers.simulator.catalog import Rendition

HEARTBEAT_MS = 10_000  # player-events.md, Event types: heartbeat, SDK default
SpanKind = Literal["idle", "starting", "ad", "play", "stall", "seek", "pause", "closed"]
Phase = Literal["idle", "starting", "ad", "play", "stall", "seek", "pause", "closed"]


class WindowEnded(Exception):
    """The next event would fall after the window's end: the session stays open."""


@dataclass
class Span:
    """A stretch of time the model put the session in; `end` None = still open."""

    kind: SpanKind
    start: int
    end: int | None = None
    rendition: Rendition | None = None  # play: the content rendition in force
    away: bool = False  # pause: the viewer left for more than 30 minutes
    from_paused: bool = False  # seek
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class SessionBuilder:
    session: PlaySession
    now: int  # true epoch ms
    horizon: int  # last true ms an event may have (the window's end)
    skew_ms: int = 0  # device clock minus true clock, constant per device
    playhead: int = 0
    rendition: Rendition | None = None  # last bitrate carried by an event
    events: list[dict[str, Any]] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    shifts: list[dict[str, Any]] = field(default_factory=list)
    ads: list[dict[str, Any]] = field(default_factory=list)
    incidents: set[str] = field(default_factory=set)
    startup: dict[str, Any] = field(default_factory=dict)
    first_frame_ts: int | None = None
    play_request_ts: int | None = None
    closed: bool = False
    completed: bool = False  # an `ended` was sent
    last_ts: int | None = None  # true time of the last emitted event
    max_playhead: int | None = None
    next_heartbeat: int | None = None
    on_heartbeat: Callable[[SessionBuilder], dict[str, Any]] | None = None

    # --- time --------------------------------------------------------------------

    @property
    def phase(self) -> Phase:
        return self.spans[-1].kind if self.spans else "idle"

    def wait(self, ms: int) -> None:
        """Let `ms` pass, sending the heartbeats that fall in it (at or before the end)."""
        if ms < 0:
            raise ValueError("time only moves forward")
        target = self.now + ms
        while self.next_heartbeat is not None and self.next_heartbeat <= target:
            self._move_to(self.next_heartbeat)
            self._heartbeat()
            self.next_heartbeat += HEARTBEAT_MS
        self._move_to(target)

    def _move_to(self, ts: int) -> None:
        if self.phase == "play":  # only content play moves the playhead (ads have their own)
            self.playhead += ts - self.now
        self.now = ts

    def stop_heartbeats(self) -> None:
        self.next_heartbeat = None

    def restart_heartbeats(self) -> None:
        self.next_heartbeat = self.now + HEARTBEAT_MS

    # --- spans -------------------------------------------------------------------

    def begin(self, kind: SpanKind, **attrs: Any) -> Span:
        """Close the current span now and open the next one (the model's state change)."""
        if self.spans:
            self.spans[-1].end = self.now
        span = Span(kind, self.now, **attrs)
        self.spans.append(span)
        return span

    # --- events ------------------------------------------------------------------

    def emit(self, event_type: str, *, playhead: bool = True, **fields: Any) -> dict[str, Any]:
        """Send one event now; raises WindowEnded when now is past the window."""
        if self.now > self.horizon:
            raise WindowEnded
        if self.closed and event_type != "view_end":
            raise AssertionError(f"model bug: {event_type} after the session closed")
        if playhead:
            fields["playhead_ms"] = self.playhead
            self.max_playhead = self.playhead if self.max_playhead is None else max(self.max_playhead, self.playhead)
        event = self.session.event(event_type, ts=self.now + self.skew_ms, **fields)
        self.events.append(event)
        self.last_ts = self.now
        return event

    def _heartbeat(self) -> None:
        extra = self.on_heartbeat(self) if self.on_heartbeat else {}
        if self.rendition is not None:
            extra["bitrate_kbps"] = self.rendition.bitrate_kbps
        self.emit("heartbeat", **extra)

    def content_playing(self, *, first_frame: bool = False, **fields: Any) -> None:
        """A `playing` of the content: carries the bitrate in force (qoe-metrics.md §2,
        played_kbits uses the latest bitrate carried by any event)."""
        assert self.rendition is not None
        self.emit("playing", bitrate_kbps=self.rendition.bitrate_kbps,
                  video_width=self.rendition.width, video_height=self.rendition.height, **fields)
        if first_frame:
            self.first_frame_ts = self.now
        if self.phase != "play":
            self.begin("play", rendition=self.rendition)

    def shift(self, to: Rendition, *, reason: str) -> None:
        """A rendition_change: an up- or downshift against the bitrate in force."""
        before = self.rendition
        assert before is not None and before != to, "a shift needs a bitrate in force and a new one"
        self.emit("rendition_change", bitrate_kbps=to.bitrate_kbps, video_width=to.width, video_height=to.height)
        self.rendition = to
        direction = "up" if to.bitrate_kbps > before.bitrate_kbps else "down"
        self.shifts.append({"ts": self.now, "from_kbps": before.bitrate_kbps, "to_kbps": to.bitrate_kbps,
                            "direction": direction, "reason": reason})
        if self.phase == "play":
            self.begin("play", rendition=to)

    def error(self, code: str, message: str, *, fatal: bool, category: str = "technical",
              cause: str | None = None) -> None:
        self.emit("error", error_code=code, error_message=message, error_fatal=fatal, error_category=category)
        phase = "playback" if self.first_frame_ts is not None else "startup"
        self.errors.append({"ts": self.now, "code": code, "fatal": fatal, "category": category,
                            "phase": phase, "cause": cause})
        if fatal:
            self.close()

    def close(self) -> None:
        """The session reached `closed` (a fatal error, `ended` or `view_end`)."""
        self.closed = True
        self.stop_heartbeats()
        self.begin("closed")
