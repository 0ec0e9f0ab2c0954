"""From an event to the bytes of one Kinesis record, and the reasons it may not go.

An event is serialised once, on the worker, without `sent_ts`; the stamp is
spliced into those bytes each time the record leaves (a retry is a new departure,
so it gets a new stamp) instead of copying and re-serialising the event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import orjson

from producers.sdk.config import PARTITION_KEY_MAX_CHARS

# The reasons `on_error` receives for events that never became a sent record.
RECORD_TOO_LARGE = "record_too_large"
INVALID_EVENT = "invalid_event"
UNSERIALISABLE = "unserialisable"
MISSING_PARTITION_KEY = "missing_partition_key"
INVALID_CLOCK_OFFSET = "invalid_clock_offset"

_SENT_TS = b',"sent_ts":'
# Room kept for the stamp when sizing a record before it is stamped: the field
# name and any signed 64-bit integer, so a stamped record never outgrows its size.
SENT_TS_RESERVE = len(_SENT_TS) + 20
# Offsets beyond this (about 31,700 years) are a bug in the caller, and would not
# fit the reserve above.
_MAX_ABS_OFFSET_MS = 10**15


class Record(NamedTuple):
    """One Kinesis record as sent: a compact JSON event ending in b"\\n", and its key.

    A tuple rather than a dataclass because one is built per event per attempt
    on the hot path.
    """

    data: bytes
    partition_key: str

    @property
    def size(self) -> int:
        """What this record counts towards the PutRecords byte limits."""
        return len(self.data) + _key_bytes(self.partition_key)


class Entry(NamedTuple):
    """An event serialised and sized, waiting in a batch (internal to the SDK)."""

    body: bytes  # compact JSON without the newline
    partition_key: str
    size: int  # upper bound of the stamped record's size, data + key
    clock_offset_ms: int
    stamped: bool  # the event came with its own sent_ts (relayed): keep it

    def record(self, now_ms: int) -> Record:
        """The record as it leaves now: stamped with the sender's clock + offset."""
        if self.stamped:
            return Record(self.body + b"\n", self.partition_key)
        body = self.body
        if len(body) == 2:  # b"{}": no field to put a comma after
            data = b'{"sent_ts":%d}\n' % (now_ms + self.clock_offset_ms)
        else:
            data = body[:-1] + b',"sent_ts":%d}\n' % (now_ms + self.clock_offset_ms)
        return Record(data, self.partition_key)


class Rejected(Exception):
    """An event that cannot become a record; `subject` is what on_error receives."""

    def __init__(self, subject: Mapping[str, Any] | Record, reason: str, *, invalid: bool = False) -> None:
        super().__init__(reason)
        self.subject = subject
        self.reason = reason
        self.invalid = invalid


def _key_bytes(key: str) -> int:
    return len(key) if key.isascii() else len(key.encode("utf-8"))


def partition_key_of(event: Mapping[str, Any]) -> str:
    """The stream's partition key: `play_session_id` (player-events.md, Delivery).

    A key longer than PutRecords allows is replaced by its SHA-256, which keeps
    one session on one shard; a missing one cannot be made up.
    """
    key = event.get("play_session_id")
    if key is None or key == "":
        raise Rejected(event, MISSING_PARTITION_KEY)
    if not isinstance(key, str):
        key = str(key)
    if len(key) > PARTITION_KEY_MAX_CHARS:
        key = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return key


def describe_violations(violations: list[Any]) -> str:
    """`invalid_event: field=reason, ...`, the reason on_error gets for an invalid event."""
    parts = ", ".join(f"{v.field or '<event>'}={v.reason}" for v in violations)
    return f"{INVALID_EVENT}: {parts}"


Validator = Callable[[dict[str, Any], int], list[Any]]


def to_entry(
    item: tuple[Mapping[str, Any], int],
    *,
    max_record_bytes: int,
    now_ms: Callable[[], int],
    validator: Validator | None = None,
) -> Entry:
    """Serialise, (optionally) validate, key and size one queued (event, offset).

    Raises Rejected with the reason for on_error, whatever the caller passed to
    track(): nothing an event contains may stop the worker. `now_ms` is only read
    for a record too large to send, so that on_error sees the bytes it would have had.
    One flat function because it runs once per event on the worker.
    """
    event, offset = item
    try:
        if not isinstance(event, dict):
            event = dict(event)
        stamped = "sent_ts" in event
        if stamped and event["sent_ts"] is None:  # a null stamp is no stamp
            event = {name: value for name, value in event.items() if name != "sent_ts"}
            stamped = False
        try:
            body = orjson.dumps(event)
        except TypeError as exc:
            if validator is not None and (violations := validator(event, 0)):
                raise Rejected(event, describe_violations(violations), invalid=True) from None
            raise Rejected(event, f"{UNSERIALISABLE}: {exc}") from None
        if validator is not None:
            # The contract's size limit counts the stamp the SDK is about to add.
            size_on_wire = len(body) + (0 if stamped else len(_SENT_TS) + 13)
            if violations := validator(event, size_on_wire):
                raise Rejected(event, describe_violations(violations), invalid=True)
        if type(offset) is not int or not -_MAX_ABS_OFFSET_MS < offset < _MAX_ABS_OFFSET_MS:
            raise Rejected(event, f"{INVALID_CLOCK_OFFSET}: {offset!r}")
        key = event.get("play_session_id")
        if type(key) is not str or not key or len(key) > PARTITION_KEY_MAX_CHARS:
            key = partition_key_of(event)
        size = len(body) + 1 + _key_bytes(key) + (0 if stamped else SENT_TS_RESERVE)
        entry = Entry(body, key, size, offset, stamped)
    except Rejected:
        raise
    except Exception as exc:  # not a mapping, a validator that choked, ...
        raise Rejected(event, f"{UNSERIALISABLE}: {type(exc).__name__}: {exc}") from None
    if size > max_record_bytes:
        raise Rejected(entry.record(now_ms()), RECORD_TOO_LARGE)
    return entry


def contract_validator() -> Validator:
    """schemas.validate_event, imported only when validation is on."""
    from schemas.validate import validate_event

    def validate(event: dict[str, Any], size_bytes: int) -> list[Any]:
        return validate_event(event, size_bytes=size_bytes or None)

    return validate
