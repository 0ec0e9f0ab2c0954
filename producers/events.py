"""Typed builders for every event type of the contract.

A player integration holds one `PlaySession` per playback attempt; its methods
name each event type, take only the fields that exist (keyword-only, typed), and
fill in what the contract requires: `event_id`, `seq` (0, 1, 2, ... per session),
`event_ts`, the identifiers and the session's dimensions. A misspelt field is a
TypeError at the call, not a silent null column in the lake.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from functools import cached_property
from dataclasses import dataclass, field, fields
from typing import Any, Literal, TypedDict

from typing_extensions import Unpack

from schemas.contract import EVENT_FIELDS, SCHEMA_VERSION, EventType

ContentType = Literal["vod", "live"]
DeviceType = Literal["tv", "mobile", "tablet", "desktop", "console", "other"]
ErrorCategory = Literal["technical", "business"]


def now_ms() -> int:
    """Wall-clock epoch milliseconds (the device clock)."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class Dimensions:
    """What stays the same for every event of a play session."""

    content_duration_ms: int | None = None
    content_title: str | None = None
    series_id: str | None = None
    player_name: str | None = None
    player_version: str | None = None
    sdk_version: str | None = None
    app_version: str | None = None
    device_type: DeviceType | None = None
    os_name: str | None = None
    os_version: str | None = None
    device_model: str | None = None
    cdn: str | None = None
    connection_type: str | None = None
    country: str | None = None
    isp: str | None = None

    @cached_property
    def _present(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    def present(self) -> dict[str, Any]:
        """The fields that are set. Computed once: every event of the session reads it."""
        return dict(self._present)


class Measures(TypedDict, total=False):
    """Player measurements any event may carry (player-events.md, Envelope)."""

    playhead_ms: int
    bitrate_kbps: int
    video_width: int
    video_height: int
    player_width: int
    player_height: int
    buffer_ms: int
    dropped_frames: int
    cdn: str
    connection_type: str
    custom: Mapping[str, str]


@dataclass
class PlaySession:
    """Builds the events of one play session, in order, with `seq` assigned."""

    viewer_id: str
    content_id: str
    content_type: ContentType
    play_session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    dimensions: Dimensions = field(default_factory=Dimensions)
    clock: Callable[[], int] = now_ms
    new_event_id: Callable[[], str] = field(default=lambda: str(uuid.uuid4()), repr=False)
    next_seq: int = 0

    def event(self, event_type: EventType | str, *, ts: int | None = None, **fields: Any) -> dict[str, Any]:
        """Any event type; the named methods below are the typed way to call this."""
        if event_type not in EventType.__members__:
            raise ValueError(f"unknown event_type {event_type!r}")
        unknown = fields.keys() - _FIELD_SET
        if unknown:
            raise TypeError(f"not fields of the contract: {', '.join(sorted(unknown))}")
        event: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "event_id": self.new_event_id(),
            "event_type": str(event_type),
            "event_ts": self.clock() if ts is None else ts,
            "seq": self.next_seq,
            "viewer_id": self.viewer_id,
            "play_session_id": self.play_session_id,
            "content_id": self.content_id,
            "content_type": self.content_type,
        }
        event.update(self.dimensions._present)
        for name, value in fields.items():
            if value is not None:
                event[name] = dict(value) if name == "custom" else value
        self.next_seq += 1
        return event

    # One method per event type of player-events.md, 'Event types'.
    def view_start(self, *, ts: int | None = None, **m: Unpack[Measures]) -> dict[str, Any]:
        return self.event(EventType.view_start, ts=ts, **m)

    def player_ready(self, *, ts: int | None = None, **m: Unpack[Measures]) -> dict[str, Any]:
        return self.event(EventType.player_ready, ts=ts, **m)

    def play_request(self, *, ts: int | None = None, **m: Unpack[Measures]) -> dict[str, Any]:
        return self.event(EventType.play_request, ts=ts, **m)

    def playing(self, *, ts: int | None = None, **m: Unpack[Measures]) -> dict[str, Any]:
        return self.event(EventType.playing, ts=ts, **m)

    def pause(self, *, ts: int | None = None, **m: Unpack[Measures]) -> dict[str, Any]:
        return self.event(EventType.pause, ts=ts, **m)

    def seek_start(self, *, ts: int | None = None, **m: Unpack[Measures]) -> dict[str, Any]:
        return self.event(EventType.seek_start, ts=ts, **m)

    def seek_end(self, *, ts: int | None = None, **m: Unpack[Measures]) -> dict[str, Any]:
        return self.event(EventType.seek_end, ts=ts, **m)

    def buffer_start(self, *, ts: int | None = None, **m: Unpack[Measures]) -> dict[str, Any]:
        return self.event(EventType.buffer_start, ts=ts, **m)

    def buffer_end(self, *, ts: int | None = None, **m: Unpack[Measures]) -> dict[str, Any]:
        return self.event(EventType.buffer_end, ts=ts, **m)

    def rendition_change(
        self, *, bitrate_kbps: int, video_width: int | None = None, video_height: int | None = None,
        ts: int | None = None, **m: Unpack[Measures],
    ) -> dict[str, Any]:
        return self.event(
            EventType.rendition_change, ts=ts, bitrate_kbps=bitrate_kbps,
            video_width=video_width, video_height=video_height, **m,
        )

    def error(
        self, *, code: str, message: str, fatal: bool, category: ErrorCategory | None = None,
        ts: int | None = None, **m: Unpack[Measures],
    ) -> dict[str, Any]:
        return self.event(
            EventType.error, ts=ts, error_code=code, error_message=message,
            error_fatal=fatal, error_category=category, **m,
        )

    def ended(self, *, ts: int | None = None, **m: Unpack[Measures]) -> dict[str, Any]:
        return self.event(EventType.ended, ts=ts, **m)

    def view_end(self, *, ts: int | None = None, **m: Unpack[Measures]) -> dict[str, Any]:
        return self.event(EventType.view_end, ts=ts, **m)

    def heartbeat(self, *, ts: int | None = None, **m: Unpack[Measures]) -> dict[str, Any]:
        return self.event(EventType.heartbeat, ts=ts, **m)

    def ad_break_start(self, *, ad_break_id: str, ts: int | None = None, **m: Unpack[Measures]) -> dict[str, Any]:
        return self.event(EventType.ad_break_start, ts=ts, ad_break_id=ad_break_id, **m)

    def ad_break_end(self, *, ad_break_id: str, ts: int | None = None, **m: Unpack[Measures]) -> dict[str, Any]:
        return self.event(EventType.ad_break_end, ts=ts, ad_break_id=ad_break_id, **m)

    def ad_start(self, *, ad_id: str, ad_break_id: str, ts: int | None = None, **m: Unpack[Measures]) -> dict[str, Any]:
        return self.event(EventType.ad_start, ts=ts, ad_id=ad_id, ad_break_id=ad_break_id, **m)

    def ad_end(self, *, ad_id: str, ad_break_id: str, ts: int | None = None, **m: Unpack[Measures]) -> dict[str, Any]:
        return self.event(EventType.ad_end, ts=ts, ad_id=ad_id, ad_break_id=ad_break_id, **m)


_FIELD_SET = frozenset(EVENT_FIELDS)
