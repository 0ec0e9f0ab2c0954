"""Read a whole Kinesis stream from its trim horizon, shard by shard.

This is the plain reader the demo's summary and the integration tests use to see
what arrived; the lake sink and the live monitor run under the KCL (or its
in-process driver) instead, which add leases and checkpoints.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class StreamRecord:
    shard_id: str
    sequence_number: str
    partition_key: str
    data: bytes
    arrival: datetime


def list_shards(client: Any, stream_name: str) -> list[dict[str, Any]]:
    """Every shard of the stream as ListShards describes it (open and closed, with
    parents and hash key ranges), following its pagination."""
    shards: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"StreamName": stream_name}
    while True:
        page = client.list_shards(**kwargs)
        shards.extend(page["Shards"])
        token = page.get("NextToken")
        if not token:
            return shards
        kwargs = {"NextToken": token}


def shard_ids(client: Any, stream_name: str) -> list[str]:
    """Every shard's id, in ListShards' order."""
    return [shard["ShardId"] for shard in list_shards(client, stream_name)]


def read_shard(
    client: Any,
    stream_name: str,
    shard_id: str,
    *,
    limit: int = 10_000,
    empty_reads: int = 2,
    pause_s: float = 0.05,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[StreamRecord]:
    """Records of one shard in sequence order, until `empty_reads` reads in a row
    return nothing while the reader is at the tip (MillisBehindLatest 0) or the
    shard is closed."""
    iterator = client.get_shard_iterator(
        StreamName=stream_name, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    empty = 0
    while iterator and empty < empty_reads:
        page = client.get_records(ShardIterator=iterator, Limit=limit)
        for record in page["Records"]:
            yield StreamRecord(
                shard_id=shard_id,
                sequence_number=record["SequenceNumber"],
                partition_key=record["PartitionKey"],
                data=record["Data"],
                arrival=record["ApproximateArrivalTimestamp"],
            )
        at_tip = page.get("MillisBehindLatest", 0) == 0
        empty = empty + 1 if (not page["Records"] and at_tip) else 0
        iterator = page.get("NextShardIterator")
        if empty:
            sleep(pause_s)


def read_stream(client: Any, stream_name: str, **options: Any) -> Iterator[StreamRecord]:
    """Every record of every shard (shard after shard; order holds within a shard)."""
    for shard_id in shard_ids(client, stream_name):
        yield from read_shard(client, stream_name, shard_id, **options)
