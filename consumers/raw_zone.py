"""The raw zone's objects: Firehose's default key layout, gzip NDJSON, local or S3.

Firehose names an object `<prefix>YYYY/MM/DD/HH/<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>`
by its arrival time (UTC) and appends `.gz` when it compresses. Everything that
writes the raw zone (the lake-sink consumer, the simulator's direct landing)
names and writes objects here, so bronze sees one layout whoever wrote it.
"""

from __future__ import annotations

import gzip
import os
import tempfile
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

RAW_PREFIX = "raw/player_events/"
# Firehose's key carries the delivery stream's version; ours is fixed.
_VERSION = 1
# Names derived from (writer, first sequence number) are stable across restarts.
_NAMESPACE = uuid.UUID("0a3c1c5e-6f0b-4d7e-9a53-8f2b1c7e4d10")


def object_key(*, stream_name: str, arrival_ms: int, name_seed: str, gzip_compressed: bool = True) -> str:
    """The key of one object, relative to the lake root.

    `name_seed` makes the uuid part deterministic (for the lake sink: shard id and
    first sequence number), so rewriting after a restart replaces, never adds."""
    at = datetime.fromtimestamp(arrival_ms / 1000, tz=UTC)
    stamp = at.strftime("%Y-%m-%d-%H-%M-%S")
    name = f"{stream_name}-{_VERSION}-{stamp}-{uuid.uuid5(_NAMESPACE, name_seed)}"
    return f"{RAW_PREFIX}{at:%Y/%m/%d/%H}/{name}{'.gz' if gzip_compressed else ''}"


def encode(lines: Iterable[bytes], *, gzip_compressed: bool = True) -> bytes:
    """NDJSON bytes of newline-terminated lines (a missing final newline is added)."""
    body = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines)
    # mtime=0: the same lines always give the same bytes (a rewrite is identical).
    return gzip.compress(body, compresslevel=6, mtime=0) if gzip_compressed else body


def stamp_received(data: bytes, arrival_ms: int) -> list[bytes]:
    """The NDJSON lines of one stream record, each event stamped with `received_ts`.

    player-events.md, Envelope: for events put straight into the stream the lake
    sink sets `received_ts` from the record's arrival time; one that already has
    it (the collector's) keeps it. A line that is not a JSON object is kept as it
    is: bronze quarantines it with a reason, nothing is dropped here."""
    lines = []
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            event = None
        if isinstance(event, dict) and event.get("received_ts") is None:
            event["received_ts"] = arrival_ms
            line = orjson.dumps(event)
        lines.append(line + b"\n")
    return lines


class RawZoneStore(Protocol):
    def put(self, key: str, body: bytes) -> None:
        """Write one whole object durably; replaces an object with the same key."""
        ...


class LocalRawZone:
    """The raw zone in a local lake folder: written to a temporary file, fsynced,
    then renamed into place, so a reader never sees half an object."""

    def __init__(self, lake_root: str | Path) -> None:
        self.root = Path(lake_root)

    def put(self, key: str, body: bytes) -> None:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        # A leading dot: listings of the raw zone skip it until the rename.
        fd, tmp = tempfile.mkstemp(prefix=".", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(body)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class S3RawZone:
    """The raw zone under `s3://bucket/prefix`: one PutObject per object (atomic)."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def put(self, key: str, body: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=body)


def open_raw_zone(lake_root: str, *, s3_client_factory: Any = None) -> RawZoneStore:
    """The store for a lake root: a folder, or `s3://bucket/prefix` (client from the factory)."""
    if lake_root.startswith("s3://"):
        bucket, _, prefix = lake_root[len("s3://"):].partition("/")
        if s3_client_factory is None:
            raise ValueError("an s3:// lake needs an S3 client")
        return S3RawZone(s3_client_factory(), bucket, prefix)
    return LocalRawZone(lake_root)
