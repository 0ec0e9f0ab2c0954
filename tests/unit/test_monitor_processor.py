"""The processor's error paths: bad records are counted and skipped, a failed write is
kept and not checkpointed past. The store is an in-memory stand-in here; the real
DynamoDB path is in tests/integration/test_monitor_incident.py."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from consumers.monitor.processor import QoeMonitorProcessor, event_time
from consumers.monitor.rows import WindowRow
from tests.fixtures_consumers import RecordingCheckpointer, initialize_input, kcl_record, process_input

T0 = 1_772_366_400_000


class MemoryStore:
    def __init__(self, *, fail_writes: int = 0) -> None:
        self.rows: list[WindowRow] = []
        self.fail_writes = fail_writes
        self.progress: dict[str, tuple[int, bool]] = {}

    def register_shard(self, shard_id: str) -> None:
        self.progress.setdefault(shard_id, (0, False))

    def register_series(self, series: list[str]) -> None:
        pass

    def put_rows(self, rows: list[WindowRow], *, shard_id: str) -> int:
        if self.fail_writes:
            self.fail_writes -= 1
            raise ConnectionError("dynamodb unreachable")
        self.rows.extend(rows)
        return len(rows)

    def set_progress(self, shard_id: str, watermark_ms: int, *, ended: bool = False) -> None:
        self.progress[shard_id] = (watermark_ms, ended)


def event(seq: int, ts: int, event_type: str, **fields: Any) -> dict[str, Any]:
    return {"schema_version": 1, "event_id": str(uuid.uuid4()), "event_type": event_type, "event_ts": T0 + ts,
            "seq": seq, "viewer_id": "v", "play_session_id": "p", "content_id": "c", "content_type": "vod",
            "cdn": "cdn-a", **fields}


def line(value: dict[str, Any]) -> bytes:
    return orjson.dumps(value) + b"\n"


def test_event_time_is_derived_from_the_server_clock() -> None:
    # player-events.md, Time: received_ts - (sent_ts - event_ts); the arrival stands in for received_ts.
    assert event_time({"event_ts": 1000, "sent_ts": 1500}, 9000) == (8500, 9000)
    assert event_time({"event_ts": 1000, "sent_ts": 1500, "received_ts": 7000}, 9000) == (6500, 7000)
    assert event_time({"event_ts": 1000}, 9000) == (1000, 9000)


def test_bad_lines_are_counted_by_reason_and_skipped() -> None:
    store = MemoryStore()
    processor = QoeMonitorProcessor(store=store, alerting=None, lateness_ms=0)  # type: ignore[arg-type]
    processor.initialize(initialize_input("shard-0"))
    good = event(0, 0, "play_request")
    data = b"".join([
        b"not json\n", line({**good, "event_type": "teleport"}), line({k: v for k, v in good.items() if k != "seq"}),
        line(event(1, 10 * 60_000, "heartbeat")),  # 10 min after its arrival: future_timestamp
        line(good), b"\n",
    ])
    checkpointer = RecordingCheckpointer()
    processor.process_records(process_input([kcl_record(1, data, arrival_ms=T0 + 1000)], checkpointer))
    assert processor.counters.rejected == {"malformed_json": 1, "unknown_event_type": 1, "missing_field": 1,
                                           "future_timestamp": 1}
    assert processor.counters.lines == 5 and processor.monitor.counters.events == 1


def test_a_failed_write_is_kept_retried_and_not_checkpointed_past() -> None:
    store = MemoryStore(fail_writes=1)
    processor = QoeMonitorProcessor(store=store, alerting=None, lateness_ms=0)  # type: ignore[arg-type]
    processor.initialize(initialize_input("shard-0"))
    checkpointer = RecordingCheckpointer()

    def send(sequence: int, *events: dict[str, Any]) -> None:
        data = b"".join(line(e) for e in events)
        arrival = max(e["event_ts"] for e in events)
        processor.process_records(process_input([kcl_record(sequence, data, arrival_ms=arrival)], checkpointer))

    send(1, event(0, 0, "play_request"), event(1, 1000, "playing"))
    send(2, event(2, 125_000, "heartbeat"))  # close mark 65 s: minute 0 closes, its write fails
    assert store.rows == [] and processor.counters.write_failures == 1 and checkpointer.checkpoints == []
    send(3, event(3, 126_000, "heartbeat"))  # the next batch writes it, then checkpoints record 1
    assert [row.series for row in store.rows if row.window_start_ms == T0][0] == "all"
    assert checkpointer.checkpoints == ["1"]
    assert store.progress["shard-0"] == (T0 + 60_000, False)
