"""20,000 simulated events through the SDK into the emulator's stream, read back
byte for byte with the order within each partition key kept."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import pytest

from consumers.stream import read_stream
from ottlake.services import infra
from ottlake.services.arrivals import count_arrivals
from producers.sdk import KinesisSink, Record, SdkConfig, Tracker
from producers.simulator import FaultRates, SimConfig, emit, simulate
from producers.simulator.emitter import Pacer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

START_MS = 1_700_000_000_000


class RecordingSink:
    """The Kinesis sink, remembering every record the stream accepted, in order."""

    def __init__(self, inner: KinesisSink) -> None:
        self.inner = inner
        self.accepted: list[Record] = []

    def send(self, records: Sequence[Record]) -> Sequence[str | None]:
        results = self.inner.send(records)
        self.accepted.extend(r for r, error in zip(records, results, strict=True) if error is None)
        return results


def test_20k_events_arrive_byte_for_byte_in_key_order(embedded_settings) -> None:
    settings = embedded_settings.model_copy(update={"stream_name": "it-sdk-20k", "stream_shards": 3})
    infra.apply(settings)
    client = settings.aws().client("kinesis")

    # Duplicates and reordering are the simulator's; the stream must carry them as sent.
    config = SimConfig(viewers=700, minutes=12, seed=20, start_ms=START_MS,
                       faults=FaultRates(duplicate=0.01, out_of_order=0.02, late=0.0, skew=0.1))
    simulation = simulate(config)
    deliveries = simulation.deliveries[:20_000]
    assert len(deliveries) == 20_000, "the simulation must make at least 20,000 records"

    sink = RecordingSink(KinesisSink(client, settings.stream_name))
    with Tracker(sink, config=SdkConfig(flush_interval_s=0.2)) as tracker:
        report = emit(deliveries, tracker, pacer=Pacer(None, START_MS))
    assert report.flushed and report.tracked == 20_000
    counters = tracker.counters
    assert (counters.sent, counters.failed, counters.dropped, counters.invalid) == (20_000, 0, 0, 0)

    arrived = list(read_stream(client, settings.stream_name))
    assert len(arrived) == 20_000
    assert sorted(r.data for r in arrived) == sorted(r.data for r in sink.accepted)
    for record in arrived:
        assert record.data.endswith(b"\n") and record.data.count(b"\n") == 1

    sent_by_key: dict[str, list[bytes]] = defaultdict(list)
    for record in sink.accepted:
        sent_by_key[record.partition_key].append(record.data)
    arrived_by_key: dict[str, list[bytes]] = defaultdict(list)
    for record in arrived:  # one key lives on one shard, read in sequence order
        arrived_by_key[record.partition_key].append(record.data)
    assert arrived_by_key == sent_by_key

    summary = count_arrivals(arrived)
    assert not summary.invalid and summary.wrong_partition_key == 0
    assert summary.distinct_events == len({d.event["event_id"] for d in deliveries})
    assert len(summary.per_shard) == 3
