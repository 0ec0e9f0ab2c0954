"""Where admitted events go: the SDK's batching writer, to the stream and the dead letters.

Two Trackers (producers.sdk), each with a bounded queue: the events stream and the
dead-letter stream. A request's valid events are queued all or none
(`Tracker.track_all`): when they do not fit, the request is answered 429 and
nothing of it is kept. Shutdown flushes both queues into their streams.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from producers.collector.metrics import Metrics
from producers.sdk import Record, SdkConfig, Sink, Tracker

logger = logging.getLogger(__name__)
DEAD_LETTER_KEY = "dead-letter"  # partition key of a dead letter whose event had no play_session_id


class TimedSink:
    """A sink that observes how long each PutRecords call takes (the latency histogram)."""

    def __init__(self, sink: Sink, metrics: Metrics, stream: str) -> None:
        self._sink = sink
        self._observe = metrics.put_latency.labels(stream=stream).observe

    def send(self, records: Sequence[Record]) -> Sequence[str | None]:
        began = time.perf_counter()
        try:
            return self._sink.send(records)
        finally:
            self._observe(time.perf_counter() - began)


class Writer:
    def __init__(self, events: Sink, dead_letters: Sink, *, config: SdkConfig, metrics: Metrics,
                 names: tuple[str, str] = ("events", "dead_letters")) -> None:
        self.metrics = metrics
        self._names = names
        self._events = Tracker(TimedSink(events, metrics, names[0]), config=config,
                               on_error=self._failed(names[0]))
        self._dead = Tracker(TimedSink(dead_letters, metrics, names[1]), config=config,
                             on_error=self._failed(names[1]))
        self._depth = metrics.queue_depth.labels(stream=names[0])
        self._dead_depth = metrics.queue_depth.labels(stream=names[1])

    @staticmethod
    def _failed(stream: str) -> Any:
        def on_error(_subject: Any, reason: str) -> None:
            logger.error("collector: a record for %s was not delivered: %s", stream, reason)
        return on_error

    def put(self, events: list[dict[str, Any]]) -> bool:
        """Queue all `events` for the stream, or none (False: the queue is full)."""
        ok = not events or self._events.track_all(events)
        self._depth.set(self._events.queue_depth)
        return ok

    def dead_letter(self, letters: list[dict[str, Any]]) -> None:
        if letters and not self._dead.track_all(letters):
            self.metrics.dead_letters_dropped.inc(len(letters))
        self._dead_depth.set(self._dead.queue_depth)

    def refresh(self) -> None:
        self._depth.set(self._events.queue_depth)
        self._dead_depth.set(self._dead.queue_depth)

    def close(self, timeout_s: float) -> bool:
        """Refuse new events, deliver the queued ones; False when `timeout_s` ran out first."""
        deadline = time.monotonic() + timeout_s
        self._events.shutdown(timeout=timeout_s)
        self._dead.shutdown(timeout=max(0.1, deadline - time.monotonic()))
        left = self._events.counters.in_flight + self._dead.counters.in_flight
        if left:
            logger.error("collector: %d accepted events were not delivered before the shutdown timeout", left)
        return left == 0

    @property
    def counters(self) -> Any:
        return self._events.counters


def dead_letter_record(*, route: str, index: int, reason: str, violations: list[dict[str, str]], payload: str,
                       received_ms: int, app_id: str, key: Any) -> dict[str, Any]:
    """One dead letter: why the event was refused and the event as received.

    `play_session_id` is only the stream's partition key (the SDK keys records by it):
    the event's own when it had a usable one, else "dead-letter".
    """
    return {
        "play_session_id": key if isinstance(key, str) and key else DEAD_LETTER_KEY,
        "reason": reason,
        "violations": violations,
        "payload": payload,
        "route": route,
        "index": index,
        "app_id": app_id,
        "received_ts": received_ms,
    }
