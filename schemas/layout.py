"""Where everything lives (DESIGN.md, 'Lake layout'): the tables under one lake
root, the raw zone's key format (written by the lake sink and the simulator,
parsed by bronze), and the keys of the live QoE table.

One lake root, a local folder or `s3://bucket/prefix`; every path under it is
named here and nowhere else. Pure: no I/O (checking that a lake is there is
ottlake.lakes').
"""

from __future__ import annotations

import gzip
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

_REMOTE_SCHEMES = ("s3://", "s3a://", "s3n://", "file:/")


class LakeRootError(ValueError):
    """A lake root that cannot be one (ottlake's settings report it as a ConfigError)."""


def lake_root(root: str | Path) -> str:
    """The root as every engine is to see it: a local folder made absolute (so that
    Spark, delta-rs and DuckDB find the same place whatever their working directory),
    a remote one without its final slash."""
    text = str(root).strip()
    if not text:
        raise LakeRootError("the lake root is empty")
    if text.startswith(_REMOTE_SCHEMES):
        return text.rstrip("/")
    if "://" in text:
        raise LakeRootError(f"unsupported lake root {text!r}: a folder or s3://bucket/prefix")
    return str(Path(text).expanduser().resolve())


@dataclass(frozen=True)
class Lake:
    root: str

    @classmethod
    def at(cls, root: str | Path) -> Lake:
        """A lake at `root` (lake_root: LakeRootError when it cannot be one)."""
        return cls(lake_root(root))

    @property
    def is_local(self) -> bool:
        return not self.root.startswith(_REMOTE_SCHEMES) or self.root.startswith("file:")

    def path(self, *parts: str) -> str:
        return "/".join((self.root, *parts))

    @property
    def raw(self) -> str:
        return self.path(RAW_PREFIX.rstrip("/"))

    @property
    def bronze(self) -> str:
        return self.path("bronze", "player_events")

    @property
    def quarantine(self) -> str:
        return self.path("quarantine", "player_events")

    @property
    def play_sessions(self) -> str:
        return self.path("silver", "play_sessions")

    @property
    def viewer_sessions(self) -> str:
        return self.path("silver", "viewer_sessions")

    @property
    def qoe_hourly(self) -> str:
        return self.path("gold", "qoe_hourly")

    @property
    def qoe_daily(self) -> str:
        return self.path("gold", "qoe_daily")

    @property
    def quality(self) -> str:
        return self.path("_quality")

    @property
    def quality_results(self) -> str:
        return self.path("_quality", "results")

    @property
    def quality_docs(self) -> str:
        return self.path("_quality", "docs")

    def state(self, name: str) -> str:
        return self.path("_state", name)

    def table(self, short_name: str) -> str:
        """A table by the short name analysts use (schemas.tables.LAKE_TABLES)."""
        paths = {"player_events": self.bronze, "quarantine": self.quarantine, "play_sessions": self.play_sessions,
                 "viewer_sessions": self.viewer_sessions, "qoe_hourly": self.qoe_hourly,
                 "qoe_daily": self.qoe_daily, "quality_results": self.quality_results}
        return paths[short_name]


# --- the raw zone: Firehose's default key layout, gzip NDJSON ------------------------
# Firehose names an object `<prefix>YYYY/MM/DD/HH/<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>`
# by its arrival time (UTC) and appends `.gz` when it compresses. Everything that
# writes the raw zone (the lake-sink consumer, the simulator's direct landing) names
# objects here, so bronze sees one layout whoever wrote it.

RAW_PREFIX = "raw/player_events/"
# Firehose's key carries the delivery stream's version; ours is fixed.
_VERSION = 1
# Names derived from (writer, first sequence number) are stable across restarts.
_NAMESPACE = uuid.UUID("0a3c1c5e-6f0b-4d7e-9a53-8f2b1c7e4d10")
# .../YYYY/MM/DD/HH/<name>: an object's arrival hour, by its key.
_HOUR_KEY = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+$")


def object_key(*, stream_name: str, arrival_ms: int, name_seed: str, gzip_compressed: bool = True) -> str:
    """The key of one object, relative to the lake root.

    `name_seed` makes the uuid part deterministic (for the lake sink: shard id and
    first sequence number), so rewriting after a restart replaces, never adds."""
    at = datetime.fromtimestamp(arrival_ms / 1000, tz=UTC)
    stamp = at.strftime("%Y-%m-%d-%H-%M-%S")
    name = f"{stream_name}-{_VERSION}-{stamp}-{uuid.uuid5(_NAMESPACE, name_seed)}"
    return f"{RAW_PREFIX}{at:%Y/%m/%d/%H}/{name}{'.gz' if gzip_compressed else ''}"


def arrival_hour(key: str) -> datetime | None:
    """The arrival hour (naive UTC) an object's key or path names; None outside the layout."""
    match = _HOUR_KEY.search(key)
    return datetime(*(int(part) for part in match.groups())) if match else None


def encode(lines: Iterable[bytes], *, gzip_compressed: bool = True) -> bytes:
    """An object's bytes: NDJSON of newline-terminated lines (a missing final newline
    is added), gzip-compressed unless told otherwise."""
    body = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines)
    # mtime=0: the same lines always give the same bytes (a rewrite is identical).
    return gzip.compress(body, compresslevel=6, mtime=0) if gzip_compressed else body


class RawZoneStore(Protocol):
    """Where raw objects are written (consumers.raw_zone's local folder or S3)."""

    def put(self, key: str, body: bytes) -> None:
        """Write one whole object durably; replaces an object with the same key."""
        ...


# --- the live QoE table (DynamoDB), written by the monitor, made by `infra apply` ------
LIVE_PARTITION_KEY = "pk"
LIVE_SORT_KEY = "sk"
