"""Property-based tests of the collector's two parsers (JSON bodies and CMCD reports):
no input crashes them (only a RequestError refuses a whole body), no invalid event is
ever accepted, and what is encoded decodes back to the same values. Then a bounded
coverage-guided fuzz run of both with atheris (tests/unit/fuzz_collector.py)."""

from __future__ import annotations

import string
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producers.collector.ingest import APP_ID_KEY, Limits, RequestError, ingest_cmcd, ingest_json
from producers.collector.sfv import (
    MAX_INTEGER,
    InnerList,
    Item,
    SfvError,
    Token,
    parse_dictionary,
    serialize_dictionary,
)
from schemas.contract import CONTENT_TYPES, DEVICE_TYPES, EVENT_TYPES
from schemas.validate import ingest_time_violations, validate_event

NOW = 1_796_000_000_000
LIMITS = Limits(max_body_bytes=1 << 20, max_events=500, max_event_bytes=1 << 16)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def accepted_are_valid(accepted: list[dict]) -> None:
    for event in accepted:
        assert validate_event(event) == [], event
        assert ingest_time_violations(event, NOW) == []
        assert event["received_ts"] == NOW and event["custom"][APP_ID_KEY] == "app"


def json_ingest(body: bytes):
    return ingest_json(body, limits=LIMITS, received_ms=NOW, app_id="app", user_agent=None)


def cmcd_ingest(body: bytes, viewer_id: str | None = "vw"):
    return ingest_cmcd(body, limits=LIMITS, received_ms=NOW, app_id="app", user_agent=None, viewer_id=viewer_id,
                       content_type=None)


# --- JSON ---------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
field_names = st.sampled_from(["schema_version", "event_id", "event_type", "event_ts", "seq", "viewer_id",
                               "play_session_id", "content_id", "content_type", "custom", "sent_ts", "cdn",
                               "error_fatal", "page"])


@st.composite
def valid_events(draw) -> dict:
    event = {
        "schema_version": 1,
        "event_id": str(draw(st.uuids())),
        "event_type": draw(st.sampled_from([t for t in EVENT_TYPES if not t.startswith("ad") and t != "error"])),
        "event_ts": NOW - draw(st.integers(0, 3_600_000)),
        "seq": draw(st.integers(0, 10_000)),
        "viewer_id": draw(st.text(string.ascii_letters, min_size=1, max_size=20)),
        "play_session_id": draw(st.text(string.ascii_letters + "-", min_size=1, max_size=40)),
        "content_id": draw(st.text(min_size=1, max_size=40)),
        "content_type": draw(st.sampled_from(CONTENT_TYPES)),
    }
    if draw(st.booleans()):
        event["device_type"] = draw(st.sampled_from(DEVICE_TYPES))
    if draw(st.booleans()):
        event["custom"] = draw(st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=20), max_size=5))
    return event


@FAST
@given(st.binary(max_size=400))
def test_json_never_crashes_on_bytes(body: bytes) -> None:
    try:
        outcome = json_ingest(body)
    except RequestError as refused:
        assert refused.status in (400, 413) and refused.reason
        return
    accepted_are_valid(outcome.accepted)


@FAST
@given(st.lists(st.one_of(json_values, valid_events(),
                          st.builds(lambda e, k, v: {**e, k: v}, valid_events(), field_names, json_values)),
                max_size=8))
def test_no_invalid_event_is_accepted(values: list) -> None:
    body = orjson.dumps(values, option=orjson.OPT_NON_STR_KEYS) if values else b"[]"
    try:
        outcome = json_ingest(body)
    except RequestError as refused:
        assert refused.reason in ("malformed_json", "empty_body", "event_too_large")
        return
    accepted_are_valid(outcome.accepted)
    assert len(outcome.accepted) + len(outcome.rejected) == len(values)
    assert all(r.reason for r in outcome.rejected)


