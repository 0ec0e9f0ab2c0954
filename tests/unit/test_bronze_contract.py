"""Bronze's line check (EventCheck) and the Python validator reject the same lines, for the same
reasons, field by field.

One table of vectors (raw NDJSON lines with the exact set of (field, reason) each
must give) goes through `schemas.validate` (after the unknown-field rule of
player-events.md, Envelope, written below in Python: the reference the collector is
to implement) and through bronze's `check_lines` in one Spark job. Random events
then check the two engines against each other beyond the table.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pyspark.sql import functions as F

from schemas.contract import EVENT_FIELDS, LIMITS, REQUIRED_FIELDS, E
from schemas.validate import Reason, check_line, fold_unknown_fields, validate_event

ORIGIN_MS = 1_772_366_400_000  # 2026-03-01T12:00:00Z
OBJECT_TS_MS = ORIGIN_MS + 1_000
DROP = object()  # a change that removes the field
_UUID = "6f1c1d2e-0000-4000-8000-000000000001"
BASE: dict[str, Any] = {
    E.schema_version: 1,
    E.event_id: _UUID,
    E.event_type: "heartbeat",
    E.event_ts: ORIGIN_MS,
    E.received_ts: ORIGIN_MS + 500,
    E.seq: 3,
    E.viewer_id: "viewer-1",
    E.play_session_id: "ps-1",
    E.content_id: "title-1",
    E.content_type: "vod",
}
FULL = {
    E.sent_ts: ORIGIN_MS + 20,
    E.content_duration_ms: 3_600_000,
    E.content_title: "Film",
    E.series_id: "s-1",
    E.player_name: "shaka",
    E.player_version: "4.7.1",
    E.sdk_version: "0.1.0",
    E.app_version: "2.3",
    E.device_type: "tv",
    E.os_name: "tizen",
    E.os_version: "17",
    E.device_model: "QE55",
    E.cdn: "akamai",
    E.connection_type: "wifi",
    E.country: "DE",
    E.isp: "isp",
    E.playhead_ms: 0,
    E.bitrate_kbps: 4500,
    E.video_width: 1920,
    E.video_height: 1080,
    E.player_width: 1920,
    E.player_height: 1080,
    E.buffer_ms: 9000,
    E.dropped_frames: 0,
    E.error_category: "technical",
    E.custom: {"ab": "b"},
}
ERROR = {E.event_type: "error", E.error_code: "E1", E.error_message: "m", E.error_fatal: True}


def line(*, ascii_only: bool = False, spaced: bool = False, **changes: Any) -> str:
    """BASE with `changes` (DROP removes a field), as one compact NDJSON line."""
    event = {**BASE}
    for name, value in changes.items():
        if value is DROP:
            event.pop(name, None)
        else:
            event[name] = value
    separators = (", ", ": ") if spaced else (",", ":")
    return json.dumps(event, separators=separators, ensure_ascii=ascii_only)


def keys(count: int, *, value: str = "v") -> dict[str, str]:
    return {f"k{i:02d}": value for i in range(count)}


def V(*pairs: tuple[str, Reason]) -> set[tuple[str, str]]:
    return {(field, str(reason)) for field, reason in pairs}


R = Reason
WHOLE = ""
OPTIONAL_FIELDS = tuple(name for name in EVENT_FIELDS if name not in REQUIRED_FIELDS)
VECTORS: list[tuple[str, str, set[tuple[str, str]]]] = [
    # valid
    ("minimal", line(), set()),
    ("every_field", line(**FULL), set()),
    ("error_event", line(**ERROR), set()),
    ("ad_start", line(event_type="ad_start", ad_id="a", ad_break_id="b"), set()),
    ("ad_break_end", line(event_type="ad_break_end", ad_break_id="b"), set()),
    ("custom_at_max_keys", line(custom=keys(LIMITS.max_custom_keys)), set()),
    ("string_at_max_chars", line(cdn="x" * LIMITS.max_string_chars), set()),
    ("multibyte_string_at_max_chars", line(cdn="é" * LIMITS.max_string_chars), set()),
    ("error_message_at_max", line(**{**ERROR, E.error_message: "m" * LIMITS.max_error_message_chars}), set()),
    ("spaced_json", line(spaced=True, **FULL), set()),
    ("crlf", line() + "\r", set()),
    ("crlf_at_the_limit", line() + " " * (LIMITS.max_event_bytes - len(line())) + "\r", set()),
    ("unicode_escapes", line(ascii_only=True, content_title="é \u2028 😀"), set()),
    ("escaped_backslash_before_u", line(content_title="\\ud800 \\"), set()),
    ("nested_1024_deep", line()[:-1] + ',"cdn":' + "[" * 1023 + "]" * 1023 + "}", V((E.cdn, R.wrong_type))),
    ("large_finite_numbers", line()[:-1] + ',"page":1e308,"n":' + "9" * 300 + "}", set()),
    ("duplicate_key_last_wins", line()[:-1] + ',"seq":4}', set()),
    ("unknown_string_field", line(page="home"), set()),
    ("unknown_fields_of_every_kind", line(n=5, o={"k": [1, 2]}, z=None, t=True, custom={"a": "b"}), set()),
    ("country_with_final_newline", line(country="DE\n"), set()),  # re.search's "$", in both engines
    ("u64_max_as_event_ts_is_float", line(event_ts=2**64), V((E.event_ts, R.wrong_type))),
    # not events
    ("truncated", '{"event_id": ', V((WHOLE, R.malformed_json))),
    ("empty_line", "", V((WHOLE, R.malformed_json))),
    ("trailing_garbage", line() + " x", V((WHOLE, R.malformed_json))),
    ("two_objects_glued", line() + line(), V((WHOLE, R.malformed_json))),
    ("nan", line(bitrate_kbps=float("nan")), V((WHOLE, R.malformed_json))),
    ("single_quotes", "{'seq': 1}", V((WHOLE, R.malformed_json))),
    # what orjson refuses and a lenient reader would take
    ("byte_order_mark", "\ufeff" + line(), V((WHOLE, R.malformed_json))),
    ("nul_bytes", "{\x00}\x00", V((WHOLE, R.malformed_json))),
    ("lone_high_surrogate_escape", line()[:-1] + ',"cdn":"a\\ud800b"}', V((WHOLE, R.malformed_json))),
    ("lone_low_surrogate_escape", line()[:-1] + ',"page":"\\udc00"}', V((WHOLE, R.malformed_json))),
    ("high_surrogate_escape_at_the_end", line()[:-1] + ',"cdn":"\\ud83d"}', V((WHOLE, R.malformed_json))),
    ("infinite_float", line()[:-1] + ',"bitrate_kbps":1e400}', V((WHOLE, R.malformed_json))),
    ("infinite_integer", line()[:-1] + ',"page":' + "9" * 400 + "}", V((WHOLE, R.malformed_json))),
    ("infinite_number_deep_in_custom", line()[:-1] + ',"custom":{"k":[[-1e400]]}}', V((WHOLE, R.malformed_json))),
    ("nested_1025_deep", line()[:-1] + ',"page":' + "[" * 1024 + "]" * 1024 + "}", V((WHOLE, R.malformed_json))),
    ("array", "[1, 2]", V((WHOLE, R.not_an_object))),
    ("string", '"text"', V((WHOLE, R.not_an_object))),
    ("null", "null", V((WHOLE, R.not_an_object))),
    ("number", "42", V((WHOLE, R.not_an_object))),
    # required fields
    *((f"missing_{name}", line(**{name: DROP}), V((name, R.missing_field))) for name in BASE if name != E.received_ts),
    (
        "error_without_its_fields",
        line(event_type="error"),
        V((E.error_code, R.missing_field), (E.error_message, R.missing_field), (E.error_fatal, R.missing_field)),
    ),
    ("ad_break_start_without_break_id", line(event_type="ad_break_start"), V((E.ad_break_id, R.missing_field))),
    ("ad_end_without_ad_id", line(event_type="ad_end", ad_break_id="b"), V((E.ad_id, R.missing_field))),
    # player-events.md, Envelope (clarified 2026-12-07): a null is read as absent, so a
    # required field that is null is missing and an optional one is simply not there.
    ("error_with_null_code", line(**{**ERROR, E.error_code: None}), V((E.error_code, R.missing_field))),
    ("error_with_null_fatal", line(**{**ERROR, E.error_fatal: None}), V((E.error_fatal, R.missing_field))),
    ("ad_start_with_null_ids", line(event_type="ad_start", ad_id=None, ad_break_id=None),
     V((E.ad_id, R.missing_field), (E.ad_break_id, R.missing_field))),
    *((f"required_{name}_null", line(**{name: None}), V((name, R.missing_field))) for name in REQUIRED_FIELDS),
    *((f"optional_{name}_null", line(**{name: None}), set()) for name in OPTIONAL_FIELDS),
    ("every_optional_field_null", line(**dict.fromkeys(OPTIONAL_FIELDS)), set()),
    ("a_value_then_null_is_absent", line()[:-1] + ',"cdn":"akamai","cdn":null}', set()),
    ("null_then_a_value", line()[:-1] + ',"cdn":null,"cdn":"akamai"}', set()),
    ("required_value_then_null", line()[:-1] + ',"seq":null}', V((E.seq, R.missing_field))),
    # types
    ("int_as_string", line(event_ts="12"), V((E.event_ts, R.wrong_type))),
    ("int_as_whole_float", line(seq=1.0), V((E.seq, R.wrong_type))),
    ("int_as_float", line(seq=1.5), V((E.seq, R.wrong_type))),
    ("int_as_bool", line(seq=True), V((E.seq, R.wrong_type))),
    (
        "negative_float_in_int",
        line(bitrate_kbps=-1.5),
        V((E.bitrate_kbps, R.wrong_type), (E.bitrate_kbps, R.out_of_range)),
    ),
    ("huge_negative_int", line(buffer_ms=-(10**20)), V((E.buffer_ms, R.wrong_type), (E.buffer_ms, R.out_of_range))),
    ("string_as_number", line(cdn=5), V((E.cdn, R.wrong_type))),
    ("string_as_numeric_float", line(os_version=17.2), V((E.os_version, R.wrong_type))),
    ("string_as_bool", line(cdn=True), V((E.cdn, R.wrong_type))),
    ("string_as_object", line(cdn={"a": 1}), V((E.cdn, R.wrong_type))),
    ("string_as_empty_object", line(cdn={}), V((E.cdn, R.wrong_type))),
    ("string_as_array", line(cdn=["x"]), V((E.cdn, R.wrong_type))),
    ("bool_as_string", line(**{**ERROR, E.error_fatal: "yes"}), V((E.error_fatal, R.wrong_type))),
    ("custom_as_string", line(custom="a=b"), V((E.custom, R.wrong_type))),
    ("custom_as_array", line(custom=[]), V((E.custom, R.wrong_type))),
    ("custom_value_number", line(custom={"k": 1, "ok": "v"}), V(("custom.k", R.wrong_type))),
    ("custom_value_null", line(custom={"k": None}), V(("custom.k", R.wrong_type))),
    ("custom_value_object", line(custom={"k": {"x": "y" * 2000}}), V(("custom.k", R.wrong_type))),
    # objects with duplicate keys (Python's dict keeps the last value; so does EventCheck)
    ("string_as_object_with_duplicate_keys", line()[:-1] + ',"cdn":{"a":1,"a":2}}', V((E.cdn, R.wrong_type))),
    ("int_as_object_with_duplicate_keys", line()[:-1] + ',"buffer_ms":{"a":1,"a":2}}', V((E.buffer_ms, R.wrong_type))),
    (
        "custom_value_object_with_duplicate_keys",
        line()[:-1] + ',"custom":{"j":"{v","k":{"x":1,"x":2}}}',
        V(("custom.k", R.wrong_type)),
    ),
    ("custom_with_duplicate_keys", line()[:-1] + ',"custom":{"k":1,"k":"v"}}', set()),
    ("unknown_field_twice", line()[:-1] + ',"page":1,"page":"b"}', set()),
    ("unknown_field_twice_and_custom_duplicates", line()[:-1] + ',"custom":{"a":"1","a":"2"},"page":"x"}', set()),
    # values
    ("schema_version_2", line(schema_version=2), V((E.schema_version, R.unsupported_schema_version))),
    (
        "schema_version_string",
        line(schema_version="1"),
        V((E.schema_version, R.wrong_type), (E.schema_version, R.unsupported_schema_version)),
    ),
    ("schema_version_whole_float", line(schema_version=1.0), V((E.schema_version, R.wrong_type))),
    (
        "schema_version_true",
        line(schema_version=True),
        V((E.schema_version, R.wrong_type), (E.schema_version, R.unsupported_schema_version)),
    ),
    ("unknown_event_type", line(event_type="stall"), V((E.event_type, R.unknown_event_type))),
    ("event_type_number", line(event_type=5), V((E.event_type, R.wrong_type), (E.event_type, R.unknown_event_type))),
    ("content_type_film", line(content_type="film"), V((E.content_type, R.invalid_value))),
    # a string written with escapes is the same value as written plainly (EventCheck
    # reads plain ASCII as a slice of the line, the rest through Jackson's decoding)
    ("escaped_enum_value", line().replace('"vod"', '"vo\\u0064"'), set()),
    ("escaped_uuid", line().replace(_UUID, _UUID.replace("-4000-", "-\\u0034000-")), set()),
    ("escaped_const", line(**FULL).replace('"technical"', '"t\\u0065chnical"'), set()),
    ("enum_value_with_a_raw_del", line(content_type="vod\x7f"), V((E.content_type, R.invalid_value))),
    ("enum_value_with_an_escaped_tab", line(content_type="vod\t"), V((E.content_type, R.invalid_value))),
    ("device_type_watch", line(device_type="watch"), V((E.device_type, R.invalid_value))),
    ("error_category_other", line(error_category="other"), V((E.error_category, R.invalid_value))),
    ("empty_viewer_id", line(viewer_id=""), V((E.viewer_id, R.empty_string))),
    ("string_too_long", line(cdn="x" * (LIMITS.max_string_chars + 1)), V((E.cdn, R.string_too_long))),
    ("multibyte_too_long", line(cdn="é" * (LIMITS.max_string_chars + 1)), V((E.cdn, R.string_too_long))),
    (
        "error_message_too_long",
        line(**{**ERROR, E.error_message: "m" * (LIMITS.max_error_message_chars + 1)}),
        V((E.error_message, R.string_too_long)),
    ),
    ("event_id_not_a_uuid", line(event_id="not-a-uuid"), V((E.event_id, R.invalid_format))),
    # The UUID pattern's edges (EventCheck.FixedShape matches it by hand; re.search decides).
    ("event_id_upper_case", line(event_id="6F1C1D2E-0000-4000-8000-00000000000A"), set()),
    ("event_id_with_final_newline", line(event_id=f"{_UUID}\n"), set()),
    *(
        (f"event_id_{name}", line(event_id=text), V((E.event_id, R.invalid_format)))
        for name, text in {
            "with_two_final_newlines": f"{_UUID}\n\n",
            "with_final_carriage_return": f"{_UUID}\r",
            "one_digit_short": _UUID[:-1],
            "one_digit_long": f"{_UUID}2",
            "dash_misplaced": "6f1c1d2e0-000-4000-8000-000000000001",
            "not_hex": "6f1c1d2g-0000-4000-8000-000000000001",
            "arabic_indic_digit": f"{_UUID[:-1]}\u0663",
            "fullwidth_digit": f"{_UUID[:-1]}\uff11",
            "inner_newline": f"{_UUID[:-4]}\n{_UUID[-4:]}",
            "leading_space": f" {_UUID}",
        }.items()
    ),
    ("country_with_two_final_newlines", line(country="DE\n\n"), V((E.country, R.invalid_format))),
    ("country_lower_case", line(country="de"), V((E.country, R.invalid_format))),
    ("country_alpha3", line(country="DEU"), V((E.country, R.invalid_format))),
    ("negative_seq", line(seq=-1), V((E.seq, R.out_of_range))),
    # custom's limits, after unknown fields moved in
    ("too_many_custom_keys", line(custom=keys(LIMITS.max_custom_keys + 1)), V((E.custom, R.too_many_custom_keys))),
    ("custom_key_too_long", line(custom={"k" * 1025: "v"}), V((E.custom, R.string_too_long))),
    ("custom_value_too_long", line(custom={"k": "v" * 1025}), V(("custom.k", R.string_too_long))),
    (
        "unknown_field_tips_custom_over",
        line(custom=keys(LIMITS.max_custom_keys), page="home"),
        V((E.custom, R.too_many_custom_keys)),
    ),
    ("unknown_field_too_long", line(page="p" * 1025), V(("custom.page", R.string_too_long))),
    ("unknown_field_collides", line(custom={"page": "a"}, page="b"), V(("custom.page", R.invalid_value))),
    ("unknown_field_and_custom_not_object", line(custom="a=b", page="b"), V((E.custom, R.wrong_type))),
    # size, in bytes as received
    ("too_large", line(custom=keys(17, value="v" * 1000)), V((WHOLE, R.event_too_large))),
    ("too_large_in_bytes_not_chars", line(custom=keys(9, value="é" * 1000)), V((WHOLE, R.event_too_large))),
    ("padded_past_the_limit", line() + " " * LIMITS.max_event_bytes, V((WHOLE, R.event_too_large))),
    # everything at once
    (
        "every_violation_reported",
        line(seq=-1, content_type="film", bitrate_kbps="high", extra=1, viewer_id=DROP),
        V(
            (E.seq, R.out_of_range),
            (E.content_type, R.invalid_value),
            (E.bitrate_kbps, R.wrong_type),
            (E.viewer_id, R.missing_field),
        ),
    ),
]
# Where the engines cannot agree: integers of 2^63..2^64-1 are ints to orjson (and
# valid to the schema, which has no maximum), but do not fit bronze's long columns.
DIVERGENCES: list[tuple[str, str, set[tuple[str, str]], set[tuple[str, str]]]] = [
    ("event_ts_beyond_long", line(event_ts=2**63), set(), V((E.event_ts, R.wrong_type))),
]


def python_reasons(raw: str) -> set[tuple[str, str]]:
    event, violations = check_line(raw)
    if event is None:
        return {(v.field, str(v.reason)) for v in violations}
    folded, clashes = fold_unknown_fields(event)
    size = len(raw.encode("utf-8").rstrip(b"\r\n"))
    return {(v.field, str(v.reason)) for v in [*validate_event(folded, size_bytes=size), *clashes]}


def checked_rows(spark, lines: list[str], *columns: str) -> list[Any]:
    """`columns` of bronze's check of each line, in the lines' order, in one Spark job."""
    from datetime import UTC, datetime

    from spark_jobs.transforms.bronze import check_lines

    raw = spark.createDataFrame(
        [(text, f"{number:05d}", OBJECT_TS_MS) for number, text in enumerate(lines)],
        "line string, source_object string, object_ts_ms long",
    )
    checked = check_lines(raw, ingest_ts=datetime(2026, 3, 2, tzinfo=UTC))
    found = {row.source_object: row for row in checked.select("source_object", *columns).collect()}
    return [found[f"{number:05d}"] for number in range(len(lines))]


def spark_reasons(spark, lines: list[str]) -> list[set[tuple[str, str]]]:
    """The violations bronze finds on each line, in order, in one Spark job."""
    return [{(v.field, v.reason) for v in row.violations} for row in checked_rows(spark, lines, "violations")]


@pytest.fixture(scope="module")
def bronze_found(spark) -> dict[str, set[tuple[str, str]]]:
    table = [*VECTORS, *((name, text, spark_side) for name, text, _, spark_side in DIVERGENCES)]
    return dict(zip([name for name, _, _ in table], spark_reasons(spark, [text for _, text, _ in table]), strict=True))


def test_vector_names_are_unique() -> None:
    names = [name for name, _, _ in VECTORS] + [name for name, *_ in DIVERGENCES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(("name", "text", "expected"), VECTORS, ids=[name for name, _, _ in VECTORS])
def test_python_validator(name: str, text: str, expected: set[tuple[str, str]]) -> None:
    assert python_reasons(text) == expected


@pytest.mark.parametrize(("name", "text", "expected"), VECTORS, ids=[name for name, _, _ in VECTORS])
def test_bronze_rules(bronze_found, name: str, text: str, expected: set[tuple[str, str]]) -> None:
    assert bronze_found[name] == expected


def test_every_reason_but_unknown_field_is_in_the_table() -> None:
    """Bronze never reports unknown_field: unknown fields move into custom."""
    reasons = {reason for _, _, expected in VECTORS for _, reason in expected}
    time_reasons = {R.future_timestamp, R.too_late}  # decided at ingest: tests/unit/test_bronze.py
    assert reasons == {str(r) for r in Reason} - {str(R.unknown_field)} - {str(r) for r in time_reasons}


@pytest.mark.parametrize(("name", "text", "python_side", "spark_side"), DIVERGENCES, ids=[d[0] for d in DIVERGENCES])
def test_known_divergences(bronze_found, name: str, text: str, python_side, spark_side) -> None:
    assert python_reasons(text) == python_side
    assert bronze_found[name] == spark_side


# --- random events: the two engines against each other -----------------------------

_ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(["", "vod", "error", "DE", "x" * 1025, "6f1c1d2e-0000-4000-8000-00000000000a"]),
    st.dictionaries(st.text(max_size=3), st.one_of(st.text(max_size=3), st.integers(), st.none()), max_size=3),
    st.lists(st.integers(), max_size=2),
)


@st.composite
def mutated_events(draw: st.DrawFn) -> str:
    """FULL and BASE with a few fields removed, retyped or added."""
    event: dict[str, Any] = {**BASE, **draw(st.sampled_from([{}, FULL, ERROR]))}
    for name in draw(st.lists(st.sampled_from(sorted(event)), max_size=3)):
        event.pop(name, None)
    for name in draw(st.lists(st.sampled_from([*EVENT_FIELDS, "page", "extra_1"]), max_size=3)):
        event[name] = draw(_ODD_VALUES)
    return json.dumps(event, ensure_ascii=draw(st.booleans()))


# No shrinking: every step would be a Spark job. A failure shows the lines that differ.
@settings(
    max_examples=3,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(mutated_events(), min_size=40, max_size=40))
def test_random_events_get_the_same_reasons_from_both_engines(spark, lines: list[str]) -> None:
    python = [python_reasons(text) for text in lines]
    # The ingest window needs the server's clock: bronze decides it, the validator can't.
    ingest_only = V((E.event_ts, R.future_timestamp), (E.event_ts, R.too_late), (E.received_ts, R.out_of_range))
    bronze = [
        found - (ingest_only - expected) for found, expected in zip(spark_reasons(spark, lines), python, strict=True)
    ]
    assert [(text, found) for text, found in zip(lines, bronze, strict=True)] == list(zip(lines, python, strict=True))


# --- Unknown fields' values, as compact JSON text ------------------------------------

_NESTED = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


def moved_values(spark, events: list[dict[str, Any]]) -> list[dict[str, str] | None]:
    """custom as bronze's check leaves it, for each event written by orjson."""
    return [row[E.custom] for row in checked_rows(spark, [orjson.dumps(event).decode() for event in events], E.custom)]


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_NESTED, min_size=30, max_size=30))
def test_an_unknown_fields_value_moves_as_the_python_reference_writes_it(spark, values) -> None:
    """Any JSON value (nested, unicode, control characters, floats as orjson writes
    them) lands in custom as fold_unknown_fields above renders it."""
    events = [{**{str(name): value for name, value in BASE.items()}, "page": value} for value in values]
    expected = [fold_unknown_fields(event)[0][E.custom] for event in events]
    assert moved_values(spark, events) == expected


