"""The real-time QoE monitor as a KCL record processor (amazon-kclpy v3 interface).

One processor per shard. Each batch: decode and validate the records' NDJSON
lines (bad ones counted by reason and skipped), derive each event's time, feed
the windows; rows of windows that closed go to the live table, then the alert
rules are evaluated over every window all shards have closed, then the shard is
checkpointed up to the last record whose events all sit in written windows (a
restart re-reads the rest and rebuilds the open windows).

A shard with no records for `idle_after_ms` of the processor's own clock is
marked idle and stops holding back the alerts of the others (store.complete_until_of);
its next progress report makes it hold back again.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from amazon_kclpy.v3.processor import RecordProcessorBase

from consumers.checkpoint import checkpoint
from consumers.monitor.alerts import Alerting
from consumers.monitor.rows import WindowRow
from consumers.monitor.store import LiveStore
from consumers.monitor.windows import Monitor
from schemas.contract import E
from schemas.validate import check_line, ingest_time_violations

logger = logging.getLogger(__name__)

_MAX_CATCH_UP = 60  # windows


@dataclass
class ProcessorCounters:
    records: int = 0
    lines: int = 0
    rejected: Counter = field(default_factory=Counter)  # reason -> lines skipped
    rows_written: int = 0
    write_failures: int = 0
    checkpoints: int = 0


def event_time(event: dict[str, Any], arrival_ms: int) -> tuple[int, int]:
    """(derived event time, received_ts): player-events.md, Time.

    `received_ts` is the collector's when it set one, else the record's arrival,
    as the lake sink stamps it."""
    received = event.get(E.received_ts)
    if received is None:
        received = arrival_ms
    sent = event.get(E.sent_ts)
    ts = event[E.event_ts]
    return (received - (sent - ts) if sent is not None else ts), received


class QoeMonitorProcessor(RecordProcessorBase):
    def __init__(self, *, store: LiveStore, alerting: Alerting | None, lateness_ms: int,
                 checkpoint_attempts: int = 5, idle_after_ms: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`idle_after_ms` is processing time (default: the lateness, the time the
        others' windows wait for late events anyway); `clock` gives seconds."""
        self.store = store
        self.alerting = alerting
        self.lateness_ms = lateness_ms
        self.checkpoint_attempts = checkpoint_attempts
        self.idle_after_ms = lateness_ms if idle_after_ms is None else idle_after_ms
        self.clock = clock
        self.counters = ProcessorCounters()
        self.shard_id = ""
        self._reset()

    def _reset(self) -> None:
        self.monitor = Monitor(lateness_ms=self.lateness_ms)
        self._unwritten: list[WindowRow] = []
        # (sequence, sub-sequence, newest event time or None) of records not yet safe.
        self._records: deque[tuple[str, int | None, int | None]] = deque()
        self._known_series: set[str] = set()
        self._evaluated_until: int | None = None
        self._idle = False
        self._last_input_s = self.clock()

    # --- the v3 interface ------------------------------------------------------------

    def initialize(self, initialize_input: Any) -> None:
        self.shard_id = initialize_input.shard_id
        self._reset()
        self.store.register_shard(self.shard_id)

    def process_records(self, process_records_input: Any) -> None:
        records = process_records_input.records
        for record in records:
            self._add(record)
        self._note_input(bool(records))
        self._flush(self.monitor.advance())
        self._checkpoint_safe(process_records_input.checkpointer)

    def shard_ended(self, shard_ended_input: Any) -> None:
        # Nothing more will come from this shard: close every window, hold nobody back.
        self._flush(self.monitor.close_all(), ended=True)
        self._checkpoint(shard_ended_input.checkpointer, None, None)

    def shutdown_requested(self, shutdown_requested_input: Any) -> None:
        # Every process_records writes the windows the watermark closed, so only rows
        # whose write failed can be left: one more try, then checkpoint what is safe.
        # Open windows are not written (their late events may still come): the next
        # owner re-reads their records from the checkpoint and rebuilds them.
        if self._unwritten:
            self._flush([])
        self._checkpoint_safe(shutdown_requested_input.checkpointer)

    def lease_lost(self, lease_lost_input: Any) -> None:
        logger.warning("qoe monitor: lease on %s lost; %d open sessions dropped",
                       self.shard_id, self.monitor.open_sessions)
        self._reset()

    # --- input ----------------------------------------------------------------------

    def _note_input(self, any_records: bool) -> None:
        """Mark the shard idle after `idle_after_ms` without records (both runners call
        process_records for empty batches too: kcl.properties,
        callProcessRecordsEvenForEmptyRecordList)."""
        now = self.clock()
        if any_records:
            self._last_input_s, self._idle = now, False
            return
        if self._idle or (now - self._last_input_s) * 1000 < self.idle_after_ms:
            return
        if self.monitor.closed_before is None:
            # No progress to report, so _flush writes none: mark it here (before
            # `_idle`, so a failed write is tried again with the next batch).
            self.store.set_idle(self.shard_id)
        self._idle = True
        logger.info("qoe monitor: %s idle for %d ms: it no longer holds back alerts",
                    self.shard_id, self.idle_after_ms)

    def _add(self, record: Any) -> None:
        self.counters.records += 1
        arrival = record.timestamp_millis
        newest: int | None = None
        for line in record.binary_data.split(b"\n"):
            if not line.strip():
                continue
            self.counters.lines += 1
            event, violations = check_line(line)
            if violations or event is None:
                self.counters.rejected[str(violations[0].reason) if violations else "not_an_object"] += 1
                continue
            time_ms, received = event_time(event, arrival)
            # Ingest's own bounds (player-events.md, Time), against the server clock.
            if out_of_window := ingest_time_violations(event, received):
                self.counters.rejected[out_of_window[0].reason] += 1
                continue
            if self.monitor.add(event, time_ms):
                newest = time_ms if newest is None else max(newest, time_ms)
        self._records.append((record.sequence_number, record.sub_sequence_number, newest))

    # --- output ---------------------------------------------------------------------

    def _flush(self, rows: list[WindowRow], *, ended: bool = False) -> None:
        self._unwritten.extend(rows)
        if self._unwritten:
            try:
                new_series = {row.series for row in self._unwritten} - self._known_series
                self.store.register_series(sorted(new_series))
                self._known_series |= new_series
                self.counters.rows_written += self.store.put_rows(self._unwritten, shard_id=self.shard_id)
            except Exception:  # kept, and tried again with the next batch; not checkpointed
                self.counters.write_failures += 1
                logger.exception("qoe monitor: cannot write %d live rows of %s", len(self._unwritten), self.shard_id)
                return
            self._unwritten = []
        closed_before = self.monitor.closed_before
        if closed_before is None and not ended:
            return
        self.store.set_progress(self.shard_id, int(closed_before or 0), ended=ended, idle=self._idle)
        self._evaluate_alerts()

    def _evaluate_alerts(self) -> None:
        if self.alerting is None:
            return
        complete = self.store.complete_until()
        if complete is None:
            return
        window = self.monitor.window_ms
        last = complete - window  # the newest window every running shard closed
        first = last if self._evaluated_until is None else self._evaluated_until + window
        first = max(first, last - (_MAX_CATCH_UP - 1) * window)  # after an outage, only the recent past
        for start in range(first, last + 1, window):
            self.alerting.evaluate_window(start)
        self._evaluated_until = max(last, self._evaluated_until or last)

    def _checkpoint_safe(self, checkpointer: Any) -> None:
        """Checkpoint after the last record whose events all sit in written windows."""
        if self._unwritten:
            return
        closed_before = self.monitor.closed_before
        safe = None
        while self._records and (self._records[0][2] is None or
                                 (closed_before is not None and self._records[0][2] < closed_before)):
            safe = self._records.popleft()
        if safe is not None:
            self._checkpoint(checkpointer, safe[0], safe[1])

    def _checkpoint(self, checkpointer: Any, sequence: str | None, sub_sequence: int | None) -> None:
        if checkpoint(checkpointer, sequence, sub_sequence, who="qoe monitor", shard_id=self.shard_id,
                      attempts=self.checkpoint_attempts, backoff_s=0.2, sleep=time.sleep):
            self.counters.checkpoints += 1
