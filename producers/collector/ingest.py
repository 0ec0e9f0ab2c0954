"""From a request body to events to stream and rejections to dead-letter, with reasons.

Pure functions (no I/O): the ASGI app reads the body and hands it here, the writer
sends what comes back. Every event passes the same rules as bronze, through the
contract's one validator (`schemas.validate`): nulls read as absent, unknown
fields moved into `custom`, the contract's checks, and ingest's time window on the
server's clock (player-events.md, Envelope and Time).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson

from producers.collector import cmcd
from producers.collector.sfv import SfvError, parse_dictionary
from schemas.validate import (
    Violation,
    fold_unknown_fields,
    ingest_time_violations,
    validate_event,
    without_nulls,
)

APP_ID_KEY = "app_id"  # custom.app_id: the application of the write key (docs/collector.md)
DEVICE_FIELDS = ("device_type", "os_name", "os_version", "device_model")
# Reasons of the collector's own, beside schemas.validate.Reason's.
MALFORMED_CMCD = "malformed_cmcd"


class RequestError(Exception):
    """The whole request is refused: `status` with a machine-readable `reason`."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int
    max_events: int
    max_event_bytes: int


@dataclass
class Rejection:
    index: int
    reason: str  # the first (most basic) violation's reason
    violations: list[dict[str, str]]
    payload: str  # the event as received

    def answer(self) -> dict[str, Any]:
        return {"index": self.index, "reason": self.reason, "violations": self.violations}


@dataclass
class Outcome:
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


# --- bodies -------------------------------------------------------------------------


def decompress(body: bytes, encoding: str | None, *, max_bytes: int) -> bytes:
    """The body as sent: `Content-Encoding: gzip` inflated, never past `max_bytes`."""
    name = (encoding or "identity").strip().lower()
    if name in ("", "identity"):
        return body
    if name not in ("gzip", "x-gzip"):
        raise RequestError(415, "unsupported_encoding", f"Content-Encoding {encoding!r}: only gzip is supported")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, max_bytes + 1)
        if len(out) > max_bytes or inflater.unconsumed_tail:
            raise RequestError(413, "body_too_large", f"the body inflates past {max_bytes} bytes")
        if not inflater.eof:
            raise RequestError(400, "malformed_gzip", "the gzip body is truncated")
    except zlib.error as exc:
        raise RequestError(400, "malformed_gzip", f"the body is not gzip: {exc}") from None
    return out


def json_events(body: bytes, limits: Limits) -> list[tuple[Any, int, bytes]]:
    """(decoded event, size in bytes as received, raw bytes) of each event of a JSON
    array or of NDJSON. A line of NDJSON that does not parse is that event's
    malformed_json (its decoded value is then the `_MALFORMED` marker)."""
    text = body.strip()
    if not text:
        raise RequestError(400, "empty_body", "the body holds no events")
    if text[:1] == b"[":
        try:
            decoded = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise RequestError(400, "malformed_json", f"the body is not a JSON array: {exc}") from None
        if not isinstance(decoded, list):
            raise RequestError(400, "malformed_json", "the body is not a JSON array")
        _check_count(len(decoded), limits)
        items = []
        for value in decoded:
            raw = orjson.dumps(value)
            _check_size(len(raw), limits)
            items.append((value, len(raw), raw))
        return items
    lines = [line for line in text.split(b"\n") if line.strip()]
    _check_count(len(lines), limits)
    items = []
    parsed_any = False
    for line in lines:
        raw = line.rstrip(b"\r")
        _check_size(len(raw), limits)
        try:
            items.append((orjson.loads(raw), len(raw), raw))
            parsed_any = True
        except orjson.JSONDecodeError as exc:
            items.append((Malformed(str(exc)[:200]), len(raw), raw))
    if not parsed_any:
        raise RequestError(400, "malformed_json", "the body is neither a JSON array nor JSON lines")
    return items


@dataclass(frozen=True)
class Malformed:
    message: str


def _check_count(count: int, limits: Limits) -> None:
    if count > limits.max_events:
        raise RequestError(413, "too_many_events", f"{count} events in one request; at most {limits.max_events}")


def _check_size(size: int, limits: Limits) -> None:
    if size > limits.max_event_bytes:
        raise RequestError(413, "event_too_large", f"an event of {size} bytes; at most {limits.max_event_bytes}")


# --- one event ----------------------------------------------------------------------


