"""The ground truth of one play session, read from the model's ledger.

The batch jobs' `play_sessions` rows (qoe-metrics.md §2) are checked against these
records, so each column is the model's own account: the spans it decided, clipped
at the last event it managed to send before the window ended ("nothing after the
last event counts", §1). Nothing here looks at the events themselves, apart from
counting how many the builder sent (event_count).

All durations are integer ms; `played_kbits` is kbps x ms summed as an exact
integer and divided by 1000 once, so the only rounding is the final float.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from producers.simulator.timeline import SessionBuilder, Span
from schemas.sessions import SESSION_GAP_MS

if TYPE_CHECKING:
    from producers.simulator.model import SessionContext


TRUTH_FIELDS: tuple[str, ...] = (
    "play_session_id", "viewer_id", "content_id", "content_type", "content_duration_ms", "device_type",
    "os_name", "player_name", "player_version", "app_version", "cdn", "country", "connection_type",
    "network_profile", "start_time_ms", "end_time_ms", "clock_skew_ms", "closed", "watermark_ms", "is_final",
    "startup_time_ms", "starting_time_ms", "play_time_ms", "ad_time_ms", "rebuffer_time_ms", "rebuffer_count",
    "seek_time_ms", "seek_count", "pause_time_ms", "watch_time_ms", "rebuffer_ratio", "start_outcome",
    "playback_failure", "error_count", "fatal_error_code", "played_kbits", "bitrate_play_ms", "avg_bitrate_kbps",
    "upshift_count", "downshift_count", "max_playhead_ms", "percent_complete", "completed", "event_count",
    "incidents", "startup", "stalls", "seeks", "pauses", "renditions", "shifts", "ads", "errors",
)


def counted_ms(span: Span, cutoff: int) -> int:
    """The part of a span that the spec counts: up to the last event, and none of a
    pause during which the viewer was away for more than 30 minutes (§1)."""
    if span.kind == "pause" and span.away:
        return 0
    end = cutoff if span.end is None else min(span.end, cutoff)
    return max(0, end - span.start)


def summarize(b: SessionBuilder, *, ctx: SessionContext, bandwidth_kbps: int) -> dict[str, Any]:
    assert b.last_ts is not None, "a session has at least its view_start"
    cutoff = b.last_ts
    totals = {kind: 0 for kind in ("starting", "play", "ad", "stall", "seek", "pause")}
    entries = {"stall": 0, "seek": 0}
    played_kbit_ms = 0  # kbps x ms, exact
    for span in b.spans:
        if span.start > cutoff:
            break
        ms = counted_ms(span, cutoff)
        if span.kind in totals:
            totals[span.kind] += ms
        if span.kind in entries:
            entries[span.kind] += 1  # the entry event was sent (its ts <= cutoff)
        if span.kind == "play":
            assert span.rendition is not None  # every content `playing` carries a bitrate
            played_kbit_ms += span.rendition.bitrate_kbps * ms

    first_frame = b.first_frame_ts is not None
    fatal = [e for e in b.errors if e["fatal"]]
    is_final = b.closed or ctx.horizon_ms - cutoff > SESSION_GAP_MS  # qoe-metrics.md §2, is_final
    if first_frame:
        outcome = "started"
    elif fatal:
        outcome = "start_failure"
    elif is_final and b.play_request_ts is not None:
        outcome = "exit_before_start"
    elif is_final:
        outcome = "no_attempt"
    else:
        outcome = "in_progress"
    # watch time = time in `starting` + play + ad + rebuffer + seek (qoe-metrics.md §2,
    # clarified 2026-12-07): the waiting of a viewer who never saw a frame is watch
    # time too, although startup_time_ms is null for them.
    watch = totals["starting"] + totals["play"] + totals["ad"] + totals["stall"] + totals["seek"]
    play = totals["play"]
    duration = ctx.title.duration_ms
    viewer, platform = ctx.viewer, ctx.viewer.platform
    first = b.events[0]
    return {
        "play_session_id": first["play_session_id"],
        "viewer_id": viewer.viewer_id,
        "content_id": ctx.title.content_id,
        "content_type": ctx.title.content_type,
        "content_duration_ms": duration,
        "device_type": platform.device_type,
        "os_name": platform.os_name,
        "player_name": platform.player_name,
        "player_version": viewer.player_version,
        "app_version": platform.app_version,
        "cdn": ctx.cdn,
        "country": viewer.country,
        "connection_type": viewer.network.connection_type,
        "network_profile": viewer.network.name,
        "start_time_ms": ctx.start_ms,
        "end_time_ms": cutoff,
        "clock_skew_ms": b.skew_ms,
        "closed": b.closed,
        "watermark_ms": ctx.horizon_ms,  # is_final and start_outcome assume this watermark
        "is_final": is_final,
        "startup_time_ms": totals["starting"] if first_frame else None,
        "starting_time_ms": totals["starting"],
        "play_time_ms": play,
        "ad_time_ms": totals["ad"],
        "rebuffer_time_ms": totals["stall"],
        "rebuffer_count": entries["stall"],
        "seek_time_ms": totals["seek"],
        "seek_count": entries["seek"],
        "pause_time_ms": totals["pause"],
        "watch_time_ms": watch,
        "rebuffer_ratio": totals["stall"] / watch if watch else None,
        "start_outcome": outcome,
        "playback_failure": bool(fatal) and first_frame and fatal[0]["phase"] == "playback",
        "error_count": len(b.errors),
        "fatal_error_code": fatal[0]["code"] if fatal else None,
        "played_kbits": played_kbit_ms / 1000,
        "bitrate_play_ms": play,  # every content play span has a bitrate in force
        "avg_bitrate_kbps": played_kbit_ms / play if play else None,
        "upshift_count": sum(1 for s in b.shifts if s["direction"] == "up"),
        "downshift_count": sum(1 for s in b.shifts if s["direction"] == "down"),
        "max_playhead_ms": b.max_playhead,
        "percent_complete": (min(1.0, b.max_playhead / duration)
                             if duration and b.max_playhead is not None else None),
        "completed": b.completed,
        "event_count": len(b.events),
        "incidents": sorted(b.incidents),
        "startup": {**b.startup, "initial_bandwidth_kbps": bandwidth_kbps},
        "stalls": [_detail(s, cutoff, planned=True, ending=s.info.get("ending"),
                           incident_factor=s.info.get("incident_factor")) for s in _spans(b, "stall", cutoff)],
        "seeks": [_detail(s, cutoff, planned=True, from_paused=s.from_paused, from_ms=s.info["from_ms"],
                          to_ms=s.info["to_ms"]) for s in _spans(b, "seek", cutoff)],
        "pauses": [_detail(s, cutoff, planned=True, away=s.away) for s in _spans(b, "pause", cutoff)],
        "renditions": _renditions(b, cutoff),
        "shifts": list(b.shifts),
        "ads": list(b.ads),
        "errors": list(b.errors),
    }


def _spans(b: SessionBuilder, kind: str, cutoff: int) -> list[Span]:
    return [s for s in b.spans if s.kind == kind and s.start <= cutoff]


def _detail(span: Span, cutoff: int, *, planned: bool, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"start_ts": span.start, "counted_ms": counted_ms(span, cutoff)}
    if planned and "planned_ms" in span.info:
        out["planned_ms"] = span.info["planned_ms"]
    out.update(extra)
    return out


def _renditions(b: SessionBuilder, cutoff: int) -> list[dict[str, Any]]:
    """Content play time per rendition period (a period runs until the next shift)."""
    periods: list[dict[str, Any]] = []
    for span in _spans(b, "play", cutoff):
        r = span.rendition
        assert r is not None
        if periods and periods[-1]["bitrate_kbps"] == r.bitrate_kbps:
            periods[-1]["play_ms"] += counted_ms(span, cutoff)
            continue
        periods.append({"bitrate_kbps": r.bitrate_kbps, "width": r.width, "height": r.height,
                        "start_ts": span.start, "play_ms": counted_ms(span, cutoff)})
    return periods


def write_truth(truths: Iterable[dict[str, Any]], path: str | Path) -> int:
    """One JSON line per play session (fields in TRUTH_FIELDS order); returns the count.

    The file is replaced, not appended to: a truth file describes exactly one run.
    """
    count = 0
    with Path(path).open("wb") as out:
        for truth in truths:
            out.write(orjson.dumps(truth) + b"\n")
            count += 1
    return count
