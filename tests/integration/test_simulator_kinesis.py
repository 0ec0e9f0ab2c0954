"""`ottlake simulate` into the embedded stack's Kinesis stream (its default destination)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from ottlake.cli.main import main
from ottlake.settings import Settings
from producers.events import now_ms
from producers.simulator import FaultRates, SimConfig, scenario_incidents, simulate

pytestmark = pytest.mark.integration


def _stream_events(settings: Settings, session_ids: set[str]) -> list[dict[str, Any]]:
    """Every record of the (shared) stream that belongs to these play sessions."""
    client = settings.aws().client("kinesis")
    events = []
    for shard in client.list_shards(StreamName=settings.stream_name)["Shards"]:
        iterator = client.get_shard_iterator(StreamName=settings.stream_name, ShardId=shard["ShardId"],
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = client.get_records(ShardIterator=iterator, Limit=10_000)
            for record in page["Records"]:
                event = orjson.loads(record["Data"])
                if event["play_session_id"] in session_ids:
                    assert record["PartitionKey"] == event["play_session_id"]
                    events.append(event)
            iterator = page.get("NextShardIterator") if page["MillisBehindLatest"] > 0 or page["Records"] else None
    return events


def test_simulate_sends_every_planned_record_to_the_stream(
    embedded_settings: Settings, ottlake_env: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    minutes, start = 3, now_ms() - 4 * 60_000
    truth = tmp_path / "truth.jsonl"
    code = main([
        "--aws-endpoint", embedded_settings.embedded_url, "--region", embedded_settings.region,
        "--stream", embedded_settings.stream_name,
        "simulate", "--viewers", "6", "--minutes", str(minutes), "--seed", "8", "--start", str(start),
        "--truth", str(truth),
    ])
    assert code == 0
    expected = simulate(SimConfig(viewers=6, minutes=minutes, seed=8, start_ms=start, faults=FaultRates(),
                                  incidents=scenario_incidents("default", minutes=minutes)))
    session_ids = {orjson.loads(line)["play_session_id"] for line in truth.read_bytes().splitlines()}
    assert session_ids == {s.truth["play_session_id"] for s in expected.sessions}
    received = _stream_events(embedded_settings, session_ids)
    assert Counter(e["event_id"] for e in received) == Counter(d.event["event_id"] for d in expected.deliveries)
    assert all("sent_ts" in e for e in received)
