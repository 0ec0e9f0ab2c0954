"""The in-process driver with the lake sink on the embedded stack: every record once
in the raw zone, checkpoints in the lease table, parents before children across a
reshard, and a dead worker's leases taken over."""

from __future__ import annotations

import time

import orjson
import pytest
from amazon_kclpy.v3.processor import RecordProcessorBase

from consumers import driver
from consumers.kcl import processor_factory
from consumers.kcl_leases import SHARD_END, LeaseTable
from consumers.stream import list_shards
from tests.fixtures_consumers import event_line, raw_lines

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def put(kinesis, stream: str, numbers: range) -> None:
    numbers = list(numbers)
    for start in range(0, len(numbers), 500):  # PutRecords: at most 500 records
        chunk = numbers[start:start + 500]
        answer = kinesis.put_records(StreamName=stream, Records=[
            {"Data": event_line(n), "PartitionKey": f"p-{n}"} for n in chunk])
        assert answer["FailedRecordCount"] == 0


class Recording(RecordProcessorBase):
    """A processor that notes its lifecycle in a shared list and delegates to the sink."""

    def __init__(self, inner: RecordProcessorBase, events: list[tuple[str, str]]) -> None:
        self.inner, self.events, self.shard = inner, events, ""

    def initialize(self, initialize_input) -> None:
        self.shard = initialize_input.shard_id
        self.events.append(("initialize", self.shard))
        self.inner.initialize(initialize_input)

    def process_records(self, process_records_input) -> None:
        self.inner.process_records(process_records_input)

    def lease_lost(self, lease_lost_input) -> None:
        self.events.append(("lease_lost", self.shard))
        self.inner.lease_lost(lease_lost_input)

    def shard_ended(self, shard_ended_input) -> None:
        self.inner.shard_ended(shard_ended_input)
        self.events.append(("shard_ended", self.shard))

    def shutdown_requested(self, shutdown_requested_input) -> None:
        self.inner.shutdown_requested(shutdown_requested_input)


def event_ids(lake: str) -> list[str]:
    return sorted(orjson.loads(line)["event_id"] for line in raw_lines(lake))


def test_every_record_once_across_a_reshard_with_parents_first(consumer_settings) -> None:
    settings = consumer_settings(shards=2, sink_buffer_bytes=4096, sink_buffer_seconds=0.5)
    kinesis = settings.aws().client("kinesis")
    put(kinesis, settings.stream_name, range(0, 700))
    kinesis.update_shard_count(StreamName=settings.stream_name, TargetShardCount=4, ScalingType="UNIFORM_SCALING")
    put(kinesis, settings.stream_name, range(700, 1500))
    shards = list_shards(kinesis, settings.stream_name)
    parents = {p for s in shards for p in (s.get("ParentShardId"), s.get("AdjacentParentShardId")) if p}
    children = {s["ShardId"] for s in shards if s.get("ParentShardId")}
    assert parents and children, "the reshard made no child shards"

    events: list[tuple[str, str]] = []
    make_sink = processor_factory(settings, "sink")
    report = driver.run(settings, settings.lake_sink_app, lambda: Recording(make_sink(), events),
                        drain=True, worker_id="it-driver", poll_s=0.05)

    assert event_ids(settings.lake) == sorted(f"e-{n}" for n in range(1500))
    assert sum(report.records.values()) == 1500
    assert set(report.shards_ended) == parents
    for child in children:
        started = events.index(("initialize", child))
        for parent in (p for s in shards if s["ShardId"] == child
                       for p in (s.get("ParentShardId"), s.get("AdjacentParentShardId")) if p):
            assert events.index(("shard_ended", parent)) < started
    leases = LeaseTable(settings.aws().client("dynamodb"), settings.lake_sink_app, "x").scan()
    assert {shard for shard, lease in leases.items() if lease.checkpoint == SHARD_END} == parents
    for shard in children:  # each child checkpointed at its last record, and released
        last = kinesis.get_records(ShardIterator=kinesis.get_shard_iterator(
            StreamName=settings.stream_name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"],
        )["Records"]
        assert leases[shard].checkpoint == (last[-1]["SequenceNumber"] if last else "TRIM_HORIZON")
        assert leases[shard].owner is None


def test_a_dead_workers_leases_are_taken_after_the_failover_time(consumer_settings) -> None:
    settings = consumer_settings(shards=1)
    kinesis, dynamodb = settings.aws().client("kinesis"), settings.aws().client("dynamodb")
    put(kinesis, settings.stream_name, range(50))
    driver.seed_leases(kinesis, dynamodb, stream_name=settings.stream_name, table=settings.lake_sink_app)
    (shard,) = LeaseTable(dynamodb, settings.lake_sink_app, "dead").scan()
    dynamodb.update_item(TableName=settings.lake_sink_app, Key={"leaseKey": {"S": shard}},
                         UpdateExpression="SET leaseOwner = :dead", ExpressionAttributeValues={":dead": {"S": "dead"}})

    began = time.monotonic()
    report = driver.run(settings, settings.lake_sink_app, processor_factory(settings, "sink"),
                        drain=True, worker_id="alive", failover_s=1.5, poll_s=0.05)
    assert time.monotonic() - began >= 1.5  # it waited for the dead owner's lease to expire
    assert report.records[shard] == 50
    assert event_ids(settings.lake) == sorted(f"e-{n}" for n in range(50))
    lease = LeaseTable(dynamodb, settings.lake_sink_app, "alive").scan()[shard]
    assert lease.checkpoint != "TRIM_HORIZON" and lease.owner is None


def test_consume_cli_drains_the_stream_and_reports_one_line_errors(consumer_settings, ottlake_env, capsys) -> None:
    from consumers.kcl import settings_env
    from ottlake.cli.main import main

    settings = consumer_settings(shards=1)
    put(settings.aws().client("kinesis"), settings.stream_name, range(30))
    for name, value in settings_env(settings).items():
        ottlake_env.setenv(name, value)
    assert main(["consume", "sink", "--drain", "--worker-id", "cli"]) == 0
    assert "stopped: 30 records (shardId-000000000000 30)" in capsys.readouterr().out
    assert event_ids(settings.lake) == sorted(f"e-{n}" for n in range(30))

    assert main(["consume", "monitor", "--lake", "elsewhere"]) == 2
    assert main(["consume", "sink", "--kcl", "--drain"]) == 2
    ottlake_env.setenv("OTTLAKE_STREAM_NAME", "no-such-stream")
    assert main(["consume", "sink", "--drain"]) == 1
    errors = capsys.readouterr().err.splitlines()
    assert errors[0] == "error: --lake applies to the sink only"
    assert errors[2].startswith("error: cannot read stream no-such-stream") and len(errors) == 3
