"""The contract of shared/spec/player-events.md, loaded from its JSON Schema.

`player_event.schema.json` is the single source: field names, required fields,
event types and limits below are read from it, never typed a second time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

SCHEMA_FILE = "player_event.schema.json"


@cache
def event_schema() -> dict[str, Any]:
    """The JSON Schema of one player event (a fresh parse, cached)."""
    text = resources.files("schemas").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


@dataclass(frozen=True)
class Limits:
    """player-events.md, Envelope: 'Limits'; and Time: the ingest window."""

    max_event_bytes: int
    max_string_chars: int
    max_error_message_chars: int
    max_custom_keys: int
    future_tolerance_ms: int
    max_lateness_ms: int


_SCHEMA = event_schema()
_PROPS: dict[str, Any] = _SCHEMA["properties"]

SCHEMA_VERSION: int = _PROPS["schema_version"]["const"]
LIMITS = Limits(**_SCHEMA["x-limits"])
EVENT_FIELDS: tuple[str, ...] = tuple(_PROPS)
REQUIRED_FIELDS: tuple[str, ...] = tuple(_SCHEMA["required"])


def _values(name: str) -> tuple[str, ...]:
    """An enum field's values (an optional field's enum also lists null, read as absent)."""
    return tuple(value for value in _PROPS[name]["enum"] if value is not None)


EVENT_TYPES: tuple[str, ...] = _values("event_type")
CONTENT_TYPES: tuple[str, ...] = _values("content_type")
DEVICE_TYPES: tuple[str, ...] = _values("device_type")
ERROR_CATEGORIES: tuple[str, ...] = _values("error_category")
AD_EVENT_TYPES: tuple[str, ...] = tuple(t for t in EVENT_TYPES if t.startswith("ad_"))

# Field names as constants (`E.play_session_id`), and event types
# (`EventType.play_request`), both built from the schema so that a typo is an
# AttributeError, not a silent null column.
E = StrEnum("E", {name: name for name in EVENT_FIELDS})  # type: ignore[misc]
EventType = StrEnum("EventType", {name: name for name in EVENT_TYPES})  # type: ignore[misc]


def field_kind(name: str) -> str:
    """The JSON type of a field: integer, string, boolean or object (an optional
    field's type also admits null, which is read as absent: player-events.md, Envelope)."""
    declared = _PROPS[name]["type"]
    kinds = [declared] if isinstance(declared, str) else [kind for kind in declared if kind != "null"]
    (kind,) = kinds
    return kind
