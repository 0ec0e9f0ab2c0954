"""The lake sink's processor, driven with kclpy's v3 messages: buffering by size and
time, write-then-checkpoint, deterministic objects, received_ts, and its error paths."""

from __future__ import annotations

import gzip

import orjson
import pytest
from amazon_kclpy import messages
from amazon_kclpy.checkpoint_error import CheckpointError

from consumers.raw_zone import LocalRawZone, stamp_received
from consumers.sink import LakeSinkProcessor
from ottlake.errors import ConsumerError
from schemas.layout import encode, object_key
from tests.fixtures_consumers import (
    ARRIVAL_MS,
    MemoryStore,
    RecordingCheckpointer,
    event_line,
    initialize_input,
    kcl_record,
    process_input,
    raw_lines,
)

SHARD = "shardId-000000000001"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def sink(store, *, buffer_bytes: int = 1024, buffer_seconds: float = 60.0, clock=None, sleeps=None):
    processor = LakeSinkProcessor(
        store, stream_name="s", buffer_bytes=buffer_bytes, buffer_seconds=buffer_seconds,
        clock=clock or FakeClock(), sleep=(sleeps.append if sleeps is not None else lambda _s: None),
    )
    processor.initialize(initialize_input(SHARD))
    return processor


def records(first: int, count: int, **fields) -> list[messages.Record]:
    return [kcl_record(n, event_line(n, **fields), arrival_ms=ARRIVAL_MS + n) for n in range(first, first + count)]


