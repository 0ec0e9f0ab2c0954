"""Land a simulation straight in the raw zone, as the lake sink would write it.

For tests and benchmarks of the batch jobs, and for seeding a lake without a
stream: each delivery gets the `sent_ts` its device's SDK would stamp (the send
time by the device's clock) and the `received_ts` the lake sink would set (the
arrival time), and the records are cut into objects per shard and time span in
Firehose's key layout (schemas.layout).
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from producers.simulator.faults import Delivery
from schemas.layout import RawZoneStore, encode, object_key

# Time from the device to the stream: a fixed floor plus a spread taken from the
# event id, so that the same simulation always lands the same bytes.
_LATENCY_FLOOR_MS = 80
_LATENCY_SPREAD_MS = 400


@dataclass(frozen=True)
class Landed:
    objects: int
    records: int
    keys: tuple[str, ...]


def latency_ms(event_id: str, copy: int) -> int:
    return _LATENCY_FLOOR_MS + zlib.crc32(f"{event_id}:{copy}".encode()) % _LATENCY_SPREAD_MS


def landed_line(delivery: Delivery) -> tuple[int, bytes]:
    """(received_ts, the NDJSON line) of one delivery."""
    received = delivery.at_ms + latency_ms(delivery.event["event_id"], delivery.copy)
    stamped = {**delivery.event, "sent_ts": delivery.at_ms + delivery.clock_offset_ms, "received_ts": received}
    return received, orjson.dumps(stamped) + b"\n"


def land(
    deliveries: Iterable[Delivery],
    store: RawZoneStore,
    *,
    stream_name: str,
    shards: int = 2,
    object_span_ms: int = 60_000,
    gzip_compressed: bool = True,
) -> Landed:
    """Write the deliveries as raw objects: one per (shard, span of arrival time)."""
    buffers: dict[tuple[int, int], list[tuple[int, bytes]]] = defaultdict(list)
    for delivery in sorted(deliveries, key=lambda d: d.sort_key):
        received, line = landed_line(delivery)
        shard = zlib.crc32(delivery.event["play_session_id"].encode()) % shards
        buffers[(shard, received // object_span_ms)].append((received, line))
    keys = []
    records = 0
    for (shard, span), lines in sorted(buffers.items()):
        last_arrival = max(received for received, _ in lines)
        key = object_key(stream_name=stream_name, arrival_ms=last_arrival,
                         name_seed=f"sim:{shard}:{span}", gzip_compressed=gzip_compressed)
        store.put(key, encode((line for _, line in lines), gzip_compressed=gzip_compressed))
        keys.append(key)
        records += len(lines)
    return Landed(len(keys), records, tuple(keys))