def test_strings_are_the_same_values_written_plainly_or_escaped(spark) -> None:
    """The typed columns hold the decoded string however the line wrote it: plain
    ASCII (a slice of the line), escapes, raw UTF-8 (Jackson's decoding)."""
    values = ["Film", "", "a\x7fb", 'say "hi"', "back\\slash", "tab\there", "é", "中文 😀", "\u2028", "/x/"]
    lines = [line(**{E.content_title: value, E.cdn: value[:1]}, ascii_only=ascii_only)
             for ascii_only in (True, False) for value in values]
    rows = checked_rows(spark, lines, E.content_title, E.cdn, E.content_type, "violations")
    assert [(row[E.content_title], row[E.cdn], row[E.content_type], row.violations) for row in rows] == [
        (value, value[:1], "vod", []) for _ in (True, False) for value in values]


def test_fields_in_any_order_give_the_same_row(spark) -> None:
    """EventCheck expects each line's fields in the order of the lines before it
    (a hint, Field.next): lines that change order, repeat a key or put unknown keys
    between known ones read exactly as their parsed JSON says."""
    import random

    event = {**BASE, **FULL, "page": "home"}
    orders = [list(event), list(reversed(event))]
    shuffler = random.Random(7)
    for _ in range(6):
        names = list(event)
        shuffler.shuffle(names)
        orders.append(names)
    lines = [json.dumps({name: event[name] for name in names}) for names in orders * 3]
    lines.insert(5, line()[:-1] + ',"seq":9,"seq":4}')  # a repeated key: the last value
    rows = checked_rows(spark, lines, *EVENT_FIELDS, "violations")
    expected = {name: event.get(name) for name in EVENT_FIELDS}
    expected[E.custom] = {**FULL[E.custom], "page": "home"}
    for n, (text, row) in enumerate(zip(lines, rows, strict=True)):
        assert row.violations == [], text
        if n == 5:
            assert row[E.seq] == 4
            continue
        assert {name: row[name] for name in EVENT_FIELDS} == expected, text


