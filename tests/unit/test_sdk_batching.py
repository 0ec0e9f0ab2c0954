"""The batching function, driven directly on a plain queue with an injected clock.

No thread: `next_batch` is called in a loop the way the worker calls it, and
every batch it returns is checked against the PutRecords limits.
"""

from __future__ import annotations

import functools
import queue
import threading
from collections import defaultdict

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producers.sdk import (
    PUT_RECORDS_MAX_BYTES,
    PUT_RECORDS_MAX_RECORD_BYTES,
    PUT_RECORDS_MAX_RECORDS,
    MemorySink,
    Record,
    SdkConfig,
)
from producers.sdk.batching import Batch, EventBuffer, next_batch
from producers.sdk.records import RECORD_TOO_LARGE, Entry, to_entry
from producers.sdk.worker import Delivery

MIB = 1024 * 1024
# The most digits a stamp can have (a signed 64-bit integer): records stamped
# with it are the largest the batcher can ever produce.
WIDEST_STAMP = -(2**63)


def prepare(*, max_record_bytes: int = PUT_RECORDS_MAX_RECORD_BYTES):
    return functools.partial(to_entry, max_record_bytes=max_record_bytes, now_ms=lambda: 1_700_000_000_000)


def frozen_clock() -> float:
    """A clock that never moves: only an empty queue ends a batch early."""
    return 100.0


def drain(source: queue.Queue, *, max_records: int, max_bytes: int, max_record_bytes: int) -> list[Batch]:
    """Call next_batch until the queue is empty, passing each overflow on, as the worker does."""
    batches: list[Batch] = []
    carry: Entry | None = None
    while True:
        batch = next_batch(
            source,
            prepare=prepare(max_record_bytes=max_record_bytes),
            max_records=max_records,
            max_bytes=max_bytes,
            max_wait_s=0.001,  # real seconds an empty queue.Queue waits before Empty
            clock=frozen_clock,
            carry=carry,
        )
        carry = batch.overflow
        if not batch.resolved and carry is None:
            return batches
        batches.append(batch)


def queued(events: list[dict]) -> queue.Queue:
    source: queue.Queue = queue.Queue()
    for event in events:
        source.put((event, 0))
    return source


keys = st.sampled_from(["ps-a", "ps-b", "ps-ü", "x" * 256, "y" * 300, "ps-" + "🎬" * 10])
# Mostly small events, with some close to and beyond the 1 MiB record limit.
pad_sizes = st.one_of(
    st.integers(0, 3_000),
    st.integers(MIB - 400, MIB + 100),
    st.integers(300_000, 900_000),
)


@st.composite
def event_lists(draw: st.DrawFn) -> list[dict]:
    count = draw(st.integers(0, 40))
    events = []
    for index in range(count):
        event = {"play_session_id": draw(keys), "i": index, "pad": "p" * draw(pad_sizes)}
        if draw(st.booleans()):
            event["sent_ts"] = draw(st.integers(0, 2**62))
        events.append(event)
    return events


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    events=event_lists(),
    max_records=st.integers(1, PUT_RECORDS_MAX_RECORDS),
    max_bytes=st.integers(PUT_RECORDS_MAX_RECORD_BYTES, PUT_RECORDS_MAX_BYTES),
)
def test_batches_keep_the_put_records_limits_lose_nothing_and_keep_key_order(
    events: list[dict], max_records: int, max_bytes: int
) -> None:
    batches = drain(
        queued(events), max_records=max_records, max_bytes=max_bytes, max_record_bytes=PUT_RECORDS_MAX_RECORD_BYTES
    )

    delivered: list[dict] = []
    rejected_indexes: set[int] = set()
    for batch in batches:
        records = [entry.record(WIDEST_STAMP) for entry in batch.entries]
        assert len(records) <= min(max_records, PUT_RECORDS_MAX_RECORDS)
        assert records or batch.rejected  # no empty call to the sink
        assert sum(r.size for r in records) <= min(max_bytes, PUT_RECORDS_MAX_BYTES)
        for record in records:
            assert record.size <= PUT_RECORDS_MAX_RECORD_BYTES
            assert len(record.partition_key) <= 256
            assert record.data.endswith(b"\n")
            delivered.append(orjson.loads(record.data))
        for rejected in batch.rejected:
            assert rejected.reason == RECORD_TOO_LARGE
            assert isinstance(rejected.subject, Record)
            index = orjson.loads(rejected.subject.data)["i"]
            rejected_indexes.add(index)
            # Rejected only when the widest stamp would really break the limit.
            entry = to_entry((events[index], 0), max_record_bytes=10 * MIB, now_ms=int)
            assert entry.record(WIDEST_STAMP).size > PUT_RECORDS_MAX_RECORD_BYTES

    # Nothing lost, nothing twice: every index is delivered or rejected, once.
    delivered_indexes = [event["i"] for event in delivered]
    assert len(delivered_indexes) == len(set(delivered_indexes))
    assert set(delivered_indexes) | rejected_indexes == set(range(len(events)))
    assert not set(delivered_indexes) & rejected_indexes
    # Order within one partition key (play_session_id) is the order of track().
    by_key: dict[str, list[int]] = defaultdict(list)
    for event in delivered:
        by_key[event["play_session_id"]].append(event["i"])
    for indexes in by_key.values():
        assert indexes == sorted(indexes)
    # An event that came with a sent_ts keeps it.
    for event in delivered:
        original = events[event["i"]]
        if "sent_ts" in original:
            assert event["sent_ts"] == original["sent_ts"]
        else:
            assert event["sent_ts"] == WIDEST_STAMP


