"""The in-process shard driver: the KCL's job, small, for the embedded mode.

It reads every shard of the stream with GetRecords, keeps leases and checkpoints
in the application's KCL lease table (consumers.kcl_leases, shareable with the
real daemon), follows resharding (a child shard starts only once every parent's
lease is checkpointed at SHARD_END), and calls the same record processors the
MultiLangDaemon would, with amazon-kclpy's v3 messages and a checkpointer that
writes the lease table. One thread: shards are polled in turn, so a processor
never runs concurrently with itself or another shard's.

Like amazon-kclpy's KCLProcess, an exception from a processor is logged and the
driver goes on: the processor decides what is safe (the lake sink keeps records
it could not write and does not checkpoint past them).
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from amazon_kclpy import messages
from amazon_kclpy.checkpoint_error import CheckpointError
from botocore.exceptions import BotoCoreError, ClientError

from consumers.kcl_leases import (
    LATEST,
    SHARD_END,
    TRIM_HORIZON,
    Lease,
    LeaseLost,
    LeaseTable,
    LeaseThrottled,
)
from consumers.stream import list_shards
from ottlake.errors import ConsumerError
from ottlake.settings import Settings

logger = logging.getLogger(__name__)

# GetRecords: at most 10,000 records or 10 MiB per call (Kinesis limits).
MAX_RECORDS = 10_000
# botocore's standard retry mode backs off on 5xx and throttling (moto answers 500
# when a put changes a shard while it is read); past that, the driver's own loop
# tries again on its next pass, and gives up after this many failures in a row.
_CLIENT_RETRIES = {"mode": "standard", "max_attempts": 6}
_MAX_FAILURES_IN_A_ROW = 20


@dataclass
class DriverReport:
    records: Counter[str] = field(default_factory=Counter)  # delivered, by shard
    shards_ended: list[str] = field(default_factory=list)
    leases_lost: list[str] = field(default_factory=list)


def seed_leases(kinesis: Any, dynamodb: Any, *, stream_name: str, table: str) -> list[dict[str, Any]]:
    """A TRIM_HORIZON lease for every shard without one; returns ListShards' shards."""
    shards = list_shards(kinesis, stream_name)
    LeaseTable(dynamodb, table, worker_id="").create_missing(shards)
    return shards


class LeaseCheckpointer:
    """amazon-kclpy's Checkpointer, writing the lease table instead of the daemon's pipe.

    `checkpoint()` without a sequence number means the last record delivered, or
    SHARD_END once the shard has ended; errors are kclpy's CheckpointError with
    the KCL's exception names."""

    def __init__(self, leases: LeaseTable, lease: Lease) -> None:
        self.leases = leases
        self.lease = lease
        self.largest: tuple[str, int] | None = None  # the last record delivered
        self.shard_ended = False
        self.lost = False

    def checkpoint(self, sequence_number: str | None = None, sub_sequence_number: int | None = None) -> None:
        if self.lost:
            raise CheckpointError("ShutdownException")
        if sequence_number is None:
            if self.shard_ended:
                sequence_number, sub_sequence_number = SHARD_END, 0
            elif self.largest is None:
                return  # nothing delivered yet: nothing to record
            else:
                sequence_number, sub_sequence_number = self.largest
        elif not self._in_range(sequence_number):
            raise CheckpointError("InvalidStateException")
        try:
            self.lease = self.leases.checkpoint(self.lease, sequence_number, sub_sequence_number or 0)
        except LeaseLost:
            self.lost = True
            raise CheckpointError("ShutdownException") from None
        except LeaseThrottled:
            raise CheckpointError("ThrottlingException") from None

    def _in_range(self, sequence: str) -> bool:
        """Not beyond what was delivered, not before the last checkpoint (the KCL's rule)."""
        if self.largest is None or not sequence.isdigit():
            return False
        previous = self.lease.checkpoint
        after_previous = not previous.isdigit() or int(sequence) >= int(previous)
        return after_previous and int(sequence) <= int(self.largest[0])


