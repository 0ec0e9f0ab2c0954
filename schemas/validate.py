"""Validate events against the contract, reporting every violation with a reason.

The JSON Schema decides types, enums, required fields and lengths; the two rules a
JSON Schema cannot state (serialised size, and JSON that does not parse) are
checked here. Reasons are machine-readable codes, the same ones the collector
answers with and bronze writes to the quarantine.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

import orjson
from jsonschema import Draft202012Validator, ValidationError, validators

from schemas.contract import EVENT_FIELDS, LIMITS, event_schema


class Reason(StrEnum):
    malformed_json = "malformed_json"
    not_an_object = "not_an_object"
    event_too_large = "event_too_large"
    missing_field = "missing_field"
    wrong_type = "wrong_type"
    unknown_event_type = "unknown_event_type"
    invalid_value = "invalid_value"
    unsupported_schema_version = "unsupported_schema_version"
    string_too_long = "string_too_long"
    empty_string = "empty_string"
    too_many_custom_keys = "too_many_custom_keys"
    unknown_field = "unknown_field"
    invalid_format = "invalid_format"
    out_of_range = "out_of_range"
    # player-events.md, Time: decided at ingest, against the server clock.
    future_timestamp = "future_timestamp"
    too_late = "too_late"


@dataclass(frozen=True, order=True)
class Violation:
    field: str  # dotted path ("custom.k"), or "" for the whole event
    reason: Reason
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": str(self.reason), "message": self.message}


def _is_integer(_checker: Any, instance: Any) -> bool:
    # JSON Schema counts 1.0 as an integer; the lake's columns are longs and a
    # float there means a producer bug, so only real integers pass (never bools).
    return isinstance(instance, int) and not isinstance(instance, bool)


# jsonschema's type and enum messages hold the repr of the value: a list or object
# nested a thousand deep (orjson reads up to 1024) is a RecursionError there.
_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother = 3, 60, 60
_TYPE = Draft202012Validator.VALIDATORS["type"]
_ENUM = Draft202012Validator.VALIDATORS["enum"]


def _type(validator: Any, types: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    """jsonschema's `type`, with a bounded repr of a list or object."""
    if not isinstance(instance, list | dict):
        yield from _TYPE(validator, types, instance, schema)
        return
    types = types if isinstance(types, list) else [types]
    if not any(validator.is_type(instance, kind) for kind in types):
        yield ValidationError(f"{_SHORT.repr(instance)} is not of type {', '.join(map(repr, types))}")


def _enum(validator: Any, enums: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    """jsonschema's `enum`, with a bounded repr of a list or object (which never
    equals an enum of scalars)."""
    if not isinstance(instance, list | dict) or any(isinstance(each, list | dict) for each in enums):
        yield from _ENUM(validator, enums, instance, schema)
        return
    yield ValidationError(f"{_SHORT.repr(instance)} is not one of {enums!r}")


@cache
def _validator() -> Draft202012Validator:
    type_checker = Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer)
    cls = validators.extend(Draft202012Validator, {"type": _type, "enum": _enum}, type_checker=type_checker)
    schema = event_schema()
    cls.check_schema(schema)
    return cls(schema)


@cache
def _compiled() -> Any | None:
    """The same schema compiled by jsonschema-rs (Rust), or None without it.

    A fast yes: about 20x faster than jsonschema on a valid event, which is nearly
    every event, and the live monitor checks every one (0.3 ms an event was most of
    its time). Only its "valid" is trusted; anything else goes to jsonschema, which
    names every violation. Its yes implies jsonschema's for this schema: the
    patterns' `$` is stricter in Rust (Python's also matches before a final
    newline), and the one rule of our own, floats never integers, is checked
    before it is asked (_integral_float)."""
    try:
        import jsonschema_rs
    except ImportError:  # an optional speed-up: the SDK's base install goes without
        return None
    return jsonschema_rs.Draft202012Validator(event_schema())


def _integral_float(value: Any, depth: int = 0) -> bool:
    """A float with an integral value anywhere (JSON Schema's integer; not ours), or
    nesting too deep to look at: either way, jsonschema decides."""
    items = value.values() if isinstance(value, dict) else value
    for item in items:
        kind = type(item)
        if kind is float:
            if item.is_integer():
                return True
        elif kind is dict or kind is list:
            if depth >= 8 or _integral_float(item, depth + 1):
                return True
    return False


