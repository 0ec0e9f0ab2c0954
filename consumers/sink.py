"""The lake sink: a record processor that writes the player-event stream to the raw zone.

One processor per shard (KCL's model). Records are buffered until the buffer
holds `buffer_bytes` or its first record waited `buffer_seconds` (Firehose's two
buffering hints), then written as one gzip NDJSON object in Firehose's key
layout (schemas.layout), and only then checkpointed. The object's name comes
from the shard id and the first record's sequence number and arrival time, so a
restart, which resumes after the last checkpoint, starts the same object again
and replaces it: nothing is lost, and the sink adds no copy of its own.

The same class runs under the KCL MultiLangDaemon (consumers.kcl_entry) and
under the in-process driver (consumers.driver): it only sees amazon-kclpy's v3
messages and a checkpointer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from amazon_kclpy.v3.processor import RecordProcessorBase

from consumers.checkpoint import checkpoint
from consumers.raw_zone import open_raw_zone, stamp_received
from ottlake.errors import ConsumerError
from schemas.layout import RawZoneStore, encode, object_key

if TYPE_CHECKING:
    from ottlake.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class _Buffer:
    """Lines waiting for the next object, and where they came from."""

    lines: list[bytes] = field(default_factory=list)
    size: int = 0
    first_sequence: str | None = None
    first_arrival_ms: int = 0
    last_sequence: str | None = None
    last_sub_sequence: int | None = None
    opened_at: float = 0.0  # monotonic time of the first record


@dataclass
class SinkCounters:
    records: int = 0
    objects: int = 0
    checkpoints: int = 0
    checkpoint_retries: int = 0


class LakeSinkProcessor(RecordProcessorBase):
    """Buffers one shard's records into raw objects; checkpoints after each durable write."""

    def __init__(
        self,
        store: RawZoneStore,
        *,
        stream_name: str,
        buffer_bytes: int,
        buffer_seconds: float,
        checkpoint_attempts: int = 6,
        backoff_s: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.stream_name = stream_name
        self.buffer_bytes = buffer_bytes
        self.buffer_seconds = buffer_seconds
        self.checkpoint_attempts = checkpoint_attempts
        self.backoff_s = backoff_s
        self.clock = clock
        self.sleep = sleep
        self.shard_id = ""
        self.buffer = _Buffer()
        self.counters = SinkCounters()
        self.keys: list[str] = []  # every object this processor wrote, in order

    # --- the v3 record processor interface ---------------------------------------

    def initialize(self, initialize_input: Any) -> None:
        self.shard_id = initialize_input.shard_id
        self.buffer = _Buffer()
        logger.info("lake sink: shard %s from %s", self.shard_id, initialize_input.sequence_number)

    def process_records(self, process_records_input: Any) -> None:
        checkpointer = process_records_input.checkpointer
        # After a failed write or checkpoint the rest of the batch must still be
        # buffered: the daemon will not deliver these records again.
        failure: ConsumerError | None = None
        for record in process_records_input.records:
            self._add(record)
            if failure is None and self.buffer.size >= self.buffer_bytes:
                failure = self._try_flush(checkpointer)
        if failure is None and self._due():
            failure = self._try_flush(checkpointer)
        if failure is not None:
            raise failure

    def lease_lost(self, lease_lost_input: Any) -> None:
        # No checkpoint is possible any more; whoever holds the lease now resumes
        # from the last checkpoint and rewrites what this buffer held.
        logger.warning("lake sink: lease on %s lost; dropping %d buffered records",
                       self.shard_id, len(self.buffer.lines))
        self.buffer = _Buffer()

    def shard_ended(self, shard_ended_input: Any) -> None:
        # The shard's children start only after this checkpoint at SHARD_END.
        self._flush(shard_ended_input.checkpointer)
        self._checkpoint(shard_ended_input.checkpointer, None, None)

    def shutdown_requested(self, shutdown_requested_input: Any) -> None:
        self._flush(shutdown_requested_input.checkpointer)

    # --- buffering ---------------------------------------------------------------

    def _add(self, record: Any) -> None:
        buffer = self.buffer
        arrival_ms = record.timestamp_millis
        if buffer.first_sequence is None:
            buffer.first_sequence = record.sequence_number
            buffer.first_arrival_ms = arrival_ms
            buffer.opened_at = self.clock()
        for line in stamp_received(record.binary_data, arrival_ms):
            buffer.lines.append(line)
            buffer.size += len(line)
        buffer.last_sequence = record.sequence_number
        buffer.last_sub_sequence = record.sub_sequence_number
        self.counters.records += 1

    def _due(self) -> bool:
        buffer = self.buffer
        if buffer.first_sequence is None:
            return False
        return buffer.size >= self.buffer_bytes or self.clock() - buffer.opened_at >= self.buffer_seconds

    def _try_flush(self, checkpointer: Any) -> ConsumerError | None:
        try:
            self._flush(checkpointer)
        except ConsumerError as exc:
            return exc
        return None

    def _flush(self, checkpointer: Any) -> None:
        """Write the buffer as one object, then checkpoint its last record.

        A failed write keeps the buffer (the next call tries again, with more
        records) and raises; nothing is checkpointed past what is written."""
        buffer = self.buffer
        if buffer.first_sequence is None:
            return
        key = object_key(
            stream_name=self.stream_name,
            arrival_ms=buffer.first_arrival_ms,
            name_seed=f"{self.shard_id}:{buffer.first_sequence}",
        )
        try:
            self.store.put(key, encode(buffer.lines))
        except Exception as exc:
            raise ConsumerError(
                f"lake sink: cannot write {key} ({len(buffer.lines)} records of {self.shard_id}): {exc}"
            ) from exc
        self.buffer = _Buffer()
        self.keys.append(key)
        self.counters.objects += 1
        logger.info("lake sink: wrote %s (%d records, %d bytes)", key, len(buffer.lines), buffer.size)
        self._checkpoint(checkpointer, buffer.last_sequence, buffer.last_sub_sequence)

    def _checkpoint(self, checkpointer: Any, sequence: str | None, sub_sequence: int | None) -> None:
        """A lost lease is not an error here: the new owner resumes from the last
        checkpoint and rewrites the same objects."""

        def retried() -> None:
            self.counters.checkpoint_retries += 1

        if checkpoint(checkpointer, sequence, sub_sequence, who="lake sink", shard_id=self.shard_id,
                      attempts=self.checkpoint_attempts, backoff_s=self.backoff_s, sleep=self.sleep,
                      on_retry=retried):
            self.counters.checkpoints += 1


def make_processor(settings: Settings, *, lake: str | None = None) -> LakeSinkProcessor:
    """The lake sink for a settings object: its raw zone, stream name and buffer limits.

    Used by both runners (kcl_entry for the daemon, the driver), so they build
    the same processor."""
    root = lake or settings.lake
    try:
        store = open_raw_zone(root, s3_client_factory=lambda: settings.aws().client("s3"))
    except ValueError as exc:
        raise ConsumerError(f"lake sink: cannot open the raw zone at {root}: {exc}") from None
    return LakeSinkProcessor(
        store,
        stream_name=settings.stream_name,
        buffer_bytes=settings.sink_buffer_bytes,
        buffer_seconds=settings.sink_buffer_seconds,
    )
