"""Where each table of the lake lives (DESIGN.md, 'Lake layout').

One lake root, a local folder or `s3://bucket/prefix`; every path under it is
named here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ottlake.errors import ConfigError

_REMOTE_SCHEMES = ("s3://", "s3a://", "s3n://", "file:/")


@dataclass(frozen=True)
class Lake:
    root: str

    @classmethod
    def at(cls, root: str | Path) -> Lake:
        """A lake at `root`; a local folder is made absolute so that Spark, delta-rs
        and DuckDB all find the same place whatever their working directory."""
        text = str(root).strip()
        if not text:
            raise ConfigError("the lake root is empty")
        if text.startswith(_REMOTE_SCHEMES):
            return cls(text.rstrip("/"))
        if "://" in text:
            raise ConfigError(f"unsupported lake root {text!r}: a folder or s3://bucket/prefix")
        return cls(str(Path(text).expanduser().resolve()))

    @property
    def is_local(self) -> bool:
        return not self.root.startswith(_REMOTE_SCHEMES) or self.root.startswith("file:")

    def path(self, *parts: str) -> str:
        return "/".join((self.root, *parts))

    @property
    def raw(self) -> str:
        return self.path("raw", "player_events")

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


PathKind = Literal["folder", "file", "missing"]
Probe = Callable[[str], PathKind]
RAW_ZONE = "raw/player_events/"


class LakeNotFound(ConfigError):
    """The lake root is not a lake: it does not exist, is a file, or has no raw zone."""


def local_kind(path: str) -> PathKind:
    """What a local path is (a `file:` URI too)."""
    local = Path(path.removeprefix("file://").removeprefix("file:"))
    return "folder" if local.is_dir() else "file" if local.exists() else "missing"


def require(lake: Lake, probe: Probe | None = None) -> None:
    """LakeNotFound, naming the path and what is missing, unless the lake root is a
    folder with a raw zone. Every command that reads a lake checks this before it
    creates anything, so that a mistyped `--lake` never leaves a new folder behind
    (an existing lake with nothing new in its raw zone is fine). `probe` says what a
    path is; local paths by default (`spark_jobs.spark.hadoop_kind` for S3 too)."""
    if probe is None:
        if not lake.is_local:
            raise ConfigError(f"lake {lake.root}: checking a remote lake needs a probe (Spark's or S3's)")
        probe = local_kind
    kind = probe(lake.root)
    if kind == "missing":
        raise LakeNotFound(f"lake {lake.root} does not exist (no such folder): check --lake or OTTLAKE_LAKE")
    if kind == "file":
        raise LakeNotFound(f"lake {lake.root} is a file, not a folder: check --lake or OTTLAKE_LAKE")
    if probe(lake.raw) != "folder":
        raise LakeNotFound(f"lake {lake.root} has no raw zone ({RAW_ZONE} is missing): "
                           "land events there first (`ottlake consume sink`, or Firehose)")


def s3_probe(client: object) -> Probe:
    """A probe of s3:// paths through a boto3 S3 client: a key is a file, a prefix
    with objects under it a folder."""
    def kind(path: str) -> PathKind:
        bucket, _, key = path.split("://", 1)[1].partition("/")
        listed = client.list_objects_v2(Bucket=bucket, Prefix=key.rstrip("/") + "/" if key else "", MaxKeys=1)  # type: ignore[attr-defined]
        if listed.get("KeyCount", 0):
            return "folder"
        if key:
            exact = client.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)  # type: ignore[attr-defined]
            if any(item["Key"] == key for item in exact.get("Contents", [])):
                return "file"
        return "missing"

    return kind
