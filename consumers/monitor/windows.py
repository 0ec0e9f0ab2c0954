"""One-minute tumbling windows by event time, per series: events in, closed rows out.

Pure: no clock, no I/O. Time is the events' derived time (player-events.md,
Time: `received_ts - (sent_ts - event_ts)`), which the processor computes.

Three marks, all from M, the newest event time seen:
- late mark `M - lateness`: an event older than it on arrival is late, counted
  and dropped (the batch path is the source of truth for it);
- release mark, the same value: buffered events older than it are fed, per
  session in (event_ts, seq) order, to the session's state machine. Holding
  events until then is what restores order within a session (player-events.md,
  Delivery: order comes from (event_ts, seq), never from arrival);
- close mark `release mark - ATTRIBUTION_GRACE_MS`: a window whose end is at or
  before it is closed and returned. The grace is there because the time from one
  event to the next is only known when the next one is released (§1: nothing
  after the last event counts); a gap longer than the grace that reaches back
  into a closed window is counted (`late_span_ms`) and dropped.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from consumers.monitor import sketch
from consumers.monitor.rows import ALL, DIMENSIONS, WindowRow, series_key
from consumers.monitor.session import Outcome, Session, Span
from schemas.contract import E
from schemas.sessions import SESSION_GAP_MS as GAP_MS
from schemas.sessions import State

WINDOW_MS = 60_000
# Heartbeats come every 10 s while a session is open and not paused
# (player-events.md, Event types), so gaps in watch time are far below this.
ATTRIBUTION_GRACE_MS = 60_000
# Open sessions silent this long are forgotten (memory); closed ones after §1's gap.
IDLE_EVICT_MS = 2 * 60 * 60_000

_SPAN_FIELD = {
    Span.starting: "starting_time_ms",
    Span.play: "play_time_ms",
    Span.ad: "ad_time_ms",
    Span.rebuffer: "rebuffer_time_ms",
    Span.seek: "seek_time_ms",
}
_OUTCOME_FIELD = {
    Outcome.start: "starts",
    Outcome.start_failure: "start_failures",
    Outcome.exit_before_start: "exits_before_start",
    Outcome.playback_failure: "playback_failures",
    Outcome.rebuffer: "rebuffer_count",
}


@dataclass
class MonitorCounters:
    events: int = 0  # accepted into the buffer
    duplicates: int = 0  # same event_id again (player-events.md, Delivery: at least once)
    late: int = 0  # older than the late mark on arrival: dropped
    out_of_order: int = 0  # released after a later event of its session: dropped
    late_span_ms: int = 0  # time or outcomes that fell into an already closed window
    late_outcomes: int = 0
    evicted_sessions: int = 0


@dataclass(slots=True)
class _Open:
    row: WindowRow
    sessions: set[str] = field(default_factory=set)


class Monitor:
    """Keyed state per play session, open windows per series, and the watermark."""

    def __init__(self, *, lateness_ms: int, window_ms: int = WINDOW_MS,
                 grace_ms: int = ATTRIBUTION_GRACE_MS) -> None:
        if window_ms <= 0 or lateness_ms < 0 or grace_ms < 0:
            raise ValueError("window_ms must be > 0, lateness_ms and grace_ms >= 0")
        self.lateness_ms = lateness_ms
        self.window_ms = window_ms
        self.grace_ms = grace_ms
        self.counters = MonitorCounters()
        self.newest_ms: int | None = None
        self._closed_before = -math.inf  # windows starting before this are closed
        self._buffer: list[tuple[int, int, str, dict[str, Any]]] = []  # (event time, n, session, event)
        self._tiebreak = itertools.count()
        self._seen: dict[str, set[str]] = {}  # event_ids per session, for dedup
        self._sessions: dict[str, Session] = {}
        self._dims: dict[str, list[str | None]] = {}
        self._windows: dict[int, dict[str, _Open]] = {}

    # --- marks ---------------------------------------------------------------------

    @property
    def release_mark(self) -> float:
        return -math.inf if self.newest_ms is None else self.newest_ms - self.lateness_ms

    @property
    def close_mark(self) -> float:
        return self.release_mark - self.grace_ms

    @property
    def closed_before(self) -> int | None:
        """Every window starting before this is closed (None: none yet)."""
        if self._closed_before == -math.inf:
            return None
        if self._closed_before == math.inf:
            return None if self.newest_ms is None else self.window_of(self.newest_ms) + self.window_ms
        return int(self._closed_before)

    def window_of(self, time_ms: int) -> int:
        return time_ms - time_ms % self.window_ms

    # --- input -----------------------------------------------------------------------

    def add(self, event: dict[str, Any], event_time: int) -> bool:
        """Buffer one valid event; False when it was a duplicate or late (and counted)."""
        session_id, event_id = event[E.play_session_id], event[E.event_id]
        seen = self._seen.get(session_id)
        if seen is not None and event_id in seen:
            self.counters.duplicates += 1
            return False
        if event_time < self.release_mark:
            self.counters.late += 1
            return False
        if seen is None:
            seen = self._seen[session_id] = set()
        seen.add(event_id)
        self.counters.events += 1
        heapq.heappush(self._buffer, (event_time, next(self._tiebreak), session_id, event))
        if self.newest_ms is None or event_time > self.newest_ms:
            self.newest_ms = event_time
        return True

    def advance(self) -> list[WindowRow]:
        """Feed what the release mark passed, then close what the close mark passed."""
        self._release(self.release_mark)
        return self._close(self.close_mark)

    def close_all(self) -> list[WindowRow]:
        """Feed everything and close every window (the shard ended: no more input)."""
        self._release(math.inf)
        return self._close(math.inf)

    @property
    def open_sessions(self) -> int:
        return len(self._sessions)

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    # --- releasing events to their sessions ------------------------------------------

    def _release(self, mark: float) -> None:
        released: dict[str, list[tuple[int, int, str, int, dict[str, Any]]]] = {}
        buffer = self._buffer
        while buffer and buffer[0][0] < mark:
            event_time, _, session_id, event = heapq.heappop(buffer)
            released.setdefault(session_id, []).append(
                (event[E.event_ts], event[E.seq], event[E.event_id], event_time, event))
        for session_id, events in released.items():
            events.sort(key=lambda item: item[:3])
            for ts, seq, _, event_time, event in events:
                session = self._session(session_id, event)
                if (ts, seq) < session.last_key:
                    self.counters.out_of_order += 1
                    continue
                self._learn_dimensions(session, event)
                session.step(event, event_time, self)

    def _session(self, session_id: str, event: dict[str, Any]) -> Session:
        session = self._sessions.get(session_id)
        if session is None:
            dims = [event.get(name) for name in DIMENSIONS]
            self._dims[session_id] = dims
            session = Session(session_id, _series(dims), joined=event[E.seq] > 0)
            self._sessions[session_id] = session
        return session

    def _learn_dimensions(self, session: Session, event: dict[str, Any]) -> None:
        """§2: each dimension is its first non-null value in event order."""
        dims = self._dims[session.session_id]
        if all(value is not None for value in dims):
            return
        changed = False
        for i, name in enumerate(DIMENSIONS):
            if dims[i] is None and event.get(name) is not None:
                dims[i], changed = event[name], True
        if changed:
            session.series = _series(dims)

    # --- the Ledger the sessions report to --------------------------------------------

    def _open(self, series: str, window_start: int) -> _Open:
        by_series = self._windows.setdefault(window_start, {})
        acc = by_series.get(series)
        if acc is None:
            acc = by_series[series] = _Open(WindowRow(series, window_start))
        return acc

    def _pieces(self, start_ms: int, length_ms: int) -> Iterator[tuple[int, int]]:
        """(window start, ms) of [start, start + length) cut at window boundaries."""
        at, end = start_ms, start_ms + length_ms
        while at < end:
            window = self.window_of(at)
            piece = min(end, window + self.window_ms) - at
            yield window, piece
            at += piece

    def span(self, series: tuple[str, ...], kind: Span, start_ms: int, length_ms: int,
             bitrate_kbps: int | None) -> None:
        name = _SPAN_FIELD.get(kind)
        if name is None:
            return  # pause: not watch time, not reported live
        for window, piece in self._pieces(start_ms, length_ms):
            if window < self._closed_before:
                self.counters.late_span_ms += piece
                continue
            for key in series:
                row = self._open(key, window).row
                setattr(row, name, getattr(row, name) + piece)
                if kind is Span.play and bitrate_kbps is not None:
                    row.played_kbit_ms += bitrate_kbps * piece
                    row.bitrate_play_ms += piece

    def outcome(self, series: tuple[str, ...], kind: Outcome, at_ms: int) -> None:
        window = self.window_of(at_ms)
        if window < self._closed_before:
            self.counters.late_outcomes += 1
            return
        name = _OUTCOME_FIELD[kind]
        for key in series:
            row = self._open(key, window).row
            setattr(row, name, getattr(row, name) + 1)

    def startup_sample(self, series: tuple[str, ...], startup_ms: int, at_ms: int) -> None:
        window = self.window_of(at_ms)
        if window < self._closed_before:
            return  # its outcome was counted late already
        for key in series:
            sketch.add(self._open(key, window).row.startup_sketch, startup_ms)

    def active(self, series: tuple[str, ...], session_id: str, at_ms: int) -> None:
        window = self.window_of(at_ms)
        if window < self._closed_before:
            return
        for key in series:
            self._open(key, window).sessions.add(session_id)

    # --- closing -----------------------------------------------------------------------

    def _close(self, mark: float) -> list[WindowRow]:
        closed: list[WindowRow] = []
        for window in sorted(w for w in self._windows if w + self.window_ms <= mark):
            for series in sorted(self._windows[window]):
                acc = self._windows[window][series]
                acc.row.active_sessions = len(acc.sessions)
                closed.append(acc.row)
            del self._windows[window]
        if mark == math.inf:
            self._closed_before = math.inf
        elif mark > -math.inf:
            # Every window before the one holding the mark ends at or before it.
            self._closed_before = max(self._closed_before, self.window_of(math.floor(mark)))
        if closed:
            self._evict()
        return closed

    def _evict(self) -> None:
        mark = self.release_mark
        gone = [
            sid for sid, s in self._sessions.items()
            if s.prev_time < mark - (GAP_MS if s.state is State.closed else IDLE_EVICT_MS)
        ]
        for sid in gone:
            del self._sessions[sid], self._dims[sid]
            self._seen.pop(sid, None)
        self.counters.evicted_sessions += len(gone)


def _series(dims: list[str | None]) -> tuple[str, ...]:
    return (ALL, *(series_key(name, value) for name, value in zip(DIMENSIONS, dims, strict=True)))