def test_optional_fields_that_are_null_land_as_null(spark) -> None:
    """player-events.md, Envelope: a live session's events with every optional field
    null are valid, and bronze's typed columns hold null for each (received_ts, set
    by ingest, is filled from the raw object's time as when it is absent)."""
    nulls = line(**dict.fromkeys(OPTIONAL_FIELDS), content_type="live")
    (row,) = checked_rows(spark, [nulls], *EVENT_FIELDS, "violations")
    assert row.violations == []
    assert {name: row[name] for name in OPTIONAL_FIELDS} == {
        **dict.fromkeys(OPTIONAL_FIELDS), E.received_ts: OBJECT_TS_MS}
    assert {name: row[name] for name in REQUIRED_FIELDS} == {
        name: "live" if name == E.content_type else BASE[name] for name in REQUIRED_FIELDS}


def test_a_schema_keyword_without_a_rule_is_refused(spark) -> None:
    from ottlake.errors import JobError
    from schemas.contract import event_schema
    from spark_jobs.transforms import contract_checks as checks

    schema = json.loads(json.dumps(event_schema()))
    schema["properties"][E.cdn]["format"] = "hostname"
    with pytest.raises(JobError, match=r"EventCheck: cdn: keyword format \"hostname\" has no rule"):
        checks.require(spark, schema=schema)
    schema = json.loads(json.dumps(event_schema()))
    schema["properties"][E.seq]["type"] = "number"
    with pytest.raises(JobError, match=r"seq: JSON type 'number' has no rule"):
        checks.require(spark, schema=schema)
    # EventCheck reads a null as absent: only the optional fields may admit it.
    schema = json.loads(json.dumps(event_schema()))
    schema["properties"][E.seq]["type"] = ["integer", "null"]
    with pytest.raises(JobError, match=r"seq is required and its type admits null"):
        checks.require(spark, schema=schema)
    schema = json.loads(json.dumps(event_schema()))
    schema["properties"][E.cdn]["type"] = "string"
    with pytest.raises(JobError, match=r"cdn is optional and its type does not admit null"):
        checks.require(spark, schema=schema)


