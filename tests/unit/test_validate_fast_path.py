"""The validator's fast path (the schema compiled by fastjsonschema) agrees with jsonschema:
every vector of the bronze agreement table, and random events, get the same violations
from `validate_event` as from the full jsonschema pass; a fast "valid" is never wrong."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.contract import EVENT_FIELDS
from schemas.validate import _fast_valid, full_violations, validate_event
from tests.unit.test_bronze_contract import BASE, ERROR, FULL, VECTORS


def both(event: Any) -> tuple[list, list]:
    if not isinstance(event, dict):
        return validate_event(event), validate_event(event)
    return validate_event(event), full_violations(event)


def test_the_fast_path_takes_the_valid_vectors() -> None:
    assert _fast_valid(dict(BASE)) and _fast_valid({**BASE, **FULL}) and _fast_valid({**BASE, **ERROR})


def test_every_vector_gets_the_same_violations() -> None:
    checked = 0
    for name, line, _expected in VECTORS:
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        fast, full = both(event)
        assert fast == full, name
        checked += 1
    assert checked > 100


values = st.one_of(st.none(), st.booleans(), st.integers(-(2**64), 2**64), st.floats(allow_nan=False, allow_infinity=False),
                   st.text(max_size=12), st.sampled_from(["vod", "live", "tv", "error", "DE", "de", "DE\n",
                                                         "6f1c1d2e-0000-4000-8000-000000000001\n"]),
                   st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=3))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(EVENT_FIELDS), values, max_size=6), st.booleans())
def test_random_changes_get_the_same_violations(changes: dict, from_full: bool) -> None:
    event = {**BASE, **(FULL if from_full else {}), **changes}
    fast, full = both(event)
    assert fast == full
