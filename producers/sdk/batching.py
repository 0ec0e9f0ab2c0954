"""The tracker's bounded buffer, and the function that fills one batch from it.

`next_batch` is the whole batching policy and is pure apart from reading its
source: it takes anything with `get(block, timeout)` raising `queue.Empty` (a
plain `queue.Queue` in the tests, `EventBuffer` in the tracker) and a clock, so
it is tested without a thread.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from queue import Empty
from typing import Any, Protocol

from producers.sdk.records import Entry, Rejected


class BatchSource(Protocol):
    def get(self, block: bool = True, timeout: float | None = None) -> Any: ...


@dataclass(slots=True)
class Batch:
    """What one call of next_batch decided.

    `entries` go to the sink in this order; `rejected` go to on_error;
    `overflow` was taken from the source but did not fit the byte limit, so it
    opens the next batch (pass it back as `carry`).
    """

    entries: list[Entry] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    overflow: Entry | None = None
    size: int = 0  # bytes of the entries, as PutRecords counts them (upper bound)

    @property
    def resolved(self) -> int:
        """Queue items whose fate this batch decides: what task_done must count."""
        return len(self.entries) + len(self.rejected)


def next_batch(
    source: BatchSource,
    *,
    prepare: Callable[[Any], Entry],
    max_records: int,
    max_bytes: int,
    max_wait_s: float,
    clock: Callable[[], float] = time.monotonic,
    carry: Entry | None = None,
) -> Batch:
    """Fill one batch until `max_records`, `max_bytes` or `max_wait_s` is reached.

    The deadline ends the waiting, not the draining: once it has passed, what is
    already in the source still joins the batch (up to the limits) rather than
    waiting out another interval. `prepare` turns a queued item into an Entry or
    raises Rejected; each entry's size must not exceed `max_bytes`.
    """
    batch = Batch()
    entries = batch.entries
    if carry is not None:
        entries.append(carry)
        batch.size = carry.size
    deadline = clock() + max_wait_s
    while len(entries) < max_records:
        remaining = deadline - clock()
        try:
            item = source.get(True, remaining) if remaining > 0 else source.get(False)
        except Empty:
            break
        try:
            entry = prepare(item)
        except Rejected as rejected:
            batch.rejected.append(rejected)
            continue
        if batch.size + entry.size > max_bytes:
            batch.overflow = entry
            break
        entries.append(entry)
        batch.size += entry.size
    return batch


class EventBuffer:
    """A bounded FIFO between track() and the worker, with join-with-timeout.

    Cheaper than queue.Queue on the hot path (one uncontended lock per put, no
    lock per get), and two things queue.Queue lacks: `join(timeout)` that waits
    only for what was accepted before the call (so a steady stream of new events
    cannot starve a flush), and a consumer that sleeps until a batch's worth has
    arrived instead of waking for every event, unless a flush or a close asks
    it to hurry.
    """

    def __init__(self, maxsize: int, *, fill_target: int = 1) -> None:
        self._items: deque[Any] = deque()
        self._maxsize = maxsize
        self._fill_target = max(1, min(fill_target, maxsize))
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._all_done = threading.Condition(self._lock)
        self._consumer_waiting = False
        self._closed = False
        self._hurry = 0  # flushes in progress
        self._done = 0
        self.accepted = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, item: Any) -> bool:
        """Append without blocking; False (and counted) when full or closed."""
        with self._lock:
            if self._closed or len(self._items) >= self._maxsize:
                self.dropped += 1
                return False
            self._items.append(item)
            self.accepted += 1
            if self._consumer_waiting and len(self._items) >= self._fill_target:
                self._consumer_waiting = False
                self._not_empty.notify()
        return True

    def put_all(self, items: list[Any]) -> bool:
        """Append all of `items` or none (False, each counted as dropped): for a relay
        that answers one request for many events, so a refusal is never partial."""
        with self._lock:
            if self._closed or len(self._items) + len(items) > self._maxsize:
                self.dropped += len(items)
                return False
            self._items.extend(items)
            self.accepted += len(items)
            if self._consumer_waiting and len(self._items) >= self._fill_target:
                self._consumer_waiting = False
                self._not_empty.notify()
        return True

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """The oldest item; when there is none, wait (up to `timeout`) for a batch's worth.

        Single consumer: popleft needs no lock (deque operations are atomic), and
        the lock is only taken to sleep.
        """
        try:
            return self._items.popleft()
        except IndexError:
            if not block:
                raise Empty from None
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while len(self._items) < self._fill_target and not (self._closed or self._hurried()):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._consumer_waiting = True
                self._not_empty.wait(remaining)
                self._consumer_waiting = False
            try:
                return self._items.popleft()
            except IndexError:
                raise Empty from None

    def task_done(self, count: int = 1) -> None:
        """`count` items taken by get() are finished: delivered or failed over."""
        if count:
            with self._lock:
                self._done += count
                self._all_done.notify_all()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until everything accepted before this call is finished; False on timeout."""
        with self._lock:
            target = self.accepted
            if self._done >= target:
                return True
            self._hurry += 1
            self._wake_consumer()
            try:
                return self._all_done.wait_for(lambda: self._done >= target, timeout)
            finally:
                self._hurry -= 1

    def close(self) -> None:
        """Refuse new items; the consumer drains the rest without waiting for more."""
        with self._lock:
            self._closed = True
            self._wake_consumer()

    def _hurried(self) -> bool:
        # A flush waits only while something it covers is unfinished; once all is
        # done the consumer may sleep again instead of spinning on empty batches.
        return bool(self._hurry) and self._done < self.accepted

    def _wake_consumer(self) -> None:
        if self._consumer_waiting:
            self._consumer_waiting = False
            self._not_empty.notify()
