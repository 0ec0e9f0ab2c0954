"""CMCD v2 event-mode reports (CTA-5004-B) mapped onto the player-event contract.

A player's CMCD reporter (for example `CmcdReporter` of `@svta/cml-cmcd`, which
dash.js uses) POSTs `Content-Type: application/cmcd`, one CMCD payload a line,
`batchSize` lines a request. Each line is an RFC 8941 Dictionary (`sfv`); this
module turns one into one contract event, as shared/spec/player-events.md (CMCD)
says, with the choices that section leaves open written in docs/collector.md:

- `sid` play_session_id, `cid` content_id, `ts` event_ts, `sn` seq, `br`
  bitrate_kbps, `bl` buffer_ms, `pt` playhead_ms (an inner list such as
  `br=(4200;v 256;a)` gives its video item, else its first);
- the event type: a play-state report (`e=ps`, or no `e` with a `sta`) takes the
  type of its state `sta`; an error report (`e=e`) is `error`; a bitrate change
  `rendition_change`; ad reports their ad events; any other report (`t` time
  interval, `rr` response received, ...) is a `heartbeat`;
- `st` content_type (`v` vod, `l`/`ll` live; vod when absent);
- viewer_id from the event target's URL (`?viewer_id=`), else `cmcd-sid:<sid>`;
- event_id a UUID 5 of (app id, sid, sn): a report sent again (the reporter
  re-queues on 429 and 5xx) is the same event and is deduplicated downstream;
  without `sn`, seq 0 and the id from the whole line;
- every other key (and `e`, and `sta` when it did not decide the type) kept in
  `custom` as `cmcd_<key>`, its value as written in CMCD (a string unquoted).
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from producers.collector.sfv import InnerList, Item, Member, Token, serialize_member

MIME_TYPE = "application/cmcd"  # CTA-5004-B event mode (CMCD_MIME_TYPE in @svta/cml-cmcd)
CUSTOM_PREFIX = "cmcd_"
# A fixed namespace for event ids: the same report always gives the same id.
EVENT_ID_NAMESPACE = uuid.UUID("1b2d9a1e-6f2c-5d0a-9c7e-0f5c2e7a4b11")

# player-events.md, CMCD: `sta` (CTA-5004-B State) -> the contract's event type.
STATE_EVENT_TYPES = {
    "s": "play_request",  # starting
    "p": "playing",
    "k": "seek_start",  # seeking
    "r": "buffer_start",  # rebuffering
    "a": "pause",  # paused
    "e": "ended",
    "f": "error",  # fatal error
    "q": "view_end",  # quit
}
PLAY_STATE = "ps"
ERROR = "e"
# Reports (`e`, CTA-5004-B Event types) that are contract events of their own.
REPORT_EVENT_TYPES = {
    ERROR: "error",
    "bc": "rendition_change",
    "as": "ad_start",
    "ae": "ad_end",
    "abs": "ad_break_start",
    "abe": "ad_break_end",
}
HEARTBEAT = "heartbeat"
STREAM_TYPES = {"v": "vod", "l": "live", "ll": "live"}
FIELD_OF_KEY = {"sid": "play_session_id", "cid": "content_id", "ts": "event_ts", "sn": "seq"}
NUMBER_OF_KEY = {"br": "bitrate_kbps", "bl": "buffer_ms", "pt": "playhead_ms"}
AD_BREAK_ID = "cmcd-ad-break"  # CMCD names no ad break: one id per play session's breaks


def plain(value: Any) -> Any:
    """A bare item as JSON would hold it: Token and str as str, Decimal as float,
    bytes as their CMCD text."""
    if isinstance(value, Token):
        return value.value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return serialize_member(Item(value))
    return value


def text_of(member: Member) -> str:
    """A member's value for `custom`: a string as it is, anything else as CMCD writes it."""
    if isinstance(member, Item) and isinstance(member.value, str):
        return member.value
    return serialize_member(member)


