"""The live monitor end to end on the embedded stack: a simulated CDN incident shows
in the DynamoDB live table, and one alert fires and resolves on a real webhook.

The processors get amazon-kclpy v3 messages built from the simulator's delivery
plan (arrival = the plan's send time, sent_ts stamped with the device's clock
offset, as the SDK does), split over two shards by partition key as Kinesis
would, and fed batch by batch in sending order.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from consumers.monitor.alerts import Alerting, WebhookSender, load_rules
from consumers.monitor.processor import QoeMonitorProcessor
from consumers.monitor.rows import merge_rows
from consumers.monitor.store import LiveStore
from consumers.monitor.windows import WINDOW_MS
from ottlake.cli.main import main
from ottlake.services.webhook import receiving
from ottlake.settings import Settings
from tests.fixtures_consumers import RecordingCheckpointer, initialize_input, kcl_record, process_input
from tests.fixtures_monitor import (
    INCIDENT_MINUTES,
    INCIDENT_WINDOWS,
    WebhookReceiver,
    incident_simulation,
    live_table_settings,
    quiet_windows,
    rebuffer_ratios,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

START_MS = 1_780_000_000_000 - 1_780_000_000_000 % WINDOW_MS
SHARDS = ("shardId-000000000000", "shardId-000000000001")
BATCH = 500


def _shard_of(partition_key: str) -> int:
    # Kinesis maps the MD5 of the partition key onto the shards' hash-key ranges;
    # two even ranges split it at 2**127.
    return int(hashlib.md5(partition_key.encode()).hexdigest(), 16) >> 127  # noqa: S324


def _feed(processors: list[QoeMonitorProcessor], checkpointers: list[RecordingCheckpointer]) -> None:
    sim = incident_simulation(START_MS)
    sequence = itertools.count(1)
    for offset in range(0, len(sim.deliveries), BATCH):
        per_shard: list[list[Any]] = [[] for _ in processors]
        for delivery in sim.deliveries[offset:offset + BATCH]:
            event = {**delivery.event, "sent_ts": delivery.at_ms + delivery.clock_offset_ms}
            key = event["play_session_id"]
            per_shard[_shard_of(key)].append(kcl_record(
                next(sequence), orjson.dumps(event) + b"\n", arrival_ms=delivery.at_ms, key=key))
        for processor, checkpointer, records in zip(processors, checkpointers, per_shard, strict=True):
            if records:
                processor.process_records(process_input(records, checkpointer))
    for processor, checkpointer in zip(processors, checkpointers, strict=True):
        processor.shard_ended(type("ShardEnded", (), {"checkpointer": checkpointer})())


@pytest.fixture(scope="module")
def incident_run(embedded_settings: Settings) -> Iterator[dict[str, Any]]:
    with receiving() as receiver:
        yield _run(live_table_settings(embedded_settings), receiver)


def _run(settings: Settings, webhook: WebhookReceiver) -> dict[str, Any]:
    store = LiveStore(settings.aws().client("dynamodb"), settings.live_table)
    rule = next(r for r in load_rules() if r.name == "cdn-rebuffer-ratio")  # the shipped file's CDN rule
    processors, checkpointers = [], []
    for shard_id in SHARDS:
        alerting = Alerting(store=store, rules=[rule], sender=WebhookSender(webhook.url), window_ms=WINDOW_MS)
        processor = QoeMonitorProcessor(store=store, alerting=alerting, lateness_ms=120_000)
        processor.initialize(initialize_input(shard_id))
        processors.append(processor)
        checkpointers.append(RecordingCheckpointer())
    _feed(processors, checkpointers)
    return {"settings": settings, "store": store, "processors": processors, "checkpointers": checkpointers,
            "webhook": webhook}


def test_the_incident_cdn_rebuffers_in_the_incident_windows_only(incident_run: dict[str, Any]) -> None:
    fastly = rebuffer_ratios(incident_run["store"], "cdn#fastly", start_ms=START_MS)
    assert sorted(fastly) == list(range(INCIDENT_MINUTES))
    incident = [fastly[m] for m in INCIDENT_WINDOWS]
    quiet = [fastly[m] for m in quiet_windows()]
    assert all(ratio is not None and ratio > 0.02 for ratio in incident), incident
    assert all((ratio or 0) < 0.015 for ratio in quiet), quiet
    for other in ("akamai", "cloudfront", "cloudflare"):
        rows = incident_run["store"].rows(f"cdn#{other}", since_ms=START_MS + 8 * WINDOW_MS,
                                          until_ms=START_MS + 12 * WINDOW_MS)
        merged = merge_rows(rows)
        assert merged is not None and merged.rebuffer_ratio is not None and merged.rebuffer_ratio < 0.01, other


def test_one_alert_fires_and_resolves(incident_run: dict[str, Any]) -> None:
    texts = incident_run["webhook"].texts
    assert len(texts) == 2, texts
    assert texts[0].startswith("[FIRING] cdn-rebuffer-ratio: cdn fastly: rebuffer_ratio")
    assert texts[1].startswith("[RESOLVED] cdn-rebuffer-ratio: cdn fastly: rebuffer_ratio")


def test_both_shards_wrote_checkpointed_and_rejected_nothing(incident_run: dict[str, Any]) -> None:
    for processor, checkpointer in zip(incident_run["processors"], incident_run["checkpointers"], strict=True):
        assert processor.counters.rejected == {}
        assert processor.counters.rows_written > 0
        assert processor.monitor.counters.duplicates > 0  # the simulator's at-least-once copies
        positions = checkpointer.checkpoints
        assert positions[-1] is None  # SHARD_END
        assert [int(p) for p in positions[:-1]] == sorted(int(p) for p in positions[:-1])
    all_rows = incident_run["store"].rows("all", since_ms=START_MS, until_ms=START_MS + INCIDENT_MINUTES * WINDOW_MS)
    assert sum(row.starts for row in all_rows) > 300


def test_ottlake_live_once_prints_the_windows(incident_run: dict[str, Any], ottlake_env: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    settings: Settings = incident_run["settings"]
    for name, value in (("EMBEDDED_PORT", settings.embedded_port), ("LIVE_TABLE", settings.live_table),
                        ("STATE_DIR", settings.state_dir)):
        ottlake_env.setenv(f"OTTLAKE_{name}", str(value))
    ottlake_env.setenv("COLUMNS", "200")
    at = START_MS + 11 * WINDOW_MS
    code = main(["live", "--once", "--by", "cdn", "--minutes", "2", "--at", str(at)])
    out = capsys.readouterr().out
    assert code == 0, out
    fastly_lines = [line for line in out.splitlines() if "fastly" in line]
    assert len(fastly_lines) == 3  # windows at minutes 9, 10 and 11
    expected = rebuffer_ratios(incident_run["store"], "cdn#fastly", start_ms=START_MS)[11]
    assert expected is not None and f"{expected * 100:.2f}%" in fastly_lines[0]