def test_count_limit_with_the_real_constants() -> None:
    events = [{"play_session_id": f"ps-{i % 7}", "i": i} for i in range(1_201)]
    batches = drain(queued(events), max_records=500, max_bytes=PUT_RECORDS_MAX_BYTES, max_record_bytes=MIB)
    assert [len(batch.entries) for batch in batches] == [500, 500, 201]


def test_byte_limit_with_the_real_constants() -> None:
    # 900 KiB each: five make 4.4 MiB, a sixth would pass 5 MiB.
    events = [{"play_session_id": "ps", "i": i, "pad": "p" * 900 * 1024} for i in range(12)]
    batches = drain(queued(events), max_records=500, max_bytes=PUT_RECORDS_MAX_BYTES, max_record_bytes=MIB)
    assert [len(batch.entries) for batch in batches] == [5, 5, 2]
    assert all(batch.size <= PUT_RECORDS_MAX_BYTES for batch in batches)
    # The entry that did not fit opened the next batch, in order.
    firsts = [orjson.loads(batch.entries[0].body)["i"] for batch in batches]
    assert firsts == [0, 5, 10]


class RecordingQueue(queue.Queue):
    """A plain queue that remembers how it was asked for each item."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[bool, float | None]] = []

    def get(self, block: bool = True, timeout: float | None = None):  # type: ignore[override]
        self.asked.append((block, timeout))
        return super().get(block, timeout)


def test_waits_only_the_time_left_and_stops_waiting_at_the_deadline() -> None:
    ticks = iter([0.0, 0.25, 0.75, 1.5, 2.0])
    source = RecordingQueue()
    for i in range(2):
        source.put(({"play_session_id": "ps", "i": i}, 0))

    batch = next_batch(
        source, prepare=prepare(), max_records=500, max_bytes=PUT_RECORDS_MAX_BYTES,
        max_wait_s=1.0, clock=lambda: next(ticks),
    )

    assert [orjson.loads(e.body)["i"] for e in batch.entries] == [0, 1]
    # 0.75 then 0.25 seconds left; past the deadline it only takes what is there.
    assert source.asked == [(True, 0.75), (True, 0.25), (False, None)]


def test_a_deadline_already_passed_still_drains_what_is_queued() -> None:
    ticks = iter([0.0] + [5.0] * 10)
    source = queued([{"play_session_id": "ps", "i": i} for i in range(3)])
    batch = next_batch(
        source, prepare=prepare(), max_records=2, max_bytes=PUT_RECORDS_MAX_BYTES,
        max_wait_s=1.0, clock=lambda: next(ticks),
    )
    assert len(batch.entries) == 2 and source.qsize() == 1


def test_rejected_items_count_as_resolved_and_the_carry_is_not_counted_twice() -> None:
    source = queued([
        {"play_session_id": "ps", "i": 0, "pad": "p" * (MIB + 10)},  # too large
        {"play_session_id": "ps", "i": 1, "pad": "p" * 700_000},
        {"play_session_id": "ps", "i": 2, "pad": "p" * 700_000},  # does not fit 1 MiB batches
    ])
    first = next_batch(source, prepare=prepare(), max_records=500, max_bytes=MIB, max_wait_s=0.001, clock=frozen_clock)
    assert (len(first.entries), len(first.rejected), first.resolved) == (1, 1, 2)
    assert first.overflow is not None
    second = next_batch(
        source, prepare=prepare(), max_records=500, max_bytes=MIB, max_wait_s=0.001,
        clock=frozen_clock, carry=first.overflow,
    )
    assert (len(second.entries), second.resolved, second.overflow) == (1, 1, None)


# EventBuffer: the tracker's queue, whose join(timeout) is what flush() waits on.


def test_buffer_is_bounded_and_counts_what_it_refuses() -> None:
    buffer = EventBuffer(3)
    results = [buffer.put(i) for i in range(5)]
    assert results == [True, True, True, False, False]
    assert (buffer.accepted, buffer.dropped, len(buffer)) == (3, 2, 3)
    buffer.close()
    assert buffer.get(False) == 0
    assert buffer.put(9) is False and buffer.dropped == 3


def test_join_waits_for_task_done_and_times_out() -> None:
    buffer = EventBuffer(10)
    buffer.put("a")
    buffer.put("b")
    assert buffer.join(timeout=0.01) is False
    buffer.get()
    buffer.get()
    buffer.task_done(1)
    assert buffer.join(timeout=0.01) is False
    buffer.task_done(1)
    assert buffer.join(timeout=0.01) is True


def test_join_covers_only_what_was_accepted_before_it() -> None:
    buffer = EventBuffer(10)
    buffer.put("old")
    outcome: list[bool] = []
    joiner = threading.Thread(target=lambda: outcome.append(buffer.join(timeout=5)))
    joiner.start()
    assert buffer.get() == "old"
    buffer.put("new")  # after the join started: not its business
    buffer.task_done(1)
    joiner.join(5)
    assert outcome == [True]
    assert len(buffer) == 1


def test_an_empty_closed_or_flushing_buffer_does_not_make_the_consumer_wait() -> None:
    buffer = EventBuffer(10, fill_target=5)
    buffer.put("x")
    buffer.get()  # taken but not done, as in a batch being filled
    outcome: list[bool] = []
    joiner = threading.Thread(target=lambda: outcome.append(buffer.join(timeout=5)))
    joiner.start()
    try:
        # The flush above makes get() give up at once instead of waiting 30 s.
        raised = False
        try:
            buffer.get(timeout=30)
        except queue.Empty:
            raised = True
        assert raised
    finally:
        buffer.task_done(1)
        joiner.join(5)
    assert outcome == [True]
    buffer.close()
    try:
        buffer.get(timeout=30)
    except queue.Empty:
        pass
    else:
        raise AssertionError("a closed, empty buffer returned an item")


def test_the_consumer_sleeps_until_a_batch_worth_has_arrived() -> None:
    buffer = EventBuffer(100, fill_target=3)
    got: list[object] = []
    consumer = threading.Thread(target=lambda: got.append(buffer.get(timeout=10)))
    consumer.start()
    buffer.put("a")
    buffer.put("b")
    consumer.join(0.05)
    assert consumer.is_alive()  # two of three: still asleep
    buffer.put("c")
    consumer.join(5)
    assert got == ["a"] and len(buffer) == 2


def test_a_batch_delivered_without_a_thread_retries_only_the_failed_entries() -> None:
    """The worker's two steps, batch then deliver, on a plain queue and a scripted sink."""
    source = queued([{"play_session_id": f"ps-{i}", "i": i} for i in range(3)])
    batch = next_batch(
        source, prepare=prepare(), max_records=500, max_bytes=PUT_RECORDS_MAX_BYTES,
        max_wait_s=0.001, clock=frozen_clock,
    )
    sink = MemorySink(script=[[None, "InternalFailure", None]])
    waits: list[float] = []
    ticks = iter([10, 20])
    delivery = Delivery(
        sink, config=SdkConfig(backoff_base_s=0.5), clock=lambda: next(ticks), on_error=None,
        sleep=waits.append, jitter=lambda ceiling: ceiling,
    )
    delivery.deliver(batch)

    assert [[orjson.loads(r.data)["i"] for r in call] for call in sink.calls] == [[0, 1, 2], [1]]
    assert [orjson.loads(r.data)["sent_ts"] for r in sink.calls[1]] == [20]
    assert [e["i"] for e in sink.events()] == [0, 2, 1]
    assert (delivery.tally.sent, delivery.tally.retried, delivery.tally.failed) == (3, 1, 0)
    assert waits == [0.5]
