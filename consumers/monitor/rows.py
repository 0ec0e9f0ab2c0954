"""One live row: a series' sums over one window (or several, merged), and its metrics.

A row holds only sums and a sketch, so rows merge by addition: the rows of one
window written by each shard's processor, or a series' last N windows for an
alert rule. Every rate is a ratio of sums, never a mean of ratios, and null
when its denominator is 0 (qoe-metrics.md §4).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, fields

from consumers.monitor import sketch
from schemas.contract import E

ALL = "all"
# The series: every play session counts in `all` and in one series per dimension.
DIMENSIONS: tuple[str, ...] = (E.cdn, E.device_type, E.content_id)
# §4: "null is a group of its own".
NULL_GROUP = "(none)"
MS_PER_MINUTE = 60_000


def series_key(dimension: str, value: str | None) -> str:
    """The live table's pk for one group: `cdn#fastly`, `device_type#(none)`."""
    return f"{dimension}#{NULL_GROUP if value is None else value}"


def series_dimension(series: str) -> str:
    """`cdn` for `cdn#fastly`, `all` for `all`."""
    return series.split("#", 1)[0]


def series_value(series: str) -> str:
    return series.split("#", 1)[1] if "#" in series else ALL


@dataclass(slots=True)
class WindowRow:
    """Sums of one series over a window [window_start_ms, + window length).

    `active_sessions`: play sessions with at least one event in the window (that
    changed their state, so not after `closed`). Over several merged windows it
    is the sum of the per-window counts; `windows` says how many were merged.
    Outcomes count in the window of the event that decides them (§2): a start at
    the first frame, a start failure at a fatal error before it, an exit before
    start at `ended`/`view_end` before it (after a play_request), a playback
    failure at a fatal error after it. Times are split across windows at their
    boundaries, by derived event time (player-events.md, Time).
    The live reading of §2's `exit_before_start` is narrower than the batch one:
    only an explicit close counts; a session that goes silent (final after 30
    minutes in batch) is never counted live, as its window is long written.
    """

    series: str
    window_start_ms: int
    windows: int = 1
    active_sessions: int = 0
    starts: int = 0
    start_failures: int = 0
    exits_before_start: int = 0
    playback_failures: int = 0
    rebuffer_count: int = 0
    starting_time_ms: int = 0  # time in `starting`, with or without a first frame (§2)
    play_time_ms: int = 0
    ad_time_ms: int = 0
    rebuffer_time_ms: int = 0
    seek_time_ms: int = 0
    played_kbit_ms: int = 0  # kbps x ms, exact (as producers.simulator.truth sums it)
    bitrate_play_ms: int = 0
    startup_sketch: Counter = field(default_factory=Counter)

    # --- §4's derived columns ----------------------------------------------------

    @property
    def attempts(self) -> int:
        """§4: outcome started, start_failure or exit_before_start."""
        return self.starts + self.start_failures + self.exits_before_start

    @property
    def watch_time_ms(self) -> int:
        """§2: time in starting + play + ad + rebuffer + seek; pause excluded (time in
        starting counts whether or not a first frame came: clarified 2026-12-07)."""
        return self.starting_time_ms + self.play_time_ms + self.ad_time_ms + self.rebuffer_time_ms + self.seek_time_ms

    @property
    def rebuffer_ratio(self) -> float | None:
        return _ratio(self.rebuffer_time_ms, self.watch_time_ms)

    @property
    def start_failure_rate(self) -> float | None:
        return _ratio(self.start_failures, self.attempts)

    @property
    def exit_before_start_rate(self) -> float | None:
        return _ratio(self.exits_before_start, self.attempts)

    @property
    def playback_failure_rate(self) -> float | None:
        return _ratio(self.start_failures + self.playback_failures, self.attempts)

    @property
    def rebuffers_per_minute(self) -> float | None:
        return _ratio(self.rebuffer_count, self.watch_time_ms / MS_PER_MINUTE)

    @property
    def avg_bitrate_kbps(self) -> float | None:
        return _ratio(self.played_kbit_ms, self.bitrate_play_ms)  # = played_kbits * 1000 / ms

    @property
    def active_sessions_per_window(self) -> float:
        return self.active_sessions / self.windows

    @property
    def startup_time_p50_ms(self) -> int | None:
        return sketch.quantile(self.startup_sketch, 0.50)

    @property
    def startup_time_p95_ms(self) -> int | None:
        return sketch.quantile(self.startup_sketch, 0.95)


# The integer sums a row is made of (what the store writes and merges).
COUNTERS: tuple[str, ...] = tuple(
    f.name for f in fields(WindowRow) if f.name not in ("series", "window_start_ms", "windows", "startup_sketch")
)
# What rules and the live view may name: a sum, or a derived column.
METRICS: tuple[str, ...] = (
    *COUNTERS, "attempts", "watch_time_ms", "rebuffer_ratio", "start_failure_rate", "exit_before_start_rate",
    "playback_failure_rate", "rebuffers_per_minute", "avg_bitrate_kbps", "active_sessions_per_window",
    "startup_time_p50_ms", "startup_time_p95_ms",
)


def metric(row: WindowRow, name: str) -> float | None:
    if name not in METRICS:
        raise KeyError(name)
    return getattr(row, name)


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def merge_rows(rows: Iterable[WindowRow], *, series: str | None = None) -> WindowRow | None:
    """The sum of rows (one series' shards of a window, or its windows); None for none.

    `windows` counts distinct window starts, so shards of one window merge to 1."""
    rows = list(rows)
    if not rows:
        return None
    merged = WindowRow(series=series or rows[0].series, window_start_ms=min(r.window_start_ms for r in rows))
    for name in COUNTERS:
        setattr(merged, name, sum(getattr(r, name) for r in rows))
    merged.startup_sketch = sketch.merge(r.startup_sketch for r in rows)
    merged.windows = len({r.window_start_ms for r in rows})
    return merged
