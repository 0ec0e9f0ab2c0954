"""The processor's error paths: bad records are counted and skipped, a failed write is
kept and not checkpointed past; an idle shard stops holding back alerts. The store is an in-memory stand-in here; the real
DynamoDB path is in tests/integration/test_monitor_incident.py."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from consumers.monitor.processor import QoeMonitorProcessor, event_time
from consumers.monitor.rows import WindowRow
from consumers.monitor.store import complete_until_of
from tests.fixtures_consumers import RecordingCheckpointer, initialize_input, kcl_record, process_input

T0 = 1_772_366_400_000


class MemoryStore:
    def __init__(self, *, fail_writes: int = 0) -> None:
        self.rows: list[WindowRow] = []
        self.fail_writes = fail_writes
        self.progress: dict[str, tuple[int, bool]] = {}
        self.idle: set[str] = set()

    def register_shard(self, shard_id: str) -> None:
        self.progress.setdefault(shard_id, (0, False))
        self.idle.discard(shard_id)

    def register_series(self, series: list[str]) -> None:
        pass

    def put_rows(self, rows: list[WindowRow], *, shard_id: str) -> int:
        if self.fail_writes:
            self.fail_writes -= 1
            raise ConnectionError("dynamodb unreachable")
        self.rows.extend(rows)
        return len(rows)

    def set_progress(self, shard_id: str, watermark_ms: int, *, ended: bool = False, idle: bool = False) -> None:
        self.progress[shard_id] = (watermark_ms, ended)
        (self.idle.add if idle else self.idle.discard)(shard_id)

    def set_idle(self, shard_id: str) -> None:
        self.idle.add(shard_id)

    def complete_until(self) -> int | None:
        return complete_until_of({"watermark_ms": watermark, "ended": ended, "idle": shard in self.idle}
                                 for shard, (watermark, ended) in self.progress.items())


class RecordingAlerting:
    """What the processor needs of Alerting: the windows it was asked to evaluate."""

    def __init__(self) -> None:
        self.windows: list[int] = []

    def evaluate_window(self, window_start_ms: int) -> None:
        self.windows.append(window_start_ms)


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


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


def test_a_shard_holds_alerts_back_until_it_is_idle_or_ended() -> None:
    assert complete_until_of([]) is None
    progress = [{"watermark_ms": 5}, {"watermark_ms": 9, "ended": True}, {"watermark_ms": 0, "idle": True}]
    assert complete_until_of(progress) == 5
    assert complete_until_of(progress[1:]) == 9  # nobody holds back: the newest


def send(processor: QoeMonitorProcessor, sequence: int, *events: dict[str, Any]) -> None:
    data = b"".join(line(e) for e in events)
    arrival = max(e["event_ts"] for e in events) if events else T0
    records = [kcl_record(sequence, data, arrival_ms=arrival)] if events else []
    processor.process_records(process_input(records, RecordingCheckpointer()))


def test_a_shard_without_records_stops_holding_back_alerts_once_idle() -> None:
    store, alerting, clock = MemoryStore(), RecordingAlerting(), FakeClock()
    busy, empty = (QoeMonitorProcessor(store=store, alerting=alerting, lateness_ms=60_000,  # type: ignore[arg-type]
                                       clock=clock) for _ in range(2))
    busy.initialize(initialize_input("shard-0"))
    empty.initialize(initialize_input("shard-1"))
    assert empty.idle_after_ms == 60_000  # the lateness, by default

    send(busy, 1, event(0, 0, "play_request"), event(1, 1000, "playing"), event(2, 240_000, "heartbeat"))
    clock.now_s = 59.0
    send(empty, 0)
    send(busy, 2, event(3, 250_000, "heartbeat"))
    # busy closed minutes 0 and 1 (close mark 130 s), but shard-1 is still at 0.
    assert store.progress["shard-0"] == (T0 + 120_000, False)
    assert [w for w in alerting.windows if w >= T0] == []

    clock.now_s = 60.0  # a lateness without records: idle
    send(empty, 0)
    assert store.idle == {"shard-1"}
    send(busy, 3, event(4, 260_000, "heartbeat"))
    assert [w for w in alerting.windows if w >= T0] == [T0, T0 + 60_000]

    # Records again: it reports progress of its own and holds the others back from then on.
    send(empty, 1, event(0, 200_000, "play_request", play_session_id="q"))
    assert store.idle == set() and store.progress["shard-1"] == (T0 + 60_000, False)
    assert store.complete_until() == T0 + 60_000


def test_a_busy_shard_is_never_idle_and_a_quiet_one_keeps_its_watermark() -> None:
    store, clock = MemoryStore(), FakeClock()
    processor = QoeMonitorProcessor(store=store, alerting=None, lateness_ms=0, idle_after_ms=10_000,  # type: ignore[arg-type]
                                    clock=clock)
    processor.initialize(initialize_input("shard-0"))
    for second in range(0, 31, 5):  # a heartbeat every 5 s, of events 20 s apart
        clock.now_s = second
        send(processor, second + 1, event(second, second * 4000, "heartbeat"))
    assert store.idle == set()
    clock.now_s = 39.0
    send(processor, 0)
    assert store.idle == set()
    clock.now_s = 40.0  # 10 s after the last records
    send(processor, 0)
    assert store.idle == {"shard-0"} and store.progress["shard-0"] == (T0 + 60_000, False)


def test_shutdown_writes_rows_whose_write_failed_and_checkpoints_them() -> None:
    store = MemoryStore(fail_writes=1)
    processor = QoeMonitorProcessor(store=store, alerting=None, lateness_ms=0)  # type: ignore[arg-type]
    processor.initialize(initialize_input("shard-0"))
    checkpointer = RecordingCheckpointer()
    for sequence, events in ((1, [event(0, 0, "play_request"), event(1, 1000, "playing")]),
                             (2, [event(2, 125_000, "heartbeat")])):  # minute 0 closes, its write fails
        data = b"".join(line(e) for e in events)
        processor.process_records(process_input(
            [kcl_record(sequence, data, arrival_ms=events[-1]["event_ts"])], checkpointer))
    assert store.rows == [] and checkpointer.checkpoints == []
    processor.shutdown_requested(type("ShutdownRequested", (), {"checkpointer": checkpointer})())
    assert {row.window_start_ms for row in store.rows} == {T0}  # minute 1 is still open: not written
    assert checkpointer.checkpoints == ["1"]
