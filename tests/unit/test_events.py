"""The typed event builders of producers/events.py against the contract."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest

from producers.events import Dimensions, Measures, PlaySession
from schemas import EVENT_FIELDS, EVENT_TYPES, validate_event

# What each event type needs beyond the envelope (player-events.md, Envelope: "on error", "on ad events").
REQUIRED_ARGS: dict[str, dict[str, Any]] = {
    "rendition_change": {"bitrate_kbps": 3_000, "video_width": 1280, "video_height": 720},
    "error": {"code": "MEDIA_ERR_DECODE", "message": "decoder failed", "fatal": True, "category": "technical"},
    "ad_break_start": {"ad_break_id": "break-1"},
    "ad_break_end": {"ad_break_id": "break-1"},
    "ad_start": {"ad_id": "ad-1", "ad_break_id": "break-1"},
    "ad_end": {"ad_id": "ad-1", "ad_break_id": "break-1"},
}

DIMENSIONS = Dimensions(
    content_duration_ms=3_600_000, content_title="A Title", player_name="shaka", player_version="4.9",
    sdk_version="0.1.0", device_type="tv", os_name="tizen", cdn="cdn-a", country="FR",
)


def new_session(**overrides: Any) -> PlaySession:
    ticks = iter(range(1_700_000_000_000, 1_800_000_000_000, 250))
    fields: dict[str, Any] = {
        "viewer_id": "viewer-1", "content_id": "title-1", "content_type": "vod",
        "play_session_id": "ps-1", "dimensions": DIMENSIONS, "clock": lambda: next(ticks),
    }
    fields.update(overrides)
    return PlaySession(**fields)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_event_type_has_a_builder_that_makes_a_valid_event(event_type: str) -> None:
    builder = getattr(new_session(), event_type)
    event = builder(playhead_ms=1_000, **REQUIRED_ARGS.get(event_type, {}))
    assert event["event_type"] == event_type
    assert validate_event(event) == []


def test_error_and_rendition_builders_map_their_arguments_to_contract_fields() -> None:
    ps = new_session()
    error = ps.error(code="E42", message="network", fatal=False)
    assert (error["error_code"], error["error_message"], error["error_fatal"]) == ("E42", "network", False)
    assert "error_category" not in error  # None is left out, not sent as null
    change = ps.rendition_change(bitrate_kbps=800)
    assert change["bitrate_kbps"] == 800 and "video_width" not in change


def test_seq_counts_events_of_the_session_from_zero() -> None:
    ps = new_session()
    events = [ps.view_start(), ps.play_request(), ps.buffer_start(), ps.buffer_end(), ps.playing()]
    assert [e["seq"] for e in events] == [0, 1, 2, 3, 4]
    assert ps.next_seq == 5
    other = new_session(play_session_id="ps-2")
    assert other.view_start()["seq"] == 0  # per play session


def test_envelope_is_filled_from_the_session_and_its_clock() -> None:
    ps = new_session()
    first, second = ps.view_start(), ps.heartbeat(ts=5)
    assert first["event_ts"] == 1_700_000_000_000 and second["event_ts"] == 5
    assert {first["play_session_id"], first["viewer_id"], first["content_id"]} == {"ps-1", "viewer-1", "title-1"}
    assert uuid.UUID(first["event_id"]) != uuid.UUID(second["event_id"])
    for name, value in DIMENSIONS.present().items():
        assert first[name] == value and second[name] == value


def test_a_default_session_id_is_a_fresh_uuid() -> None:
    a = PlaySession(viewer_id="v", content_id="c", content_type="live")
    b = PlaySession(viewer_id="v", content_id="c", content_type="live")
    assert a.play_session_id != b.play_session_id
    assert uuid.UUID(a.play_session_id).version == 4


def test_custom_properties_are_copied() -> None:
    custom = {"experiment": "b"}
    event = new_session().heartbeat(custom=custom)
    custom["experiment"] = "changed later"
    assert event["custom"] == {"experiment": "b"}
    assert validate_event(event) == []


def test_a_misspelt_field_is_a_type_error() -> None:
    ps = new_session()
    with pytest.raises(TypeError, match="playhed_ms"):
        ps.heartbeat(playhed_ms=10)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="bitrate"):
        ps.event("heartbeat", bitrate=10)
    with pytest.raises(TypeError):
        Dimensions(cdn_name="x")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        ps.error(code="E", message="m")  # type: ignore[call-arg]  # fatal is required
    assert ps.next_seq == 0  # a refused event does not use up a seq


def test_an_unknown_event_type_is_refused() -> None:
    with pytest.raises(ValueError, match="rebuffer"):
        new_session().event("rebuffer")


def test_dimension_and_measure_names_are_contract_fields() -> None:
    dimension_names = {f.name for f in dataclasses.fields(Dimensions)}
    measure_names = set(Measures.__annotations__)
    assert dimension_names and measure_names
    assert dimension_names <= set(EVENT_FIELDS)
    assert measure_names <= set(EVENT_FIELDS)