def admit(
    event: Any, *, size_bytes: int | None, received_ms: int, app_id: str, user_agent: str | None
) -> tuple[dict[str, Any] | None, list[Violation]]:
    """The event as it goes to the stream, or its violations (the first is the reason)."""
    if not isinstance(event, dict):
        return None, validate_event(event)
    event, clashes = fold_unknown_fields(without_nulls(event))
    custom = event.get("custom")
    if custom is None:
        event["custom"] = {APP_ID_KEY: app_id}
    elif isinstance(custom, dict):
        event["custom"] = {**custom, APP_ID_KEY: app_id}
    event["received_ts"] = received_ms  # player-events.md: the collector sets it, overwriting
    if user_agent and not any(name in event for name in DEVICE_FIELDS):
        event.update(device_of(user_agent))
    violations = sorted({*validate_event(event, size_bytes=size_bytes), *clashes})
    if not violations:
        violations = ingest_time_violations(event, received_ms)
    return (None if violations else event), violations


def rejection(index: int, violations: list[Violation], payload: str) -> Rejection:
    return Rejection(index, str(violations[0].reason), [v.as_dict() for v in violations], payload)


def ingest_json(body: bytes, *, limits: Limits, received_ms: int, app_id: str, user_agent: str | None) -> Outcome:
    outcome = Outcome()
    for index, (value, size, raw) in enumerate(json_events(body, limits)):
        if isinstance(value, Malformed):
            outcome.rejected.append(Rejection(index, "malformed_json", [
                {"field": "", "reason": "malformed_json", "message": value.message}], raw.decode("utf-8", "replace")))
            continue
        event, violations = admit(value, size_bytes=size, received_ms=received_ms, app_id=app_id, user_agent=user_agent)
        if event is None:
            outcome.rejected.append(rejection(index, violations, raw.decode("utf-8", "replace")))
        else:
            outcome.accepted.append(event)
    return outcome


def ingest_cmcd(
    body: bytes, *, limits: Limits, received_ms: int, app_id: str, user_agent: str | None,
    viewer_id: str | None, content_type: str | None,
) -> Outcome:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestError(400, "malformed_cmcd", f"the body is not UTF-8: {exc}") from None
    lines = cmcd.report_lines(text)
    if not lines:
        raise RequestError(400, "empty_body", "the body holds no CMCD reports")
    _check_count(len(lines), limits)
    outcome = Outcome()
    parsed_any = False
    for index, line in enumerate(lines):
        _check_size(len(line.encode("utf-8")), limits)
        try:
            members = parse_dictionary(line)
        except SfvError as exc:
            outcome.rejected.append(Rejection(index, MALFORMED_CMCD, [
                {"field": "", "reason": MALFORMED_CMCD, "message": str(exc)}], line))
            continue
        parsed_any = True
        mapped = cmcd.report_to_event(members, line=line, app_id=app_id, viewer_id=viewer_id,
                                      content_type=content_type)
        event, violations = admit(mapped, size_bytes=None, received_ms=received_ms, app_id=app_id,
                                  user_agent=user_agent)
        if event is None:
            outcome.rejected.append(rejection(index, violations, line))
        else:
            outcome.accepted.append(event)
    if not parsed_any:
        first = outcome.rejected[0].violations[0]["message"]
        raise RequestError(400, MALFORMED_CMCD, f"no line of the body is a CMCD payload (the first: {first})")
    return outcome


# --- the user agent -----------------------------------------------------------------

_TV_MARKERS = ("smart-tv", "smarttv", "tizen", "webos", "web0s", "hbbtv", "roku", "crkey", "aftb", "aftm", "afts",
               "bravia", "appletv", "apple tv", "tvos", "android tv", "googletv", "netcast", "vidaa")
_CONSOLE_MARKERS = ("playstation", "xbox", "nintendo")
_DESKTOP_OS = ("windows", "mac os x", "macos", "linux", "ubuntu", "chrome os", "fedora", "freebsd")


@lru_cache(maxsize=4096)
def device_of(user_agent: str) -> dict[str, str]:
    """os_name and device_type from a User-Agent, through ua-parser (uap-core's rules).

    ua-parser names the OS and the device model but not the kind of device; the kind
    follows from both, TVs and consoles first (their agents also name Linux or Android).
    """
    from ua_parser import parse

    result = parse(user_agent[:1024])
    os_family = result.os.family if result.os else "Other"
    device_family = result.device.family if result.device else "Other"
    lowered = user_agent.lower()
    if any(marker in lowered for marker in _TV_MARKERS):
        kind = "tv"
    elif any(marker in lowered for marker in _CONSOLE_MARKERS):
        kind = "console"
    elif device_family == "iPad" or (os_family == "Android" and "mobile" not in lowered) or "tablet" in lowered:
        kind = "tablet"
    elif os_family in ("iOS", "Android") or "mobile" in lowered:
        kind = "mobile"
    elif os_family.lower() in _DESKTOP_OS:
        kind = "desktop"
    else:
        kind = "other"
    found = {"device_type": kind}
    if os_family and os_family != "Other":
        found["os_name"] = os_family[:256]
    return found