def test_size_limit_cuts_objects_named_after_shard_and_first_record_then_checkpoints() -> None:
    log: list = []
    store, checkpointer = MemoryStore(log), RecordingCheckpointer(log)
    processor = sink(store, buffer_bytes=300)
    batch = records(1, 20)
    processor.process_records(process_input(batch, checkpointer))

    line_size = len(stamp_received(batch[0].binary_data, batch[0].timestamp_millis)[0])
    per_object = -(-300 // line_size)  # the record that reaches the limit closes the object
    assert len(store.objects) == 20 // per_object
    first_key = object_key(stream_name="s", arrival_ms=ARRIVAL_MS + 1, name_seed=f"{SHARD}:1")
    assert processor.keys[0] == first_key
    # Every put comes before the checkpoint of its last record, never after.
    expected = []
    for start in range(1, 20 - per_object + 2, per_object):
        key = object_key(stream_name="s", arrival_ms=ARRIVAL_MS + start, name_seed=f"{SHARD}:{start}")
        expected += [("put", key), ("checkpoint", str(start + per_object - 1))]
    assert log == expected
    left = 20 - len(store.objects) * per_object
    assert len(processor.buffer.lines) == left


def test_time_limit_flushes_even_when_nothing_more_arrives() -> None:
    clock = FakeClock()
    store, checkpointer = MemoryStore(), RecordingCheckpointer()
    processor = sink(store, buffer_seconds=5.0, clock=clock)
    processor.process_records(process_input(records(1, 3), checkpointer))
    clock.now += 4.9
    processor.process_records(process_input([], checkpointer))
    assert store.objects == {} and checkpointer.checkpoints == []
    clock.now += 0.1
    processor.process_records(process_input([], checkpointer))
    assert checkpointer.checkpoints == ["3"]
    assert [orjson.loads(line)["event_id"] for line in store.lines()] == ["e-1", "e-2", "e-3"]


def test_received_ts_is_the_arrival_time_unless_the_collector_set_it() -> None:
    stamped = stamp_received(b'{"event_id":"a"}\n', 1234)
    kept = stamp_received(b'{"event_id":"b","received_ts":99}\n', 1234)
    broken = stamp_received(b'{"event_id": \n[1,2]\n', 1234)
    assert [orjson.loads(line) for line in stamped] == [{"event_id": "a", "received_ts": 1234}]
    assert [orjson.loads(line) for line in kept] == [{"event_id": "b", "received_ts": 99}]
    # Not JSON objects: kept byte for byte, for bronze to quarantine with a reason.
    assert broken == [b'{"event_id": \n', b"[1,2]\n"]


def test_a_restart_from_the_checkpoint_rewrites_the_same_objects(tmp_path) -> None:
    """Run 1 writes two objects but dies between the second write and its checkpoint;
    run 2 resumes after the first checkpoint with other page boundaries, and its
    first object replaces the second one of run 1: every event is there once."""
    batch = records(1, 30)
    first = sink(LocalRawZone(tmp_path), buffer_bytes=600)
    dies = RecordingCheckpointer()
    dies.errors = [None, KeyboardInterrupt()]  # the second checkpoint never happens

    def checkpoint(sequence_number=None, sub_sequence_number=None):
        error = dies.errors.pop(0)
        if error is not None:
            raise error
        dies.log.append(("checkpoint", sequence_number))

    dies.checkpoint = checkpoint  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        first.process_records(process_input(batch, dies))
    assert len(first.keys) == 2 and len(dies.checkpoints) == 1
    resume = int(dies.checkpoints[0])  # sequence numbers here are 1..30

    second = sink(LocalRawZone(tmp_path), buffer_bytes=600)
    second.initialize(initialize_input(SHARD, str(resume)))
    done = RecordingCheckpointer()
    for start in range(resume, 30, 3):  # smaller GetRecords pages this time
        second.process_records(process_input(batch[start:start + 3], done))
    second.shutdown_requested(_with_checkpointer(messages.ShutdownRequestedInput, done))

    assert second.keys[0] == first.keys[1]
    on_disk = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.gz")}
    assert on_disk == {first.keys[0], *second.keys}
    ids = sorted(orjson.loads(line)["event_id"] for line in raw_lines(tmp_path))
    assert ids == sorted(f"e-{n}" for n in range(1, 31))
    assert done.checkpoints[-1] == "30"


def test_a_failed_write_keeps_the_records_and_checkpoints_nothing() -> None:
    class Flaky(MemoryStore):
        fail = True

        def put(self, key: str, body: bytes) -> None:
            if self.fail:
                raise OSError("disk full")
            super().put(key, body)

    store, checkpointer = Flaky(), RecordingCheckpointer()
    processor = sink(store, buffer_bytes=200)
    with pytest.raises(ConsumerError, match="cannot write .* disk full"):
        processor.process_records(process_input(records(1, 5), checkpointer))
    assert checkpointer.checkpoints == [] and len(processor.buffer.lines) >= 1
    store.fail = False
    processor.process_records(process_input(records(6, 5), checkpointer))
    processor.shutdown_requested(_with_checkpointer(messages.ShutdownRequestedInput, checkpointer))
    assert sorted(orjson.loads(line)["event_id"] for line in store.lines()) == sorted(f"e-{n}" for n in range(1, 11))
    assert checkpointer.checkpoints[-1] == "10"


def _with_checkpointer(kind, checkpointer):
    action = {"ShutdownRequestedInput": "shutdownRequested", "ShardEndedInput": "shardEnded"}[kind.__name__]
    message = kind({"action": action})
    message._checkpointer = checkpointer
    return message


def test_checkpoint_throttling_is_retried_with_backoff_then_reported() -> None:
    sleeps: list[float] = []
    throttled = RecordingCheckpointer(errors=[CheckpointError("ThrottlingException")] * 2)
    processor = sink(MemoryStore(), buffer_bytes=10, sleeps=sleeps)
    processor.process_records(process_input(records(1, 1), throttled))
    assert throttled.checkpoints == ["1"] and sleeps == [0.2, 0.4]
    assert processor.counters.checkpoint_retries == 2

    always = RecordingCheckpointer(errors=[CheckpointError("ThrottlingException")] * 10)
    with pytest.raises(ConsumerError, match="after 6 attempt.*ThrottlingException"):
        processor.process_records(process_input(records(2, 1), always))
    broken = RecordingCheckpointer(errors=[CheckpointError("InvalidStateException")])
    with pytest.raises(ConsumerError, match="InvalidStateException"):
        processor.process_records(process_input(records(3, 1), broken))


def test_a_moved_lease_is_not_an_error_and_lease_lost_checkpoints_nothing() -> None:
    store = MemoryStore()
    processor = sink(store, buffer_bytes=10)
    moved = RecordingCheckpointer(errors=[CheckpointError("ShutdownException")])
    processor.process_records(process_input(records(1, 1), moved))  # written, checkpoint refused
    assert len(store.objects) == 1 and moved.errors == []

    processor.buffer_bytes = 10**6
    processor.process_records(process_input(records(2, 4), RecordingCheckpointer()))
    processor.lease_lost(messages.LeaseLostInput({"action": "leaseLost"}))
    assert len(store.objects) == 1 and processor.buffer.lines == []


def test_shard_end_writes_what_is_left_then_checkpoints_the_end() -> None:
    log: list = []
    store, checkpointer = MemoryStore(log), RecordingCheckpointer(log)
    processor = sink(store)
    processor.process_records(process_input(records(1, 4), checkpointer))
    processor.shard_ended(_with_checkpointer(messages.ShardEndedInput, checkpointer))
    assert [action for action, _ in log] == ["put", "checkpoint", "checkpoint"]
    assert checkpointer.checkpoints == ["4", None]  # None: kclpy's "at the end of the shard"
    body = next(iter(store.objects.values()))
    assert body == encode(stamp_received(event_line(n), ARRIVAL_MS + n)[0] for n in range(1, 5))
    assert gzip.decompress(body).count(b"\n") == 4