@pytest.mark.parametrize("ascii_only", [True, False])  # "aé" escaped, or raw UTF-8
@pytest.mark.parametrize("pattern", [
    "^[a-c]{2}-[0-9]$",  # a fixed shape: matched by hand (EventCheck.FixedShape)
    "^x[A-Z0-9]{3}$",
    "^[a-c]{2,3}$",  # the rest: java.util.regex, as re.search reads them
    "^(ab|cd)$",
    "b[0-9]",
    "^a.$",
])
def test_patterns_are_searched_as_python_searches_them(spark, pattern, ascii_only) -> None:
    import re

    from schemas.contract import event_schema
    from spark_jobs.transforms import contract_checks as checks

    schema = json.loads(json.dumps(event_schema()))
    schema["properties"][E.cdn]["pattern"] = pattern
    values = ["ab-1", "ab-1\n", "ab-1\n\n", "abc-1", "ab-x", "xA1Z", "xa1Z", "ab", "abc", "abcd", "cd", "ab1",
              "zb7", "a\n", "aé", "", "ab-\u0661"]
    frame = spark.createDataFrame([(json.dumps({**BASE, E.cdn: value}, ensure_ascii=ascii_only), OBJECT_TS_MS)
                                   for value in values],
                                  "line string, ts long")
    rows = frame.select(checks.check(F.col("line"), F.col("ts"), schema=schema)[checks.VIOLATIONS].alias("v")).collect()
    flagged = [any(v["field"] == E.cdn for v in row.v) for row in rows]
    assert flagged == [re.search(pattern, value) is None for value in values]
