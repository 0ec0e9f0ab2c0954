"""Whether a lake is there: the check every command that reads one makes first.

Core, beside the settings: it knows the layout (schemas.layout) and asks a probe
what a path is, so that the same rule serves a local folder (`local_kind`), and S3
through boto3 (`s3_probe`, with the settings' endpoint) or through pyarrow's file
systems (`arrow_kind`, where no settings are at hand: a job on EMR).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from ottlake.errors import LakeNotFound
from schemas.layout import RAW_PREFIX, Lake

PathKind = Literal["folder", "file", "missing"]
Probe = Callable[[str], PathKind]


def local_kind(path: str) -> PathKind:
    """What a local path is (a `file:` URI too)."""
    local = Path(path.removeprefix("file://").removeprefix("file:"))
    return "folder" if local.is_dir() else "file" if local.exists() else "missing"


def s3_probe(client: Any) -> Probe:
    """A probe of s3:// paths through a boto3 S3 client: a key is a file, a prefix
    with objects under it a folder."""
    def kind(path: str) -> PathKind:
        bucket, _, key = path.split("://", 1)[1].partition("/")
        listed = client.list_objects_v2(Bucket=bucket, Prefix=key.rstrip("/") + "/" if key else "", MaxKeys=1)
        if listed.get("KeyCount", 0):
            return "folder"
        if key:
            exact = client.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
            if any(item["Key"] == key for item in exact.get("Contents", [])):
                return "file"
        return "missing"

    return kind


def arrow_kind(path: str) -> PathKind:
    """What a path is, through pyarrow's file systems (an s3:// prefix with objects is
    a folder; credentials from the default AWS chain, as on EMR), imported only here."""
    from pyarrow import fs

    filesystem, inner = fs.FileSystem.from_uri(path)
    kind = filesystem.get_file_info(inner).type
    return "folder" if kind == fs.FileType.Directory else "file" if kind == fs.FileType.File else "missing"


def require(lake: Lake, probe: Probe | None = None) -> None:
    """LakeNotFound, naming the path and what is missing, unless the lake root is a
    folder with a raw zone. Every command that reads a lake checks this before it
    creates anything, so that a mistyped `--lake` never leaves a new folder behind
    (an existing lake with nothing new in its raw zone is fine). `probe` says what a
    path is; by default, local_kind for a local lake and arrow_kind for a remote one."""
    if probe is None:
        probe = local_kind if lake.is_local else arrow_kind
    kind = probe(lake.root)
    if kind == "missing":
        raise LakeNotFound(f"lake {lake.root} does not exist (no such folder): check --lake or OTTLAKE_LAKE")
    if kind == "file":
        raise LakeNotFound(f"lake {lake.root} is a file, not a folder: check --lake or OTTLAKE_LAKE")
    if probe(lake.raw) != "folder":
        raise LakeNotFound(f"lake {lake.root} has no raw zone ({RAW_PREFIX} is missing): "
                           "land events there first (`ottlake consume sink`, or Firehose)")


def refuse_a_file(lake: Lake) -> None:
    """For writers that make the lake (the sink): LakeNotFound when the root is a file."""
    if lake.is_local and local_kind(lake.root) == "file":
        raise LakeNotFound(f"lake {lake.root} is a file, not a folder: check --lake or OTTLAKE_LAKE")
