"""Every rule of player-events.md, enforced by the schema and the validator."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import orjson
import pytest

from schemas import (
    EVENT_FIELDS,
    EVENT_TYPES,
    LIMITS,
    REQUIRED_FIELDS,
    Reason,
    check_line,
    validate_event,
)
from schemas.contract import CONTENT_TYPES, DEVICE_TYPES, ERROR_CATEGORIES, field_kind
from schemas.tables import arrow_event_schema, spark_event_schema

SPEC = Path(__file__).resolve().parents[3] / "shared" / "spec" / "player-events.md"


def base_event(**changes: object) -> dict:
    event = {
        "schema_version": 1,
        "event_id": str(uuid.UUID(int=7, version=4)),
        "event_type": "heartbeat",
        "event_ts": 1_700_000_000_000,
        "seq": 3,
        "viewer_id": "viewer-1",
        "play_session_id": "ps-1",
        "content_id": "title-1",
        "content_type": "vod",
    }
    event.update(changes)
    return {k: v for k, v in event.items() if v is not None}


def reasons(event: object) -> set[tuple[str, str]]:
    return {(v.field, str(v.reason)) for v in validate_event(event)}


def test_minimal_event_is_valid() -> None:
    assert validate_event(base_event()) == []


@pytest.mark.parametrize("name", REQUIRED_FIELDS)
def test_each_required_field(name: str) -> None:
    event = base_event()
    del event[name]
    assert reasons(event) == {(name, "missing_field")}


def test_every_violation_is_reported_not_only_the_first() -> None:
    event = base_event(seq=-1, content_type="film", bitrate_kbps="high", extra_thing=1)
    del event["viewer_id"]
    assert reasons(event) == {
        ("seq", "out_of_range"),
        ("content_type", "invalid_value"),
        ("bitrate_kbps", "wrong_type"),
        ("extra_thing", "unknown_field"),
        ("viewer_id", "missing_field"),
    }


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_event_type_of_the_spec_is_known(event_type: str) -> None:
    extra = {
        "error": {"error_code": "E", "error_message": "m", "error_fatal": False},
        "ad_break_start": {"ad_break_id": "b"},
        "ad_break_end": {"ad_break_id": "b"},
        "ad_start": {"ad_id": "a", "ad_break_id": "b"},
        "ad_end": {"ad_id": "a", "ad_break_id": "b"},
    }.get(event_type, {})
    assert validate_event(base_event(event_type=event_type, **extra)) == []


def test_unknown_event_type() -> None:
    assert reasons(base_event(event_type="stall")) == {("event_type", "unknown_event_type")}


@pytest.mark.parametrize(
    ("name", "allowed"),
    [("content_type", CONTENT_TYPES), ("device_type", DEVICE_TYPES), ("error_category", ERROR_CATEGORIES)],
)
def test_enums(name: str, allowed: tuple[str, ...]) -> None:
    for value in allowed:
        assert validate_event(base_event(**{name: value})) == []
    assert reasons(base_event(**{name: "other-thing"})) == {(name, "invalid_value")}


def test_enum_values_match_the_spec() -> None:
    assert CONTENT_TYPES == ("vod", "live")
    assert DEVICE_TYPES == ("tv", "mobile", "tablet", "desktop", "console", "other")
    assert ERROR_CATEGORIES == ("technical", "business")


@pytest.mark.parametrize("name", [n for n in EVENT_FIELDS if field_kind(n) == "integer" and n != "schema_version"])
def test_integer_fields_reject_strings_floats_and_bools(name: str) -> None:
    for bad in ("12", 1.0, 1.5, True):
        assert (name, "wrong_type") in reasons(base_event(**{name: bad})), bad
    assert (name, "out_of_range") in reasons(base_event(**{name: -1}))


@pytest.mark.parametrize("name", [n for n in EVENT_FIELDS if field_kind(n) == "string"])
def test_string_fields_reject_numbers(name: str) -> None:
    assert (name, "wrong_type") in reasons(base_event(**{name: 5}))


def test_boolean_field() -> None:
    err = {"event_type": "error", "error_code": "E", "error_message": "m"}
    assert validate_event(base_event(**err, error_fatal=True)) == []
    assert reasons(base_event(**err, error_fatal="yes")) == {("error_fatal", "wrong_type")}


def test_schema_version_must_be_1() -> None:
    assert reasons(base_event(schema_version=2)) == {("schema_version", "unsupported_schema_version")}


def test_event_id_must_be_a_uuid() -> None:
    assert reasons(base_event(event_id="not-a-uuid")) == {("event_id", "invalid_format")}


def test_country_is_iso_alpha2() -> None:
    assert validate_event(base_event(country="DE")) == []
    for bad in ("de", "DEU", "D"):
        assert reasons(base_event(country=bad)) == {("country", "invalid_format")}


def test_error_events_need_code_message_and_fatal() -> None:
    assert reasons(base_event(event_type="error")) == {
        ("error_code", "missing_field"),
        ("error_message", "missing_field"),
        ("error_fatal", "missing_field"),
    }


def test_ad_events_need_their_ids() -> None:
    assert reasons(base_event(event_type="ad_break_start")) == {("ad_break_id", "missing_field")}
    assert reasons(base_event(event_type="ad_end", ad_break_id="b")) == {("ad_id", "missing_field")}


def test_string_length_limits() -> None:
    n = LIMITS.max_string_chars
    assert n == 1024
    assert validate_event(base_event(cdn="x" * n)) == []
    assert reasons(base_event(cdn="x" * (n + 1))) == {("cdn", "string_too_long")}


def test_error_message_has_its_own_limit() -> None:
    err = {"event_type": "error", "error_code": "E", "error_fatal": True}
    assert LIMITS.max_error_message_chars == 4096
    assert validate_event(base_event(**err, error_message="m" * 4096)) == []
    assert reasons(base_event(**err, error_message="m" * 4097)) == {("error_message", "string_too_long")}


def test_custom_limits() -> None:
    ok = {f"k{i}": "v" for i in range(LIMITS.max_custom_keys)}
    assert validate_event(base_event(custom=ok)) == []
    too_many = {f"k{i}": "v" for i in range(LIMITS.max_custom_keys + 1)}
    assert reasons(base_event(custom=too_many)) == {("custom", "too_many_custom_keys")}
    assert reasons(base_event(custom={"k": 1})) == {("custom.k", "wrong_type")}
    assert reasons(base_event(custom={"k": "v" * 1025})) == {("custom.k", "string_too_long")}
    assert reasons(base_event(custom="a=b")) == {("custom", "wrong_type")}


def test_event_size_limit_is_16_kib_serialised() -> None:
    assert LIMITS.max_event_bytes == 16 * 1024
    custom = {f"k{i:02d}": "v" * 1000 for i in range(17)}  # ~17 KB, each value within limits
    assert reasons(base_event(custom=custom)) == {("", "event_too_large")}
    line = orjson.dumps(base_event())
    event, violations = check_line(line + b" " * (LIMITS.max_event_bytes - len(line) + 1))
    assert event is not None and [v.reason for v in violations] == [Reason.event_too_large]


def test_lines_that_are_not_events() -> None:
    event, violations = check_line(b'{"event_id": ')
    assert event is None and [v.reason for v in violations] == [Reason.malformed_json]
    event, violations = check_line(b"[1, 2]")
    assert event is None and [v.reason for v in violations] == [Reason.not_an_object]
    event, violations = check_line(orjson.dumps(base_event()) + b"\n")
    assert event == base_event() and violations == []


def test_derived_spark_and_arrow_schemas_follow_the_json_schema() -> None:
    spark = spark_event_schema()
    arrow = arrow_event_schema(nullable_required=False)
    assert tuple(f.name for f in spark.fields) == EVENT_FIELDS
    assert tuple(arrow.names) == EVENT_FIELDS
    kinds = {"integer": "bigint", "string": "string", "boolean": "boolean", "object": "map<string,string>"}
    assert {f.name: f.dataType.simpleString() for f in spark.fields} == {
        name: kinds[field_kind(name)] for name in EVENT_FIELDS
    }
    assert {f.name for f in arrow if not f.nullable} == set(REQUIRED_FIELDS)


@pytest.mark.skipif(not SPEC.exists(), reason=f"the shared spec is not beside the repo at {SPEC}")
def test_schema_agrees_with_the_spec_page() -> None:
    """player-events.md: 'The machine-readable form ... must agree with this page'."""
    text = SPEC.read_text(encoding="utf-8")
    envelope = text.split("## Envelope", 1)[1].split("## Event types", 1)[0]
    spec_fields: set[str] = set()
    spec_required: set[str] = set()
    for row in re.findall(r"^\| (`.+?) \| .+? \| (.+?) \|", envelope, flags=re.M):
        names = re.findall(r"`([a-z_]+)`", row[0])
        spec_fields.update(names)
        if row[1].strip() == "yes":
            spec_required.update(names)
    assert spec_fields == set(EVENT_FIELDS)
    assert spec_required == set(REQUIRED_FIELDS)
    types_section = text.split("## Event types", 1)[1].split("## Time", 1)[0]
    spec_types = set(re.findall(r"`([a-z_]+)`", types_section)) - {"event_type", "bitrate_kbps", "video_width",
                                                                  "video_height", "error_fatal", "playhead_ms",
                                                                  "buffer_ms"}
    assert spec_types == set(EVENT_TYPES)


# --- null (player-events.md, Envelope, clarified 2026-12-07) ---------------------------

OPTIONAL_FIELDS = [name for name in EVENT_FIELDS if name not in REQUIRED_FIELDS]


def _with_nulls(**fields: object) -> dict:
    return {**base_event(), **fields}  # base_event drops Nones: set them after it


@pytest.mark.parametrize("name", OPTIONAL_FIELDS)
def test_an_optional_field_that_is_null_is_absent(name: str) -> None:
    assert validate_event(_with_nulls(**{name: None})) == []
    event, violations = check_line(orjson.dumps(_with_nulls(**{name: None})))
    assert violations == [] and event == base_event()  # its readers see it absent


@pytest.mark.parametrize("name", REQUIRED_FIELDS)
def test_a_required_field_that_is_null_is_missing(name: str) -> None:
    assert reasons(_with_nulls(**{name: None})) == {(name, "missing_field")}


def test_fields_required_by_the_event_type_that_are_null_are_missing() -> None:
    error = _with_nulls(event_type="error", error_code=None, error_message="m", error_fatal=None)
    assert reasons(error) == {("error_code", "missing_field"), ("error_fatal", "missing_field")}
    ad = _with_nulls(event_type="ad_start", ad_id=None, ad_break_id="b")
    assert reasons(ad) == {("ad_id", "missing_field")}


def test_the_json_schema_alone_says_the_same_of_nulls() -> None:
    """A third party validating with the schema file and any Draft 2020-12 validator
    (no ottlake code) accepts and rejects the same null events."""
    from jsonschema import Draft202012Validator

    from schemas import event_schema

    plain = Draft202012Validator(event_schema())
    assert plain.is_valid(_with_nulls(**dict.fromkeys(OPTIONAL_FIELDS)))
    for name in REQUIRED_FIELDS:
        assert not plain.is_valid(_with_nulls(**{name: None})), name
    for name in ("error_code", "error_message", "error_fatal"):
        error = _with_nulls(event_type="error", error_code="E", error_message="m", error_fatal=True)
        assert plain.is_valid(error)
        assert not plain.is_valid({**error, name: None}), name
    for name in ("ad_id", "ad_break_id"):
        ad = _with_nulls(event_type="ad_end", ad_id="a", ad_break_id="b")
        assert plain.is_valid(ad)
        assert not plain.is_valid({**ad, name: None}), name