def scalar(member: Member) -> Any:
    """One value of a member: an item's, or an inner list's video item (`;v`), else its first."""
    if isinstance(member, InnerList):
        if not member.items:
            return None
        video = [item for item in member.items if item.params.get("v") is True]
        return plain((video or member.items)[0].value)
    return plain(member.value)


def event_id(app_id: str, members: dict[str, Member], line: str) -> str:
    """UUID 5 of (app id, sid, sn); of (app id, the line) when either is missing."""
    sid, sn = members.get("sid"), members.get("sn")
    if isinstance(sid, Item) and isinstance(sn, Item):
        name = f"{app_id}\x00{plain(sid.value)}\x00{plain(sn.value)}"
    else:
        name = f"{app_id}\x00{line}"
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, name))


def _token(members: dict[str, Member], key: str) -> str | None:
    member = members.get(key)
    if isinstance(member, Item) and isinstance(member.value, Token | str):
        return plain(member.value)
    return None


def report_to_event(
    members: dict[str, Member], *, line: str, app_id: str, viewer_id: str | None, content_type: str | None = None
) -> dict[str, Any]:
    """The contract event of one decoded report (validated afterwards by the caller,
    with the contract's one validator: a missing `sid` is a missing play_session_id)."""
    rest = dict(members)
    event: dict[str, Any] = {"schema_version": 1, "event_id": event_id(app_id, members, line)}
    for key, name in FIELD_OF_KEY.items():
        if key in rest:
            event[name] = scalar(rest.pop(key))
    if "sn" not in members:
        # A reporter sends `sn` only when its enabledKeys list it, and CTA-5004-B's own
        # event-mode examples mostly omit it. `seq` only breaks ties of event_ts (the
        # jobs sort by event_ts, seq, event_id), so 0 serves; the event id then comes
        # from the whole line, which a reporter re-sends unchanged after a 429 or a 5xx.
        event["seq"] = 0
    for key, name in NUMBER_OF_KEY.items():
        if key in rest:
            value = scalar(rest.pop(key))
            if value is not None:
                event[name] = value
    sid = event.get("play_session_id")
    event["viewer_id"] = viewer_id if viewer_id else (f"cmcd-sid:{sid}" if isinstance(sid, str) and sid else None)
    stream_type = _token(members, "st")
    if stream_type in STREAM_TYPES:
        rest.pop("st")
        event["content_type"] = STREAM_TYPES[stream_type]
    else:
        event["content_type"] = content_type or "vod"

    report = _token(members, "e")
    state = _token(members, "sta")
    event_type = HEARTBEAT
    fatal = False
    if report == PLAY_STATE or (report is None and state is not None):
        if state in STATE_EVENT_TYPES:
            event_type = STATE_EVENT_TYPES[state]
            fatal = state == "f"
            rest.pop("sta")
    elif report in REPORT_EVENT_TYPES:
        event_type = REPORT_EVENT_TYPES[report]
        fatal = report == ERROR and state == "f"
    event["event_type"] = event_type

    if event_type == "error":
        codes = rest.pop("ec", None)
        first = scalar(codes) if codes is not None else None
        event["error_code"] = str(first) if first is not None else ("cmcd_fatal" if fatal else "cmcd_error")
        event["error_message"] = f"CMCD {'fatal error state' if report != ERROR else 'error report'}" + (
            f": ec={text_of(codes)}" if codes is not None else ""
        )
        event["error_fatal"] = fatal
    elif event_type in ("ad_start", "ad_end"):
        event["ad_id"] = event.get("content_id")
        event["ad_break_id"] = AD_BREAK_ID
    elif event_type in ("ad_break_start", "ad_break_end"):
        event["ad_break_id"] = AD_BREAK_ID

    custom = {CUSTOM_PREFIX + key: text_of(member) for key, member in rest.items()}
    if custom:
        event["custom"] = custom
    return {name: value for name, value in event.items() if value is not None}


def report_lines(body: str) -> list[str]:
    """The body's reports: one a line (LF or CRLF), blank lines skipped."""
    return [line for line in (raw.strip(" \t\r") for raw in body.split("\n")) if line]
