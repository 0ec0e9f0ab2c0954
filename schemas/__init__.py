"""The player-event contract: the JSON Schema, and everything derived from it."""

from __future__ import annotations

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
from schemas.validate import Reason, Violation, check_line, validate_event

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
