"""The contract's fast yes (jsonschema-rs) never says valid where jsonschema says not.

validate_event trusts jsonschema-rs only when it passes an event; these check, on
the simulator's events and on every kind of damage the contract names, that
whatever it passes jsonschema passes too, and that validate_event's violations
are jsonschema's own.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from producers.simulator import SimConfig, simulate
from schemas import validate
from schemas.contract import EVENT_FIELDS, field_kind

pytest.importorskip("jsonschema_rs")


def _slow(event: dict[str, Any]) -> list[Any]:
    present = validate.without_nulls(event)
    return sorted({v for error in validate._validator().iter_errors(present)
                   for v in validate._violations_of(error, event)})


@pytest.fixture(scope="module")
def simulated() -> list[dict[str, Any]]:
    sim = simulate(SimConfig(viewers=40, minutes=20, seed=5, start_ms=1_780_000_000_000))
    return [delivery.event for delivery in sim.deliveries]


def test_every_simulated_event_passes_both_ways(simulated: list[dict[str, Any]]) -> None:
    assert len(simulated) > 1_000
    assert {event["event_type"] for event in simulated} >= {"view_start", "playing", "heartbeat", "error"}
    for event in simulated:
        assert validate._surely_valid(validate.without_nulls(event)), event
        assert _slow(event) == []


# Values that break a field of each kind, among them those where the two libraries
# could differ: floats with integral values, bools for integers, a final newline
# before a pattern's `$`, integers beyond 64 bits, nesting, empty and long strings.
_DAMAGE: list[Any] = [None, True, False, 0, -1, 1.0, 2.5, 2**70, -(2**70), "", "x", "US\n", "us", "a" * 5000,
                      [], [1], {}, {"a": {"b": {"c": [1.0]}}}, str(uuid.uuid4()) + "\n"]


@given(index=st.integers(min_value=0), name=st.sampled_from(sorted(EVENT_FIELDS) + ["unknown_field"]),
       value=st.sampled_from(_DAMAGE))
@settings(max_examples=400, deadline=None)
def test_a_damaged_event_gets_jsonschemas_verdict(simulated_events: list[dict[str, Any]], index: int, name: str,
                                                  value: Any) -> None:
    event = copy.deepcopy(simulated_events[index % len(simulated_events)])
    event[name] = value
    slow = _slow(event)
    if validate._surely_valid(validate.without_nulls(event)):
        assert slow == [], (name, value, slow)
    found = set(validate.validate_event(event, size_bytes=0))  # the size rule is not the schema's
    assert found == set(slow)


@pytest.fixture(scope="module")
def simulated_events(simulated: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return simulated


def test_integer_fields_take_no_integral_float_by_either_path(simulated: list[dict[str, Any]]) -> None:
    integer_fields = [name for name in EVENT_FIELDS if field_kind(name) == "integer"]
    assert integer_fields
    for name in integer_fields:
        event = dict(simulated[0], **{name: 3.0})
        assert not validate._surely_valid(event)
        assert any(v.field == name for v in validate.validate_event(event)), name