@FAST
@given(st.lists(valid_events(), min_size=1, max_size=10), st.booleans())
def test_valid_events_round_trip_as_array_and_as_lines(events: list[dict], as_lines: bool) -> None:
    body = (b"\n".join(orjson.dumps(e) for e in events) if as_lines else orjson.dumps(events))
    outcome = json_ingest(body)
    assert outcome.rejected == []
    for sent, stored in zip(events, outcome.accepted, strict=True):
        expected = {**sent, "received_ts": NOW, "custom": {**sent.get("custom", {}), APP_ID_KEY: "app"}}
        assert stored == expected


# --- CMCD ---------------------------------------------------------------------------

keys = st.from_regex(r"\A[a-z*][a-z0-9_.*-]{0,8}\Z")
decimals = st.decimals(min_value=Decimal("-999999999999.999"), max_value=Decimal("999999999999.999"),
                       places=3, allow_nan=False, allow_infinity=False)
tokens = st.from_regex(r"\A[A-Za-z*][A-Za-z0-9!#$%&'*+.^_`|~:/-]{0,10}\Z").map(Token)
bare_items = st.one_of(st.integers(-MAX_INTEGER, MAX_INTEGER), decimals,
                       st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20), tokens,
                       st.binary(max_size=10), st.booleans())
params = st.dictionaries(keys, bare_items, max_size=2)
items = st.builds(Item, bare_items, params)
members = st.one_of(items, st.builds(InnerList, st.lists(items, max_size=3).map(tuple), params))
dictionaries = st.dictionaries(keys, members, max_size=6)


@FAST
@given(dictionaries)
def test_cmcd_encode_then_decode_round_trips(members: dict) -> None:
    assert parse_dictionary(serialize_dictionary(members)) == members


@FAST
@given(st.text(max_size=200))
def test_cmcd_parser_only_ever_says_malformed(text: str) -> None:
    try:
        parse_dictionary(text)
    except SfvError as refused:
        assert str(refused).startswith("at character")


@FAST
@given(st.lists(st.one_of(st.text(max_size=120), dictionaries.map(serialize_dictionary)), max_size=6))
def test_cmcd_bodies_never_crash_and_never_accept_an_invalid_event(lines: list[str]) -> None:
    body = "\n".join(lines).encode("utf-8", "surrogatepass")
    try:
        outcome = cmcd_ingest(body)
    except RequestError as refused:
        assert refused.status in (400, 413)
        return
    accepted_are_valid(outcome.accepted)


@FAST
@given(sid=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=30),
       cid=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=30),
       sn=st.integers(0, MAX_INTEGER), back_ms=st.integers(0, 3_600_000), state=st.sampled_from("spkraeq"),
       br=st.integers(0, 100_000), extra=st.dictionaries(st.from_regex(r"\Acom\.[a-z]{1,5}-[a-z]{1,5}\Z"),
                                                          st.integers(0, 9), max_size=3))
def test_a_report_maps_its_values_onto_the_event(sid, cid, sn, back_ms, state, br, extra) -> None:
    report = {"e": Item(Token("ps")), "sid": Item(sid), "cid": Item(cid), "sn": Item(sn), "ts": Item(NOW - back_ms),
              "sta": Item(Token(state)), "br": InnerList((Item(br, {"v": True}),)),
              **{key: Item(value) for key, value in extra.items()}}
    outcome = cmcd_ingest(serialize_dictionary(report).encode())
    assert [r.violations for r in outcome.rejected] == []
    (event,) = outcome.accepted
    assert (event["play_session_id"], event["content_id"], event["seq"], event["event_ts"], event["bitrate_kbps"]) == (
        sid, cid, sn, NOW - back_ms, br)
    assert {key: event["custom"][f"cmcd_{key}"] for key in extra} == {key: str(v) for key, v in extra.items()}


# --- a bounded fuzz run -------------------------------------------------------------


def test_atheris_fuzz_run_finds_no_crash() -> None:
    atheris = pytest.importorskip("atheris", reason="atheris did not install on this machine: fuzz run skipped")
    del atheris
    target = Path(__file__).with_name("fuzz_collector.py")
    run = subprocess.run([sys.executable, str(target), "-max_total_time=20", "-runs=200000", "-rss_limit_mb=2048"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert "Done" in run.stderr
