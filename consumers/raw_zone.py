"""The raw zone's stores, local or S3, and the stamping of a stream record's lines.

The key format and the objects' encoding (Firehose's default layout, gzip NDJSON)
are the lake layout's (schemas.layout): the lake sink and the simulator's direct
landing name and encode objects there, so bronze sees one layout whoever wrote it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import orjson

from schemas.layout import RawZoneStore


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