def _surely_valid(event: dict[str, Any]) -> bool:
    compiled = _compiled()
    if compiled is None or _integral_float(event):
        return False
    try:
        return bool(compiled.is_valid(event))
    except Exception:  # a value it cannot take (an int beyond 64 bits): jsonschema decides
        return False


# The reason of each schema keyword: also the rulebook EventCheck applies in bronze
# (spark_jobs.transforms.contract_checks), so both engines report the same reasons.
KEYWORD_REASONS = {
    "type": Reason.wrong_type,
    "enum": Reason.invalid_value,
    "maxLength": Reason.string_too_long,
    "minLength": Reason.empty_string,
    "maxProperties": Reason.too_many_custom_keys,
    "pattern": Reason.invalid_format,
    "minimum": Reason.out_of_range,
    "maximum": Reason.out_of_range,
    # custom's propertyNames holds only a maxLength: a key too long.
    "propertyNames": Reason.string_too_long,
}
# Reasons that depend on the field as well as the keyword.
FIELD_REASONS = {
    ("schema_version", "const"): Reason.unsupported_schema_version,
    ("event_type", "enum"): Reason.unknown_event_type,
}
# Any other keyword's reason.
DEFAULT_REASON = Reason.invalid_value


def _violations_of(error: Any, event: dict[str, Any]) -> list[Violation]:
    path = ".".join(str(part) for part in error.absolute_path)
    keyword = error.validator
    if keyword == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        return [Violation(name, Reason.missing_field, f"{name} is required") for name in missing]
    if keyword == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return [Violation(name, Reason.unknown_field, f"{name} is not in the contract") for name in extra]
    # Two messages of our own (jsonschema's would list every event type, or say nothing useful).
    if keyword == "enum" and path == "event_type":
        return [Violation(path, FIELD_REASONS[(path, keyword)], f"unknown event_type {event.get('event_type')!r}")]
    if keyword == "propertyNames":
        return [Violation(path, KEYWORD_REASONS[keyword], "a custom key is too long")]
    reason = FIELD_REASONS.get((path, keyword)) or KEYWORD_REASONS.get(keyword, DEFAULT_REASON)
    return [Violation(path, reason, error.message if len(error.message) < 200 else error.message[:197] + "...")]


_FIELDS = frozenset(EVENT_FIELDS)


def without_nulls(event: dict[str, Any]) -> dict[str, Any]:
    """The event with its contract fields that are JSON null left out.

    player-events.md, Envelope (clarified 2026-12-07): an optional field whose value
    is null is read as absent, and a required field that is null is a violation. Read
    as absent, a required null is then `missing_field`, the reason an absent required
    field has, in both engines (EventCheck reads a null the same way). Unknown fields
    are left as they are (they go to custom whatever their value).
    """
    if not any(value is None and name in _FIELDS for name, value in event.items()):
        return event
    return {name: value for name, value in event.items() if value is not None or name not in _FIELDS}


def validate_event(event: Any, *, size_bytes: int | None = None) -> list[Violation]:
    """Every violation of the contract by one decoded event; [] when it is valid.

    `size_bytes` is the event's serialised size as received; when omitted it is
    measured by serialising the event compactly (with its nulls, as it came).
    """
    if not isinstance(event, dict):
        return [Violation("", Reason.not_an_object, f"an event is a JSON object, not {type(event).__name__}")]
    found: set[Violation] = set()
    present = without_nulls(event)
    if not _surely_valid(present):
        for error in _validator().iter_errors(present):
            found.update(_violations_of(error, event))
    if size_bytes is None:
        try:
            size_bytes = len(orjson.dumps(event))
        except TypeError as exc:  # not JSON-serialisable: already a wrong_type above
            found.add(Violation("", Reason.wrong_type, str(exc)))
            size_bytes = 0
    if size_bytes > LIMITS.max_event_bytes:
        found.add(Violation("", Reason.event_too_large, f"{size_bytes} bytes > {LIMITS.max_event_bytes}"))
    return sorted(found)


def check_line(line: bytes | str) -> tuple[dict[str, Any] | None, list[Violation]]:
    """Decode one NDJSON line and validate it: (event or None, violations). The
    event comes back with its null fields left out (`without_nulls`), as its readers
    are to see it."""
    raw = line.encode("utf-8") if isinstance(line, str) else line
    raw = raw.rstrip(b"\r\n")
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return None, [Violation("", Reason.malformed_json, str(exc)[:200])]
    violations = validate_event(event, size_bytes=len(raw))
    return (without_nulls(event) if isinstance(event, dict) else None), violations
