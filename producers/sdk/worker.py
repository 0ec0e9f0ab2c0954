"""The worker: send each batch, retry what failed, account for every event.

It runs on one daemon thread and is the only writer of the delivery counters,
so they need no lock. Nothing here raises into the thread's loop: a sink or a
callback that fails becomes a reason given to on_error, and the next batch goes.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from producers.sdk.batching import Batch, EventBuffer, next_batch
from producers.sdk.config import SdkConfig
from producers.sdk.records import Entry, Record
from producers.sdk.sinks import Sink, SinkError

logger = logging.getLogger(__name__)

# What on_error receives: the Record when the event had become one (it is too
# large, or its delivery failed), else the event as given to track().
OnError = Callable[[Mapping[str, Any] | Record, str], None]


def full_jitter(ceiling: float) -> float:
    """AWS's "full jitter": uniform in [0, ceiling], so retrying clients spread out."""
    return random.uniform(0.0, ceiling)


@dataclass(slots=True)
class Tally:
    """Delivery counters, written by the worker thread only."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    invalid: int = 0


class Delivery:
    """Sends one batch to the sink until each record is stored or has failed over."""

    def __init__(
        self,
        sink: Sink,
        *,
        config: SdkConfig,
        clock: Callable[[], int],
        on_error: OnError | None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[float], float] = full_jitter,
        tally: Tally | None = None,
    ) -> None:
        self._sink = sink
        self._config = config
        self._clock = clock
        self._on_error = on_error
        self._sleep = sleep
        self._jitter = jitter
        self.tally = tally if tally is not None else Tally()

    def deliver(self, batch: Batch) -> None:
        for rejected in batch.rejected:
            if rejected.invalid:
                self.tally.invalid += 1
            else:
                self.tally.failed += 1
        self._report([(r.subject, r.reason) for r in batch.rejected])
        if batch.entries:
            self._send(batch.entries)

    def backoff(self, attempt: int) -> float:
        """The wait before retry number `attempt` (0-based): jittered, capped."""
        config = self._config
        ceiling = min(config.backoff_cap_s, config.backoff_base_s * 2 ** min(attempt, 62))
        return self._jitter(ceiling)

    def _send(self, pending: list[Entry]) -> None:
        attempt = 0
        while True:
            now = self._clock()  # sent_ts: when this attempt leaves
            records = [entry.record(now) for entry in pending]
            try:
                codes = self._sink.send(records)
                if len(codes) != len(records):
                    raise SinkError(f"sink answered {len(codes)} results for {len(records)} records", retryable=False)
            except Exception as exc:
                retryable = isinstance(exc, SinkError) and exc.retryable
                if retryable and attempt < self._config.max_retries:
                    self._sleep(self.backoff(attempt))
                    attempt += 1
                    self.tally.retried += len(pending)
                    continue
                reason = str(exc) if isinstance(exc, SinkError) else f"{type(exc).__name__}: {exc}"
                self.tally.failed += len(records)
                self._report([(record, reason) for record in records])
                return
            if codes.count(None) == len(codes):
                self.tally.sent += len(codes)
                return
            failed = [i for i, code in enumerate(codes) if code is not None]
            self.tally.sent += len(codes) - len(failed)
            if attempt >= self._config.max_retries:
                self.tally.failed += len(failed)
                self._report([(records[i], str(codes[i])) for i in failed])
                return
            self._sleep(self.backoff(attempt))
            attempt += 1
            pending = [pending[i] for i in failed]
            self.tally.retried += len(pending)

    def _report(self, failures: list[tuple[Mapping[str, Any] | Record, str]]) -> None:
        if not failures:
            return
        if self._on_error is None:
            reasons = sorted({reason.split(":", 1)[0] for _, reason in failures})
            logger.warning("%d events not delivered (%s); pass on_error to handle them", len(failures), ", ".join(reasons))
            return
        for subject, reason in failures:
            try:
                self._on_error(subject, reason)
            except Exception:
                logger.exception("on_error raised; the event stays counted as failed")


def run(
    buffer: EventBuffer,
    delivery: Delivery,
    *,
    prepare: Callable[[Any], Entry],
    config: SdkConfig,
) -> None:
    """The worker thread's loop: batch, deliver, mark done; until closed and drained."""
    carry: Entry | None = None
    while True:
        batch = Batch()
        try:
            batch = next_batch(
                buffer,
                prepare=prepare,
                max_records=config.max_batch_records,
                max_bytes=config.max_batch_bytes,
                max_wait_s=config.flush_interval_s,
                carry=carry,
            )
            carry = batch.overflow
            delivery.deliver(batch)
        except Exception:  # a bug here must not kill the thread and strand the queue
            logger.exception("SDK worker failed on a batch; continuing")
        finally:
            buffer.task_done(batch.resolved)
        if not batch.resolved and carry is None and buffer.closed and not len(buffer):
            return
