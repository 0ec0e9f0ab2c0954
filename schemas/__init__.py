"""The ground floor: the player-event contract (its JSON Schema and what derives
from it), every lake table's columns, the lake layout and the rules of a session.
It imports nothing else of the project.

The validator (jsonschema) loads only when one of its names is first used, so that
`import producers.sdk` with validation off loads no validator.
"""

from __future__ import annotations

from typing import Any

from schemas.contract import (
    AD_EVENT_TYPES,
    EVENT_FIELDS,
    EVENT_TYPES,
    LIMITS,
    REQUIRED_FIELDS,
    SCHEMA_VERSION,
    E,
    EventType,
    Limits,
    event_schema,
)

_VALIDATE = ("Reason", "Violation", "check_line", "validate_event")


def __getattr__(name: str) -> Any:
    if name in _VALIDATE:
        from schemas import validate

        return getattr(validate, name)
    raise AttributeError(f"module 'schemas' has no attribute {name!r}")


__all__ = [
    "AD_EVENT_TYPES",
    "EVENT_FIELDS",
    "EVENT_TYPES",
    "LIMITS",
    "REQUIRED_FIELDS",
    "SCHEMA_VERSION",
    "E",
    "EventType",
    "Limits",
    "Reason",
    "Violation",
    "check_line",
    "event_schema",
    "validate_event",
]
