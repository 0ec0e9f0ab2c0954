"""Retries against a real boto3 Kinesis client, its responses scripted by botocore's Stubber.

The stubber checks each PutRecords call's parameters, so "only the failed
entries are resent, re-stamped" is asserted on the wire format itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import orjson
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber

from producers.sdk import KinesisSink, Record, SdkConfig, SinkError, Tracker
from producers.sdk.worker import full_jitter

STREAM = "player-events"
PTEE = "ProvisionedThroughputExceededException"


@pytest.fixture
def kinesis() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "kinesis", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stubber:
        yield client, stubber


def event(i: int) -> dict[str, Any]:
    return {"event_id": f"e{i}", "event_type": "heartbeat", "play_session_id": f"ps-{i}", "seq": i}


def wire(e: dict[str, Any], sent_ts: int) -> dict[str, Any]:
    """The PutRecords entry an event must become: compact JSON + sent_ts + newline, keyed by session."""
    return {"Data": orjson.dumps({**e, "sent_ts": sent_ts}) + b"\n", "PartitionKey": e["play_session_id"]}


def put_records_response(codes: list[str | None]) -> dict[str, Any]:
    records = [
        {"ErrorCode": code, "ErrorMessage": "scripted"} if code else {"SequenceNumber": str(n), "ShardId": "shardId-0"}
        for n, code in enumerate(codes)
    ]
    failed = sum(1 for code in codes if code)
    # The service model says FailedRecordCount >= 1, so the stubber wants it absent at 0.
    return {"FailedRecordCount": failed, "Records": records} if failed else {"Records": records}


class Harness:
    """A tracker on the stubbed client, with its clock, sleeps and on_error recorded."""

    def __init__(
        self, client: Any, *, max_retries: int = 8, base: float = 0.1, cap: float = 5.0, clock: Any = None,
        jitter: Any = lambda ceiling: ceiling,  # the ceiling itself, so the cap shows
    ) -> None:
        ticks = iter(range(1_000, 100_000, 1_000))  # each batch attempt reads the clock once
        self.waits: list[float] = []
        self.errors: list[tuple[Any, str]] = []
        config = SdkConfig(max_retries=max_retries, backoff_base_s=base, backoff_cap_s=cap, flush_interval_s=60)
        self.tracker = Tracker(
            KinesisSink(client, STREAM),
            config=config,
            on_error=lambda subject, reason: self.errors.append((subject, reason)),
            clock=clock or (lambda: next(ticks)),
            sleep=self.waits.append,
            jitter=jitter,
        )

    def run(self, events: list[dict[str, Any]]) -> None:
        for e in events:
            assert self.tracker.track(e)
        assert self.tracker.flush(timeout=10)
        self.tracker.shutdown(timeout=10)


def test_only_the_failed_entries_are_resent_and_restamped(kinesis: tuple[Any, Stubber]) -> None:
    client, stubber = kinesis
    events = [event(i) for i in range(4)]
    stubber.add_response(
        "put_records", put_records_response([None, PTEE, None, "InternalFailure"]),
        {"StreamName": STREAM, "Records": [wire(e, 1_000) for e in events]},
    )
    stubber.add_response(
        "put_records", put_records_response([None, None]),
        {"StreamName": STREAM, "Records": [wire(events[1], 2_000), wire(events[3], 2_000)]},
    )
    harness = Harness(client)
    harness.run(events)

    stubber.assert_no_pending_responses()
    counters = harness.tracker.counters
    assert (counters.queued, counters.sent, counters.retried, counters.failed) == (4, 4, 2, 0)
    assert harness.errors == []
    assert harness.waits == [0.1]


def test_backoff_is_exponential_and_capped_and_exhausted_records_reach_on_error(
    kinesis: tuple[Any, Stubber],
) -> None:
    client, stubber = kinesis
    events = [event(0), event(1)]
    stubber.add_response(
        "put_records", put_records_response([PTEE, None]),
        {"StreamName": STREAM, "Records": [wire(e, 1_000) for e in events]},
    )
    for attempt, ts in enumerate((2_000, 3_000, 4_000)):
        code = PTEE if attempt < 2 else "InternalFailure"
        stubber.add_response(
            "put_records", put_records_response([code]), {"StreamName": STREAM, "Records": [wire(events[0], ts)]}
        )
    harness = Harness(client, max_retries=3, base=0.1, cap=0.25)
    harness.run(events)

    stubber.assert_no_pending_responses()
    assert harness.waits == [0.1, 0.2, 0.25]  # base * 2**n, capped at 0.25
    assert len(harness.errors) == 1
    record, reason = harness.errors[0]
    assert reason == "InternalFailure"  # the last attempt's ErrorCode
    assert record == Record(wire(events[0], 4_000)["Data"], "ps-0")
    counters = harness.tracker.counters
    assert (counters.sent, counters.retried, counters.failed) == (1, 3, 1)
    assert counters.queued == counters.sent + counters.failed + counters.invalid


def test_full_jitter_never_waits_longer_than_the_capped_ceiling(kinesis: tuple[Any, Stubber]) -> None:
    client, stubber = kinesis
    for ts in range(1_000, 8_000, 1_000):
        stubber.add_response(
            "put_records", put_records_response([PTEE]), {"StreamName": STREAM, "Records": [wire(event(0), ts)]}
        )
    harness = Harness(client, max_retries=6, base=0.05, cap=0.3, jitter=full_jitter)
    harness.run([event(0)])

    ceilings = [min(0.3, 0.05 * 2**n) for n in range(6)]
    assert len(harness.waits) == 6
    assert all(0 <= wait <= ceiling for wait, ceiling in zip(harness.waits, ceilings))
    assert harness.errors[0][1] == PTEE and harness.tracker.counters.failed == 1


def test_a_throttled_or_5xx_whole_call_is_retried_whole(kinesis: tuple[Any, Stubber]) -> None:
    client, stubber = kinesis
    events = [event(i) for i in range(3)]
    stubber.add_client_error("put_records", service_error_code=PTEE, http_status_code=400)
    stubber.add_client_error("put_records", service_error_code="InternalFailure", http_status_code=500)
    stubber.add_response(
        "put_records", put_records_response([None] * 3),
        {"StreamName": STREAM, "Records": [wire(e, 3_000) for e in events]},
    )
    harness = Harness(client)
    harness.run(events)

    stubber.assert_no_pending_responses()
    counters = harness.tracker.counters
    assert (counters.sent, counters.retried, counters.failed) == (3, 6, 0)
    assert harness.waits == [0.1, 0.2]


def test_a_non_retryable_whole_call_fails_every_entry_with_the_error(kinesis: tuple[Any, Stubber]) -> None:
    client, stubber = kinesis
    events = [event(i) for i in range(3)]
    stubber.add_client_error(
        "put_records", service_error_code="ResourceNotFoundException", service_message="Stream not found",
        http_status_code=400,
    )
    harness = Harness(client)
    harness.run(events)

    stubber.assert_no_pending_responses()
    assert harness.waits == []
    assert [reason for _, reason in harness.errors] == ["ResourceNotFoundException: Stream not found"] * 3
    assert [orjson.loads(record.data)["seq"] for record, _ in harness.errors] == [0, 1, 2]
    counters = harness.tracker.counters
    assert (counters.sent, counters.retried, counters.failed) == (0, 0, 3)


def test_a_record_over_one_mib_never_reaches_kinesis(kinesis: tuple[Any, Stubber]) -> None:
    client, stubber = kinesis
    small, large = event(0), {**event(1), "pad": "p" * (1024 * 1024)}
    stubber.add_response(
        "put_records", put_records_response([None]), {"StreamName": STREAM, "Records": [wire(small, 1_000)]}
    )
    harness = Harness(client, clock=lambda: 1_000)
    harness.run([large, small])

    stubber.assert_no_pending_responses()
    assert len(harness.errors) == 1
    record, reason = harness.errors[0]
    assert reason == "record_too_large"
    assert isinstance(record, Record) and record.partition_key == "ps-1"
    assert len(record.data) > 1024 * 1024
    counters = harness.tracker.counters
    assert (counters.sent, counters.failed) == (1, 1)


class FlakyNetworkClient:
    """Fails the first call the way botocore does when the endpoint is unreachable."""

    def __init__(self, then: Any) -> None:
        self.then = then
        self.calls = 0

    def put_records(self, **params: Any) -> Any:
        self.calls += 1
        if self.calls == 1:
            raise EndpointConnectionError(endpoint_url="https://kinesis.us-east-1.amazonaws.com")
        return self.then.put_records(**params)


def test_a_network_failure_is_retried(kinesis: tuple[Any, Stubber]) -> None:
    client, stubber = kinesis
    stubber.add_response(
        "put_records", put_records_response([None]), {"StreamName": STREAM, "Records": [wire(event(0), 2_000)]}
    )
    flaky = FlakyNetworkClient(client)
    harness = Harness(flaky)  # type: ignore[arg-type]
    harness.run([event(0)])
    assert flaky.calls == 2
    assert harness.tracker.counters.sent == 1 and harness.waits == [0.1]


def test_kinesis_sink_classifies_whole_call_errors(kinesis: tuple[Any, Stubber]) -> None:
    client, stubber = kinesis
    sink = KinesisSink(client, STREAM)
    record = Record(b"{}\n", "k")
    cases = [("ThrottlingException", 400, True), ("ValidationException", 400, False),
             ("ServiceUnavailable", 503, True), ("AccessDeniedException", 403, False)]
    for code, status, _ in cases:
        stubber.add_client_error("put_records", service_error_code=code, http_status_code=status)
    outcomes = []
    for code, _, _ in cases:
        with pytest.raises(SinkError) as raised:
            sink.send([record])
        outcomes.append((raised.value.code, raised.value.retryable))
    assert outcomes == [(code, retryable) for code, _, retryable in cases]
