"""Fixtures and helpers for the consumers area: kclpy messages built inline, a
recording checkpointer, a raw zone read back, and per-test streams on the shared stack."""

from __future__ import annotations

import base64
import gzip
import itertools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
import pytest
from amazon_kclpy import messages

from ottlake.services import infra
from ottlake.settings import Settings

ARRIVAL_MS = 1_772_366_400_000  # 2026-03-01T12:00:00Z


def kcl_record(sequence: int, data: bytes, *, arrival_ms: int = ARRIVAL_MS, key: str = "k") -> messages.Record:
    """A record as the daemon sends it to kclpy (data in base64)."""
    return messages.Record({
        "action": "record", "sequenceNumber": str(sequence), "subSequenceNumber": 0,
        "approximateArrivalTimestamp": arrival_ms, "partitionKey": key,
        "data": base64.b64encode(data).decode("ascii"),
    })


def event_line(number: int, **fields: Any) -> bytes:
    return orjson.dumps({"event_id": f"e-{number}", "play_session_id": f"p-{number % 7}", **fields}) + b"\n"


def process_input(records: list[messages.Record], checkpointer: Any) -> messages.ProcessRecordsInput:
    message = messages.ProcessRecordsInput({"action": "processRecords", "records": records, "millisBehindLatest": 0})
    message._checkpointer = checkpointer  # what dispatch() does
    return message


def initialize_input(shard_id: str, sequence: str = "TRIM_HORIZON") -> messages.InitializeInput:
    return messages.InitializeInput({"action": "initialize", "shardId": shard_id,
                                     "sequenceNumber": sequence, "subSequenceNumber": 0})


class RecordingCheckpointer:
    """kclpy's Checkpointer contract; remembers every checkpoint in `log` (shared with a store)."""

    def __init__(self, log: list[tuple[str, Any]] | None = None, errors: Iterable[Exception] = ()) -> None:
        self.log = log if log is not None else []
        self.errors = list(errors)

    def checkpoint(self, sequence_number: str | None = None, sub_sequence_number: int | None = None) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.log.append(("checkpoint", sequence_number))

    @property
    def checkpoints(self) -> list[str | None]:
        return [value for action, value in self.log if action == "checkpoint"]


class MemoryStore:
    """A RawZoneStore in memory; `log` records each put, shared with a checkpointer."""

    def __init__(self, log: list[tuple[str, Any]] | None = None) -> None:
        self.objects: dict[str, bytes] = {}
        self.log = log if log is not None else []

    def put(self, key: str, body: bytes) -> None:
        self.objects[key] = body
        self.log.append(("put", key))

    def lines(self) -> list[bytes]:
        return [line for body in self.objects.values() for line in gzip.decompress(body).splitlines()]


def raw_lines(lake: str | Path) -> list[bytes]:
    """Every line of every object in a local lake's raw zone (temporary files skipped)."""
    root = Path(lake) / "raw" / "player_events"
    return [
        line
        for path in sorted(root.rglob("*.gz")) if not path.name.startswith(".")
        for line in gzip.decompress(path.read_bytes()).splitlines()
    ]


_names = itertools.count()


@pytest.fixture
def consumer_settings(embedded_settings: Settings, tmp_path: Path) -> Callable[..., Settings]:
    """Settings with a stream, lease tables and lake of the test's own, on the shared stack."""

    def make(shards: int = 2, **fields: Any) -> Settings:
        n = next(_names)
        settings = embedded_settings.model_copy(update={
            "stream_name": f"it-consume-{n}", "stream_shards": shards,
            "lake_sink_app": f"it-sink-{n}", "qoe_monitor_app": f"it-monitor-{n}",
            "lake": str(tmp_path / f"lake-{n}"), **fields,
        })
        infra.apply(settings)
        return settings

    return make