class _ShardWorker:
    """One leased shard: its iterator, its processor, its checkpointer."""

    def __init__(self, kinesis: Any, stream_name: str, leases: LeaseTable, lease: Lease,
                 processor: Any, *, max_records: int) -> None:
        self.kinesis = kinesis
        self.stream_name = stream_name
        self.processor = processor
        self.checkpointer = LeaseCheckpointer(leases, lease)
        self.max_records = max_records
        self.shard_id = lease.shard_id
        self.caught_up = False
        self.done = False
        self.closed = False  # ListShards gives the shard an ending sequence number (resharded)
        self.failures = 0  # GetRecords failures in a row
        self.iterator = self._iterator(lease.checkpoint)
        _dispatch(messages.InitializeInput({
            "action": "initialize", "shardId": lease.shard_id,
            "sequenceNumber": lease.checkpoint, "subSequenceNumber": lease.sub_sequence,
        }), self.checkpointer, processor)

    @property
    def lease(self) -> Lease:
        return self.checkpointer.lease

    def _iterator(self, position: str) -> str | None:
        kwargs: dict[str, Any] = {"StreamName": self.stream_name, "ShardId": self.shard_id}
        if position in (TRIM_HORIZON, LATEST):
            kwargs["ShardIteratorType"] = position
        else:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=position)
        return self.kinesis.get_shard_iterator(**kwargs)["ShardIterator"]

    def poll(self) -> int:
        """One GetRecords and one process_records (also when empty, so time-based
        buffers flush); at the shard's end, shard_ended. Returns records delivered."""
        if self.iterator is None:
            return self._end()
        try:
            page = self.kinesis.get_records(ShardIterator=self.iterator, Limit=self.max_records)
        except self.kinesis.exceptions.ExpiredIteratorException:
            # Iterators live 5 minutes: resume after the last record delivered.
            last = self.checkpointer.largest
            self.iterator = self._iterator(last[0] if last else self.lease.checkpoint)
            return 0
        except self.kinesis.exceptions.ProvisionedThroughputExceededException:
            return 0  # the shard's 5 reads/s or 2 MiB/s: the next pass tries again
        except (ClientError, BotoCoreError) as exc:
            self.failures += 1
            if self.failures >= _MAX_FAILURES_IN_A_ROW:
                raise ConsumerError(f"GetRecords on {self.shard_id} failed {self.failures} times in a row: {exc}") from None
            logger.warning("driver: GetRecords on %s failed (%s); trying again", self.shard_id, exc)
            return 0
        self.failures = 0
        records = [_kcl_record(record) for record in page["Records"]]
        if records:
            last = records[-1]
            self.checkpointer.largest = (last.sequence_number, last.sub_sequence_number)
        self.caught_up = not records and page.get("MillisBehindLatest", 0) == 0
        _dispatch(messages.ProcessRecordsInput({
            "action": "processRecords", "records": records,
            "millisBehindLatest": page.get("MillisBehindLatest", 0),
        }), self.checkpointer, self.processor)
        self.iterator = page.get("NextShardIterator")
        if self.closed and self.caught_up:
            # Kinesis ends a closed shard with a null iterator; some emulators (moto)
            # hand out iterators forever. A closed shard read to its tip has ended.
            self.iterator = None
        return len(records)

    def _end(self) -> int:
        self.checkpointer.shard_ended = True
        _dispatch(messages.ShardEndedInput({"action": "shardEnded"}), self.checkpointer, self.processor)
        if self.lease.ended:
            self.done = True
        else:  # the KCL's rule: a shard end is retried until the processor checkpoints it
            logger.error("driver: the processor of %s did not checkpoint its shard end; retrying", self.shard_id)
        return 0

    def lost(self) -> None:
        self.checkpointer.lost = True
        _dispatch(messages.LeaseLostInput({"action": "leaseLost"}), self.checkpointer, self.processor)

    def shutdown_requested(self) -> None:
        _dispatch(messages.ShutdownRequestedInput({"action": "shutdownRequested"}), self.checkpointer,
                  self.processor)


def _kcl_record(record: dict[str, Any]) -> messages.Record:
    """A GetRecords record as the daemon hands it to kclpy (data in base64)."""
    return messages.Record({
        "action": "record",
        "sequenceNumber": record["SequenceNumber"],
        "subSequenceNumber": 0,
        "approximateArrivalTimestamp": int(record["ApproximateArrivalTimestamp"].timestamp() * 1000),
        "partitionKey": record["PartitionKey"],
        "data": base64.b64encode(record["Data"]).decode("ascii"),
    })


def _dispatch(message: Any, checkpointer: LeaseCheckpointer, processor: Any) -> None:
    try:
        message.dispatch(checkpointer, processor)
    except Exception:  # as KCLProcess does: report and go on; the processor decides what is safe
        logger.exception("driver: %s of %s failed", message.action, checkpointer.lease.shard_id)


