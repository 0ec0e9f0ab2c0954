"""The public face of the SDK: `Tracker`.

`track()` only appends to a bounded buffer; everything that costs (serialising,
validating, batching, sending, retrying) happens on one daemon worker thread, so
a player's thread never waits on the network and never sees an exception from
the pipeline.
"""

from __future__ import annotations

import atexit
import functools
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from producers.events import now_ms
from producers.sdk import worker
from producers.sdk.batching import EventBuffer
from producers.sdk.config import Counters, SdkConfig
from producers.sdk.records import contract_validator, to_entry
from producers.sdk.sinks import Sink
from producers.sdk.worker import Delivery, OnError, Tally, full_jitter


class Tracker:
    """Queues events and delivers them to a sink in PutRecords-sized batches.

    One tracker per process (or per destination) is enough: track() may be
    called from any thread. Call shutdown(), or use `with Tracker(...) as t:`;
    an atexit hook otherwise delivers what is queued when the program ends
    (waiting at most `config.exit_timeout_s`). `clock` returns epoch
    milliseconds: it stamps `sent_ts`.

    Records of one play session leave in track() order, but a retried record
    arrives after records that succeeded the first time; the contract restores
    order from (`event_ts`, `seq`), never from arrival (player-events.md, Delivery).

    `on_error(subject, reason)` is called on the worker thread, once for every
    event that will not be delivered, with:

    - the `Record` (bytes and partition key, stamped with the last attempt's
      `sent_ts`) when the event had become one: `"record_too_large"` (data + key
      over 1 MiB; never sent), an entry's Kinesis `ErrorCode` (for example
      `"ProvisionedThroughputExceededException"`) once `max_retries` retries are
      used up, or `"<Code>: <message>"` of a whole call that failed and may not
      (or may no longer) be retried;
    - the event itself (a dict copy when another Mapping was given) when it never
      became a record: `"invalid_event: field=reason, ..."` (validation on; the
      reasons of schemas.validate), `"unserialisable: ..."`,
      `"missing_partition_key"` (no play_session_id), `"invalid_clock_offset: ..."`.

    Events refused by track() (queue full, or after shutdown) never reach
    on_error: track() returned False and `counters.dropped` counts them. Without
    on_error, failures are logged as warnings (one line per batch). An exception
    raised by on_error is logged and ignored.

    `sleep` and `jitter` exist so tests can observe the backoff without waiting.
    """

    def __init__(
        self,
        sink: Sink,
        *,
        config: SdkConfig = SdkConfig(),
        on_error: OnError | None = None,
        clock: Callable[[], int] = now_ms,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[float], float] = full_jitter,
    ) -> None:
        self._config = config
        self._buffer = EventBuffer(config.queue_size, fill_target=config.max_batch_records)
        self._put = self._buffer.put
        self._tally = Tally()
        self._delivery = Delivery(
            sink, config=config, clock=clock, on_error=on_error, sleep=sleep, jitter=jitter, tally=self._tally
        )
        prepare = functools.partial(
            to_entry,
            max_record_bytes=config.max_record_bytes,
            now_ms=clock,
            validator=contract_validator() if config.validate else None,
        )
        self._thread = threading.Thread(
            target=worker.run,
            args=(self._buffer, self._delivery),
            kwargs={"prepare": prepare, "config": config},
            name="ottlake-sdk-worker",
            daemon=True,
        )
        self._shutdown_lock = threading.Lock()
        self._thread.start()
        # A program that forgets shutdown() still delivers what it queued.
        atexit.register(self._at_exit)

    def track(self, event: Mapping[str, Any], *, clock_offset_ms: int = 0) -> bool:
        """Queue one event; False when it was dropped (queue full, or shut down).

        Never blocks and never raises. The event is serialised later, on the
        worker: do not change it after handing it over. `clock_offset_ms` is added
        to this tracker's clock for the event's `sent_ts`, for relays that emit
        for many devices whose clocks differ; an event that already has a
        `sent_ts` keeps it.
        """
        return self._put((event, clock_offset_ms))

    def track_all(self, events: list[Mapping[str, Any]]) -> bool:
        """Queue all of `events` or none of them; False when they do not all fit (or
        after shutdown). For relays such as the collector, which must answer a whole
        request "accepted" or "try again", never half of it. Never blocks."""
        return self._buffer.put_all([(event, 0) for event in events])

    @property
    def queue_depth(self) -> int:
        """Events waiting for the worker (not counting the batch it holds)."""
        return len(self._buffer)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every event queued before this call is delivered or failed over.

        The worker stops waiting for a full batch and sends at once. Returns False
        if `timeout` seconds passed first, or when called from on_error (the worker
        cannot wait for itself).
        """
        if threading.current_thread() is self._thread:
            return False
        return self._buffer.join(timeout)

    def shutdown(self, timeout: float | None = None) -> None:
        """Refuse new events, deliver the queued ones, and stop the worker.

        After `timeout` seconds it returns anyway; what is still undelivered then
        shows in `counters.in_flight` (the daemon worker goes on until the
        process exits). Safe to call more than once.
        """
        with self._shutdown_lock:
            if not self._buffer.closed:
                self._buffer.close()
                atexit.unregister(self._at_exit)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    @property
    def counters(self) -> Counters:
        """A snapshot; delivery counters are read first so `in_flight` is never negative."""
        tally = self._tally
        sent, retried, failed, invalid = tally.sent, tally.retried, tally.failed, tally.invalid
        return Counters(
            queued=self._buffer.accepted,
            sent=sent,
            retried=retried,
            failed=failed,
            dropped=self._buffer.dropped,
            invalid=invalid,
        )

    @property
    def running(self) -> bool:
        """Whether the worker thread is alive (False once shutdown has drained it)."""
        return self._thread.is_alive()

    def __enter__(self) -> Tracker:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.shutdown()

    def _at_exit(self) -> None:
        self.shutdown(self._config.exit_timeout_s)
