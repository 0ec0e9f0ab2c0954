"""Raw lines -> bronze: typing, dedup, time, unknown fields, size, quarantine, counts.

Every case is a few raw lines declared below; one bronze run over all of them
(module fixture: two Spark jobs) gives the values the tests assert on. Which
reason each bad line gets is pinned against the Python validator in
test_bronze_contract.py; here, what bronze adds: the ingest window, received_ts,
event_time, the dedup and the outputs' shapes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest

from ottlake.errors import JobError
from quality.suites import EVENT_ID_HASH_REPEATS
from schemas.contract import EVENT_FIELDS, LIMITS, E
from schemas.validate import Reason

ORIGIN_MS = 1_772_366_400_000  # 2026-03-01T12:00:00Z
MIDNIGHT_MS = ORIGIN_MS - 12 * 3_600_000  # 2026-03-01T00:00:00Z
OBJECT_TS_MS = ORIGIN_MS + 60_000
INGEST_TS = datetime(2026, 3, 1, 13, 0, tzinfo=UTC)
DAY_MS = 86_400_000


def eid(number: int) -> str:
    return f"6f1c1d2e-0000-4000-8000-{number:012d}"


def event(number: int, **fields: Any) -> dict[str, Any]:
    """A valid heartbeat, received 500 ms after it happened; None drops a field."""
    base = {
        E.schema_version: 1,
        E.event_id: eid(number),
        E.event_type: "heartbeat",
        E.event_ts: ORIGIN_MS,
        E.received_ts: ORIGIN_MS + 500,
        E.seq: number,
        E.viewer_id: "viewer-1",
        E.play_session_id: "ps-1",
        E.content_id: "title-1",
        E.content_type: "vod",
    }
    merged = {**base, **fields}
    return {name: value for name, value in merged.items() if value is not None}


def text(fields: dict[str, Any]) -> str:
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)


EVERY_FIELD = event(
    1,
    sent_ts=ORIGIN_MS + 20,
    content_duration_ms=3_600_000,
    content_title="Film é",
    series_id="s-1",
    player_name="shaka",
    player_version="4.7.1",
    sdk_version="0.1.0",
    app_version="2.3",
    device_type="tv",
    os_name="tizen",
    os_version="17",
    device_model="QE55",
    cdn="akamai",
    connection_type="wifi",
    country="DE",
    isp="isp",
    playhead_ms=7,
    bitrate_kbps=4500,
    video_width=1920,
    video_height=1080,
    player_width=1280,
    player_height=720,
    buffer_ms=9000,
    dropped_frames=2,
    error_category="technical",
    custom={"ab": "b"},
)
EXACTLY_MAX = text(event(80))
MULTIBYTE = text(event(81, custom={f"k{i}": "é" * 1000 for i in range(9)}))  # ~9,300 chars, ~18,400 bytes


@dataclass(frozen=True)
class Line:
    source_object: str
    text: str
    object_ts_ms: int = OBJECT_TS_MS


LINES = [
    Line("typed", text(EVERY_FIELD)),
    # dedup: the first copy by received_ts wins; ties go to the raw object's key
    Line("dup-late", text(event(10, received_ts=ORIGIN_MS + 300, cdn="c300"))),
    Line("dup-first", text(event(10, received_ts=ORIGIN_MS + 100, cdn="c100"))),
    Line("dup-middle", text(event(10, received_ts=ORIGIN_MS + 200, cdn="c200"))),
    Line("tie-b", text(event(11, cdn="b"))),
    Line("tie-a", text(event(11, cdn="a"))),
    Line("same-object", text(event(12))),
    Line("same-object", text(event(12))),
    Line("valid-copy", text(event(13, received_ts=ORIGIN_MS + 900))),
    Line("invalid-copy", text(event(13, received_ts=ORIGIN_MS + 100, cdn=5))),
    # received_ts and event_time (player-events.md, Envelope and Time)
    Line("no-received-ts", text(event(20, received_ts=None)), object_ts_ms=ORIGIN_MS + 7_000),
    Line(
        "sent-ts",
        text(
            event(
                21,
                event_ts=ORIGIN_MS - 4 * DAY_MS,
                sent_ts=ORIGIN_MS - 4 * DAY_MS + 2_000,
                received_ts=ORIGIN_MS + 2_000,
            )
        ),
    ),
    Line("no-sent-ts", text(event(22, event_ts=ORIGIN_MS - 10_000, received_ts=ORIGIN_MS))),
    Line("midnight", text(event(23, event_ts=MIDNIGHT_MS, received_ts=MIDNIGHT_MS + 1))),
    Line("before-midnight", text(event(24, event_ts=MIDNIGHT_MS - 1, received_ts=MIDNIGHT_MS + 1))),
    # the ingest window: 5 minutes ahead, 72 hours behind received_ts
    Line("future-edge", text(event(30, event_ts=ORIGIN_MS + LIMITS.future_tolerance_ms, received_ts=ORIGIN_MS))),
    Line("future", text(event(31, event_ts=ORIGIN_MS + LIMITS.future_tolerance_ms + 1, received_ts=ORIGIN_MS))),
    Line("late-edge", text(event(32, event_ts=ORIGIN_MS - LIMITS.max_lateness_ms, received_ts=ORIGIN_MS))),
    Line("late", text(event(33, event_ts=ORIGIN_MS - LIMITS.max_lateness_ms - 1, received_ts=ORIGIN_MS))),
    Line("future-by-sent-ts", text(event(34, event_ts=ORIGIN_MS, sent_ts=ORIGIN_MS - LIMITS.future_tolerance_ms - 1))),
    Line("late-by-sent-ts", text(event(35, event_ts=ORIGIN_MS, sent_ts=ORIGIN_MS + LIMITS.max_lateness_ms + 1))),
    Line(
        "late-by-object-ts",
        text(event(36, event_ts=ORIGIN_MS - LIMITS.max_lateness_ms - 1, received_ts=None)),
        object_ts_ms=ORIGIN_MS,
    ),
    Line("received-beyond-year-9999", text(event(37, received_ts=10**16, sent_ts=ORIGIN_MS))),
    # unknown fields move into custom (player-events.md, Envelope)
    Line(
        "unknown-fields", text(event(40, custom={"ab": "x"}, page="home", n=5, o={"k": [1, 2]}, z=None) | {"z": None})
    ),
    # size in bytes as received
    Line("exactly-max-bytes", EXACTLY_MAX + " " * (LIMITS.max_event_bytes - len(EXACTLY_MAX.encode()))),
    Line("one-byte-over", EXACTLY_MAX + " " * (LIMITS.max_event_bytes - len(EXACTLY_MAX.encode()) + 1)),
    Line("multibyte-over", MULTIBYTE),
    # several reasons on one line
    Line("many", text(event(50, seq=-1, content_type="film", viewer_id=None, cdn=5))),
    Line("malformed", '{"event_id": '),
]


@dataclass(frozen=True)
class Ran:
    events: dict[str, dict[str, Any]]  # by event_id
    quarantine: dict[str, list[dict[str, Any]]]  # by source_object
    counts: dict[str, int]
    event_schema: Any
    quarantine_schema: Any


@pytest.fixture(scope="module")
def ran(spark) -> Ran:
    from spark_jobs.transforms.bronze import bronze

    raw = spark.createDataFrame(
        [(line.text, line.source_object, line.object_ts_ms) for line in LINES],
        "line string, source_object string, object_ts_ms long",
    )
    result = bronze(raw, ingest_ts=INGEST_TS)
    events = {row[E.event_id]: row.asDict(recursive=True) for row in result.events.collect()}
    quarantine: dict[str, list[dict[str, Any]]] = {}
    for row in result.quarantine.collect():
        quarantine.setdefault(row.source_object, []).append(row.asDict(recursive=True))
    return Ran(events, quarantine, result.counts(), result.events.schema, result.quarantine.schema)


def reasons_of(ran: Ran, source_object: str) -> set[tuple[str, str]]:
    (row,) = ran.quarantine[source_object]
    return {(v["field"], v["reason"]) for v in row["violations"]}


def ms(value: datetime) -> int:
    """Epoch ms of a collected timestamp (PySpark gives naive local times)."""
    return round(value.timestamp() * 1000)


def test_a_valid_event_keeps_every_field_typed(ran: Ran) -> None:
    row = ran.events[eid(1)]
    assert {name: row[name] for name in EVENT_FIELDS} == {name: EVERY_FIELD.get(name) for name in EVENT_FIELDS}
    assert (row["source_object"], ms(row["ingest_ts"])) == ("typed", ms(INGEST_TS))
    # received - (sent - event) = (ORIGIN + 500) - 20
    assert ms(row["event_time"]) == ORIGIN_MS + 480
    assert row["event_date"] == date(2026, 3, 1)


def test_output_schemas_are_the_declared_ones(ran: Ran) -> None:
    from spark_jobs.columns import BRONZE_SCHEMA, QUARANTINE_SCHEMA

    def shape(schema: Any) -> list[tuple[str, str]]:
        return [(field.name, field.dataType.simpleString()) for field in schema.fields]

    assert shape(ran.event_schema) == shape(BRONZE_SCHEMA)
    assert [name for name, _ in shape(BRONZE_SCHEMA)][: len(EVENT_FIELDS)] == list(EVENT_FIELDS)
    assert shape(ran.quarantine_schema) == shape(QUARANTINE_SCHEMA)


def test_the_first_copy_by_received_ts_wins(ran: Ran) -> None:
    assert ran.events[eid(10)][E.cdn] == "c100"
    assert ran.events[eid(10)]["source_object"] == "dup-first"


def test_equal_received_ts_fall_to_the_raw_objects_key(ran: Ran) -> None:
    assert (ran.events[eid(11)][E.cdn], ran.events[eid(11)]["source_object"]) == ("a", "tie-a")


def test_an_invalid_copy_is_quarantined_not_deduplicated(ran: Ran) -> None:
    assert ran.events[eid(13)][E.received_ts] == ORIGIN_MS + 900
    assert reasons_of(ran, "invalid-copy") == {(E.cdn, "wrong_type")}


def test_counts_account_for_every_line(ran: Ran) -> None:
    quarantined = sum(len(rows) for rows in ran.quarantine.values())
    assert ran.counts == {
        "rows_in": len(LINES),
        "bronze": len(ran.events),
        "quarantined": quarantined,
        "duplicates": 2 + 1 + 1,  # event 10: two later copies; 11: the tie lost; 12: the exact copy
    }
    assert ran.counts["rows_in"] == ran.counts["bronze"] + ran.counts["quarantined"] + ran.counts["duplicates"]


def test_missing_received_ts_falls_back_to_the_objects_write_time(ran: Ran) -> None:
    row = ran.events[eid(20)]
    assert row[E.received_ts] == ORIGIN_MS + 7_000
    assert ms(row["event_time"]) == ORIGIN_MS  # no sent_ts: event_ts


def test_event_time_cancels_the_device_clocks_error(ran: Ran) -> None:
    # The device clock is 4 days behind: event_ts alone would be too late.
    assert ms(ran.events[eid(21)]["event_time"]) == ORIGIN_MS
    assert ms(ran.events[eid(22)]["event_time"]) == ORIGIN_MS - 10_000


def test_event_date_is_the_utc_date_of_event_time(ran: Ran) -> None:
    assert ran.events[eid(23)]["event_date"] == date(2026, 3, 1)
    assert ran.events[eid(24)]["event_date"] == date(2026, 2, 28)


def test_the_ingest_window_is_inclusive(ran: Ran) -> None:
    assert eid(30) in ran.events and eid(32) in ran.events
    assert reasons_of(ran, "future") == {(E.event_ts, str(Reason.future_timestamp))}
    assert reasons_of(ran, "late") == {(E.event_ts, str(Reason.too_late))}


def test_the_window_uses_the_device_offset_when_sent_ts_is_there(ran: Ran) -> None:
    assert reasons_of(ran, "future-by-sent-ts") == {(E.event_ts, str(Reason.future_timestamp))}
    assert reasons_of(ran, "late-by-sent-ts") == {(E.event_ts, str(Reason.too_late))}
    assert reasons_of(ran, "late-by-object-ts") == {(E.event_ts, str(Reason.too_late))}


def test_an_event_time_no_reader_can_hold_is_quarantined(ran: Ran) -> None:
    assert reasons_of(ran, "received-beyond-year-9999") == {(E.received_ts, str(Reason.out_of_range))}


def test_unknown_fields_are_kept_in_custom(ran: Ran) -> None:
    assert ran.events[eid(40)][E.custom] == {"ab": "x", "page": "home", "n": "5", "o": '{"k":[1,2]}', "z": "null"}


def test_the_size_limit_counts_bytes(ran: Ran) -> None:
    assert eid(80) in ran.events  # exactly 16 KiB
    assert reasons_of(ran, "one-byte-over") == {("", str(Reason.event_too_large))}
    assert len(MULTIBYTE) < LIMITS.max_event_bytes < len(MULTIBYTE.encode())
    assert reasons_of(ran, "multibyte-over") == {("", str(Reason.event_too_large))}


def test_a_quarantined_line_keeps_the_raw_line_and_every_reason(ran: Ran) -> None:
    (row,) = ran.quarantine["many"]
    source = next(line for line in LINES if line.source_object == "many")
    assert row["line"] == source.text
    assert row["reason"] == "missing_field"  # Reason's order: the most basic first
    assert row["reasons"] == ["missing_field", "wrong_type", "invalid_value", "out_of_range"]
    assert row["fields"] == sorted([E.viewer_id, E.cdn, E.content_type, E.seq])
    assert row["violations"] == [
        {"field": E.viewer_id, "reason": "missing_field"},
        {"field": E.cdn, "reason": "wrong_type"},
        {"field": E.content_type, "reason": "invalid_value"},
        {"field": E.seq, "reason": "out_of_range"},
    ]
    assert (row["source_object"], ms(row["ingest_ts"])) == ("many", ms(INGEST_TS))
    assert ran.quarantine["malformed"][0]["reasons"] == ["malformed_json"]


def test_ingest_ts_must_be_an_instant(spark) -> None:
    from spark_jobs.transforms.bronze import bronze

    raw = spark.createDataFrame([], "line string, source_object string, object_ts_ms long")
    with pytest.raises(JobError, match="timezone"):
        bronze(raw, ingest_ts=datetime(2026, 3, 1))


def test_ties_in_one_object_keep_the_same_copy_whatever_the_input_order(spark) -> None:
    from spark_jobs.transforms.bronze import bronze

    copies = [text(event(60, cdn="x")), text(event(60, cdn="y"))]
    kept = []
    for ordered in (copies, copies[::-1]):
        raw = spark.createDataFrame(
            [(t, "one-object", OBJECT_TS_MS) for t in ordered], "line string, source_object string, object_ts_ms long"
        ).repartition(2)
        kept.append([row[E.cdn] for row in bronze(raw, ingest_ts=INGEST_TS).events.collect()])
    assert len(kept[0]) == 1 and kept[0] == kept[1]


def test_ids_that_share_a_hash_are_still_told_apart(spark, ran: Ran, monkeypatch) -> None:
    """The dedup groups by a 64-bit hash of the id first: with every id hashed alike
    (a collision everywhere), the same copies win."""
    from pyspark.sql import functions as F

    from spark_jobs.transforms import bronze as transform

    monkeypatch.setattr(transform, "_id_hash", lambda _: F.lit(0).cast("long"))
    raw = spark.createDataFrame(
        [(line.text, line.source_object, line.object_ts_ms) for line in LINES],
        "line string, source_object string, object_ts_ms long",
    )
    result = transform.bronze(raw, ingest_ts=INGEST_TS)
    events = {row[E.event_id]: row.asDict(recursive=True) for row in result.events.collect()}
    assert events == ran.events
    assert result.counts() == ran.counts


def test_the_gate_frame_flags_exactly_the_ids_whose_hash_repeats(spark) -> None:
    """BronzeResult.gated: the first copies, each with event_id_hash_repeats; an id
    with two valid copies is flagged, an id with one is not (its hash is unique
    among the valid rows, so the gate need not sort it)."""
    from spark_jobs.transforms.bronze import bronze

    twice, once = event(70), event(71)
    lines = [text(twice), text({**twice, E.received_ts: twice[E.received_ts] + 5}), text(once)]
    raw = spark.createDataFrame([(line, "obj", OBJECT_TS_MS) for line in lines],
                                "line string, source_object string, object_ts_ms long")
    result = bronze(raw, ingest_ts=INGEST_TS)
    gated = {row[E.event_id]: row.asDict() for row in result.gated(EVENT_ID_HASH_REPEATS).collect()}
    assert {key: row["event_id_hash_repeats"] for key, row in gated.items()} == {
        twice[E.event_id]: True, once[E.event_id]: False}
    assert [name for name in next(iter(gated.values()))][:-1] == result.events.columns


def test_the_tally_observed_while_storing_is_the_tally_of_a_pass(spark) -> None:
    """The job observes the tally's aggregates as it stores the checked rows
    (spark.stored); they agree with the tally's own pass."""
    from spark_jobs.spark import stored
    from spark_jobs.transforms.bronze import bronze, tally_metrics

    raw = spark.createDataFrame(
        [(line.text, line.source_object, line.object_ts_ms) for line in LINES],
        "line string, source_object string, object_ts_ms long",
    )
    result = bronze(raw, ingest_ts=INGEST_TS)
    kept = stored(result.checked, tally_metrics())
    try:
        staged, counted = result.staged(kept.frame), kept.metrics
        assert staged.tally(counted) == staged.tally() == result.tally()
        assert staged.tally(counted).quarantined > 0 and len(staged.tally(counted).dates) > 0
        assert kept.rows == counted["rows_in"]
    finally:
        kept.frame.unpersist()