def run(
    settings: Settings,
    app_name: str,
    make_processor: Callable[[], Any],
    *,
    stop: threading.Event | None = None,
    drain: bool = False,
    worker_id: str = "driver",
    poll_s: float = 0.25,
    sync_s: float = 1.0,
    failover_s: float = 10.0,
    max_records: int = MAX_RECORDS,
) -> DriverReport:
    """Process every shard of `settings.stream_name` for the app whose lease table is `app_name`.

    Runs until `stop` is set, or with `drain` until every shard is read to its
    tip (or its end); then each processor gets shutdown_requested (its last
    checkpoint) and the leases are released. A lease held by another worker is
    taken once its counter has not moved for `failover_s`; one held by this
    `worker_id` (a restart after a crash) at once."""
    target = settings.aws()
    kinesis, dynamodb = (target.client(name, retries=_CLIENT_RETRIES) for name in ("kinesis", "dynamodb"))
    leases = LeaseTable(dynamodb, app_name, worker_id)
    stop = stop or threading.Event()
    report = DriverReport()
    workers: dict[str, _ShardWorker] = {}
    watched: dict[str, tuple[int, float]] = {}  # others' leases: (counter, when it last moved)
    next_sync = 0.0
    sync_failures = 0
    ever_synced = False
    all_leases: dict[str, Lease] = {}
    try:
        while not stop.is_set():
            synced = False
            if time.monotonic() >= next_sync:
                next_sync = time.monotonic() + sync_s
                try:
                    all_leases = _sync(kinesis, leases, settings.stream_name, workers, watched, report,
                                       make_processor, failover_s=failover_s, max_records=max_records)
                    synced, ever_synced, sync_failures = True, True, 0
                except (ClientError, BotoCoreError) as exc:
                    sync_failures += 1
                    # The first sync failing is a set-up problem (no stack, no stream): say so at once.
                    if not ever_synced or sync_failures >= _MAX_FAILURES_IN_A_ROW:
                        where = target.endpoint_url or f"AWS ({settings.region})"
                        raise ConsumerError(
                            f"cannot read stream {settings.stream_name} or lease table {app_name} at {where}: {exc}"
                        ) from None
                    logger.warning("driver: shard and lease sync failed (%s); trying again", exc)
            delivered = 0
            for shard_id, worker in list(workers.items()):
                count = worker.poll()
                report.records[shard_id] += count
                delivered += count
                if worker.done:
                    report.shards_ended.append(shard_id)
                    del workers[shard_id]
            if drain and synced and _drained(all_leases, workers):
                break
            if not delivered:
                stop.wait(poll_s)
    finally:
        _shut_down(leases, workers)
    return report


def _sync(kinesis: Any, leases: LeaseTable, stream_name: str, workers: dict[str, _ShardWorker],
          watched: dict[str, tuple[int, float]], report: DriverReport, make_processor: Callable[[], Any],
          *, failover_s: float, max_records: int) -> dict[str, Lease]:
    """New shards get leases; owned leases are renewed; free or expired ones are taken."""
    shards = list_shards(kinesis, stream_name)
    leases.create_missing(shards)
    closed = {s["ShardId"] for s in shards if "EndingSequenceNumber" in s.get("SequenceNumberRange", {})}
    for shard_id, worker in list(workers.items()):
        worker.closed = shard_id in closed
        try:
            worker.checkpointer.lease = leases.renew(worker.lease)
        except LeaseLost:
            logger.warning("driver: lease on %s lost to another worker", shard_id)
            worker.lost()
            report.leases_lost.append(shard_id)
            del workers[shard_id]
        except LeaseThrottled:
            pass  # renewed on the next pass, well within the failover time
    all_leases = leases.scan()
    now = time.monotonic()
    for shard_id, lease in sorted(all_leases.items()):
        if lease.ended or shard_id in workers or not _parents_done(lease, all_leases):
            continue
        if lease.owner not in (None, leases.worker_id):
            counter, since = watched.get(shard_id, (lease.counter, now))
            if counter != lease.counter:
                counter, since = lease.counter, now
            watched[shard_id] = (counter, since)
            if now - since < failover_s:
                continue
        try:
            taken = leases.take(lease)
        except (LeaseLost, LeaseThrottled):
            continue  # it moved meanwhile: look again on the next pass
        watched.pop(shard_id, None)
        logger.info("driver: took %s at %s", shard_id, taken.checkpoint)
        workers[shard_id] = _ShardWorker(kinesis, stream_name, leases, taken, make_processor(),
                                         max_records=max_records)
        workers[shard_id].closed = shard_id in closed
    return all_leases


def _parents_done(lease: Lease, all_leases: dict[str, Lease]) -> bool:
    """A parent with no lease left was finished and cleaned up (the KCL deletes those)."""
    return all(all_leases[parent].ended for parent in lease.parents if parent in all_leases)


def _drained(all_leases: dict[str, Lease], workers: dict[str, _ShardWorker]) -> bool:
    for shard_id, lease in all_leases.items():
        worker = workers.get(shard_id)
        if worker is not None:
            if not worker.caught_up:
                return False
        elif not lease.ended:
            return False  # not taken yet (a child waiting for its parents, or someone else's)
    return True


def _shut_down(leases: LeaseTable, workers: dict[str, _ShardWorker]) -> None:
    """shutdown_requested (the processors' last checkpoint), then release every lease."""
    for shard_id, worker in workers.items():
        worker.shutdown_requested()
        try:
            leases.release(worker.lease)
        except (LeaseLost, LeaseThrottled, ConsumerError) as exc:
            logger.warning("driver: could not release %s: %s", shard_id, exc)
