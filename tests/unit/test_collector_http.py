"""The collector's HTTP contract, against a real uvicorn server on 127.0.0.1: every
status code it answers and every reason code it gives, and what reaches the stream
(the SDK's MemorySink here; the Kinesis stream in tests/integration/test_collector_stream.py)."""

from __future__ import annotations

import gzip
import json
import time

import orjson
import pytest

from producers.collector.ingest import APP_ID_KEY, MALFORMED_CMCD
from producers.events import now_ms
from producers.sdk import SdkConfig
from schemas.contract import LIMITS
from schemas.validate import Reason
from tests.collector_helpers import APP, KEY, GateSink, config, event, serving, wait_for

AUTH = {"Authorization": f"Bearer {KEY}"}
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"


@pytest.fixture(scope="module")
def served():
    with serving(config(max_events=20, max_body_bytes=256 * 1024)) as running:
        yield running


@pytest.fixture
def client(served):
    with served.client() as http:
        yield http


def stream_events(served, count: int) -> list[dict]:
    return wait_for(lambda: len(served.events.events()) >= count and served.events.events(),
                    what=f"{count} events in the stream")


def post(client, body: bytes | str, *, route: str = "/v1/events", headers: dict | None = None, params=None):
    return client.post(route, content=body, headers={**AUTH, **(headers or {})}, params=params)


# --- 200 -----------------------------------------------------------------------------


def test_a_json_array_is_accepted_stamped_and_in_the_stream(served, client) -> None:
    served.events.records.clear()
    sent = [event(seq=0, page="home", sent_ts=None), event(seq=1, custom={"ab": "x"})]
    before = now_ms()
    answer = post(client, orjson.dumps(sent), headers={"User-Agent": IPHONE})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"accepted": 2, "rejected": []}
    first, second = sorted(stream_events(served, 2), key=lambda e: e["seq"])
    assert first["custom"] == {"page": "home", APP_ID_KEY: APP}  # unknown field moved, app stamped
    assert second["custom"] == {"ab": "x", APP_ID_KEY: APP}
    assert before <= first["received_ts"] <= now_ms()
    assert (first["os_name"], first["device_type"]) == ("iOS", "mobile")  # from the User-Agent
    assert "page" not in first


def test_ndjson_gzip_and_the_write_key_on_the_url(served, client) -> None:
    served.events.records.clear()
    lines = b"\n".join(orjson.dumps(event(seq=n, device_type="tv", received_ts=1)) for n in range(3)) + b"\n"
    answer = client.post("/v1/events", content=gzip.compress(lines), params={"write_key": KEY},
                         headers={"Content-Encoding": "gzip", "Content-Type": "application/x-ndjson"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 3
    arrived = stream_events(served, 3)
    assert all(e["received_ts"] > 1 for e in arrived)  # the client's value overwritten
    assert all(e["device_type"] == "tv" and "os_name" not in e for e in arrived)  # device fields kept as sent


def test_the_client_address_is_never_stored(served, client) -> None:
    served.events.records.clear()
    post(client, orjson.dumps([event()]), headers={"X-Forwarded-For": "203.0.113.9"})
    (stored,) = stream_events(served, 1)
    assert "127.0.0.1" not in json.dumps(stored) and "203.0.113.9" not in json.dumps(stored)


def test_nulls_are_absent_and_a_required_null_is_missing(served, client) -> None:
    served.events.records.clear()
    answer = post(client, orjson.dumps([event(cdn=None, bitrate_kbps=None), event(viewer_id=None)]))
    body = answer.json()
    assert body["accepted"] == 1
    assert body["rejected"][0]["index"] == 1
    assert body["rejected"][0]["violations"][0] == {
        "field": "viewer_id", "reason": "missing_field", "message": "viewer_id is required"}
    (stored,) = stream_events(served, 1)
    assert "cdn" not in stored and "bitrate_kbps" not in stored


# --- every per-event reason code -----------------------------------------------------

# Built when a case runs, not when the module is collected: the time cases are relative
# to the server's clock at the request (collected 20 min before, a "future" event is past).
REASON_CASES = {
    Reason.not_an_object: lambda: [1, 2],
    Reason.missing_field: lambda: event(seq=...),
    Reason.wrong_type: lambda: event(seq="1"),
    Reason.unknown_event_type: lambda: event(event_type="stall"),
    Reason.invalid_value: lambda: event(content_type="film"),
    Reason.unsupported_schema_version: lambda: event(schema_version=2),
    Reason.string_too_long: lambda: event(cdn="x" * (LIMITS.max_string_chars + 1)),
    Reason.empty_string: lambda: event(viewer_id=""),
    Reason.too_many_custom_keys: lambda: event(custom={f"k{i}": "v" for i in range(LIMITS.max_custom_keys)}),
    Reason.invalid_format: lambda: event(event_id="not-a-uuid"),
    Reason.out_of_range: lambda: event(seq=-1),
    Reason.future_timestamp: lambda: event(event_ts=now_ms() + LIMITS.future_tolerance_ms + 60_000),
    Reason.too_late: lambda: event(event_ts=now_ms() - LIMITS.max_lateness_ms - 60_000),
}


@pytest.mark.parametrize("reason", list(REASON_CASES), ids=str)
def test_every_reason_code_is_answered_and_dead_lettered(served, client, reason) -> None:
    bad = REASON_CASES[reason]()
    answer = post(client, orjson.dumps([event(), bad]))
    assert answer.status_code == 200
    body = answer.json()
    assert body["accepted"] == 1
    assert [(r["index"], r["reason"]) for r in body["rejected"]] == [(1, str(reason))]
    letters = wait_for(lambda: [orjson.loads(r.data) for r in served.dead_letters.records
                                if orjson.loads(r.data)["payload"] == orjson.dumps(bad).decode()],
                       what="the dead letter")
    assert letters[-1]["reason"] == str(reason) and letters[-1]["app_id"] == APP


def test_an_event_over_16_kib_is_413_by_default_and_alone_when_the_limit_is_raised(client) -> None:
    big = event(custom={f"k{i}": "v" * 1000 for i in range(17)})
    refused = post(client, orjson.dumps([event(), big]))
    assert (refused.status_code, refused.json()["reason"]) == (413, "event_too_large")
    assert "at most 16384" in refused.json()["message"]
    with serving(config(max_event_bytes=64 * 1024)) as running, running.client() as http:
        answer = http.post("/v1/events", content=orjson.dumps([event(), big]), headers=AUTH)
        assert answer.status_code == 200
        assert answer.json()["accepted"] == 1
        assert [(r["index"], r["reason"]) for r in answer.json()["rejected"]] == [(1, "event_too_large")]
        letters = wait_for(lambda: running.dead_letters.records, what="the dead letter")
        assert orjson.loads(letters[0].data)["reason"] == "event_too_large"


def test_malformed_json_line_is_rejected_alone(served, client) -> None:
    answer = post(client, orjson.dumps(event()) + b'\n{"event_id": \n')
    assert answer.json()["accepted"] == 1
    assert [(r["index"], r["reason"]) for r in answer.json()["rejected"]] == [(1, "malformed_json")]


def test_an_unknown_field_that_collides_with_custom_is_invalid_value(served, client) -> None:
    answer = post(client, orjson.dumps([event(custom={"page": "a"}, page="b")]))
    (rejected,) = answer.json()["rejected"]
    assert (rejected["reason"], rejected["violations"][0]["field"]) == ("invalid_value", "custom.page")


def test_unknown_field_is_never_a_rejection_here(served, client) -> None:
    # Reason.unknown_field: bronze never sees one from the collector, which moves it into custom.
    answer = post(client, orjson.dumps([event(brand_new_field={"x": [1]})]))
    assert answer.json() == {"accepted": 1, "rejected": []}


def test_a_malformed_cmcd_report_is_rejected_and_the_rest_kept(served, client) -> None:
    now = now_ms()
    body = f'e=ps,sid="s-9",cid="c",sn=0,ts={now},sta=s\nsid="unterminated\ne=ps,sid="s-9",cid="c",sn=1,ts={now},sta=p'
    answer = post(client, body, route="/v1/cmcd", headers={"Content-Type": "application/cmcd"},
                  params={"viewer_id": "vw"})
    assert answer.status_code == 200
    assert answer.json()["accepted"] == 2
    assert [(r["index"], r["reason"]) for r in answer.json()["rejected"]] == [(1, MALFORMED_CMCD)]


# --- whole-request refusals ------------------------------------------------------------


@pytest.mark.parametrize(("headers", "params", "reason"), [
    ({}, None, "missing_write_key"),
    ({"Authorization": "Bearer nope"}, None, "unknown_write_key"),
    ({}, {"write_key": "nope"}, "unknown_write_key"),
    ({"Authorization": "Basic abc"}, None, "malformed_authorization"),
])
def test_401_with_a_reason(served, client, headers, params, reason) -> None:
    for route in ("/v1/events", "/v1/cmcd"):
        answer = client.post(route, content=b"[]", headers=headers, params=params)
        assert answer.status_code == 401
        assert answer.json()["reason"] == reason


@pytest.mark.parametrize(("route", "body", "headers", "reason"), [
    ("/v1/events", b"", {}, "empty_body"),
    ("/v1/events", b"[1, 2", {}, "malformed_json"),
    ("/v1/events", b"not json at all", {}, "malformed_json"),
    ("/v1/events", b"[]", {"Content-Encoding": "gzip"}, "malformed_gzip"),
    ("/v1/events", gzip.compress(b"[]")[:-6], {"Content-Encoding": "gzip"}, "malformed_gzip"),
    ("/v1/cmcd", b"\xff\xfe", {}, "malformed_cmcd"),
    ("/v1/cmcd", b'sid="open\nNOT-CMCD', {}, "malformed_cmcd"),
    ("/v1/cmcd", b"\n\n", {}, "empty_body"),
])
def test_400_with_a_reason(client, route, body, headers, reason) -> None:
    answer = post(client, body, route=route, headers=headers)
    assert answer.status_code == 400
    assert answer.json()["reason"] == reason
    assert answer.json()["message"]


def test_415_for_an_unknown_content_encoding(client) -> None:
    answer = post(client, b"[]", headers={"Content-Encoding": "br"})
    assert (answer.status_code, answer.json()["reason"]) == (415, "unsupported_encoding")


def test_413_limits_with_a_clear_message(client) -> None:
    too_many = post(client, orjson.dumps([event(seq=n) for n in range(21)]))
    assert (too_many.status_code, too_many.json()["reason"]) == (413, "too_many_events")
    assert "at most 20" in too_many.json()["message"]
    huge = post(client, orjson.dumps([event(custom={"k": "v" * (70 * 1024)})]))
    assert (huge.status_code, huge.json()["reason"]) == (413, "event_too_large")
    big = post(client, b"[" + b" " * (300 * 1024) + b"]")
    assert (big.status_code, big.json()["reason"]) == (413, "body_too_large")
    bomb = post(client, gzip.compress(b"[" + b" " * (2 * 1024 * 1024) + b"]"), headers={"Content-Encoding": "gzip"})
    assert (bomb.status_code, bomb.json()["reason"]) == (413, "body_too_large")
    cmcd_lines = "\n".join(f'e=t,sid="s",sn={n}' for n in range(21))
    assert post(client, cmcd_lines, route="/v1/cmcd").status_code == 413


def test_cors_preflight_and_headers(client) -> None:
    preflight = client.options("/v1/events", headers={
        "Origin": "https://player.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] in ("*", "https://player.example")
    assert "POST" in preflight.headers["access-control-allow-methods"]
    answer = post(client, orjson.dumps([event()]), headers={"Origin": "https://player.example"})
    assert answer.headers["access-control-allow-origin"] in ("*", "https://player.example")


def test_cors_refuses_an_origin_not_listed() -> None:
    with serving(config(cors_origins=("https://ok.example",))) as running, running.client() as http:
        refused = http.options("/v1/events", headers={"Origin": "https://evil.example",
                                                      "Access-Control-Request-Method": "POST"})
        assert refused.status_code == 400
        allowed = http.options("/v1/events", headers={"Origin": "https://ok.example",
                                                     "Access-Control-Request-Method": "POST"})
        assert allowed.headers["access-control-allow-origin"] == "https://ok.example"


def test_healthz_and_other_routes(client) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/v1/events").status_code == 405
    assert client.get("/nowhere").status_code == 404


def test_metrics_count_requests_events_reasons_queue_and_latency(served, client) -> None:
    post(client, orjson.dumps([event(), event(seq=-1)]))
    client.post("/v1/events", content=b"[]")
    wait_for(lambda: served.events.records, what="a put")
    time.sleep(0.2)
    text = client.get("/metrics").text
    assert 'ottlake_collector_requests_total{route="/v1/events",status="200"}' in text
    assert 'ottlake_collector_requests_total{route="/v1/events",status="401"}' in text
    assert 'ottlake_collector_events_accepted_total{route="/v1/events"}' in text
    assert 'ottlake_collector_events_rejected_total{reason="out_of_range",route="/v1/events"}' in text
    assert 'ottlake_collector_queue_depth{stream="events"}' in text
    assert 'ottlake_collector_stream_put_seconds_bucket{le="0.005",stream="events"}' in text


def test_429_with_retry_after_when_the_queue_is_full_and_nothing_half_kept() -> None:
    sink = GateSink()
    sdk = SdkConfig(queue_size=10, max_batch_records=5, flush_interval_s=0.01)
    with serving(config(retry_after_s=3), events=sink, sdk=sdk) as running, running.client() as http:
        first = http.post("/v1/events", content=orjson.dumps([event(seq=n) for n in range(5)]), headers=AUTH)
        assert first.status_code == 200
        wait_for(lambda: sink.calls or True, what="the worker")
        statuses = []
        for attempt in range(6):
            answer = http.post("/v1/events", content=orjson.dumps([event(seq=10 * attempt + n) for n in range(6)]),
                               headers=AUTH)
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                assert answer.headers["retry-after"] == "3"
                assert answer.json()["reason"] == "queue_full"
                break
        assert statuses[-1] == 429
        accepted = 5 + 6 * (len(statuses) - 1)
        sink.gate.set()
    # The server stopped, its writer flushed: exactly the accepted events, none of the refused request.
    assert len(sink.records) == accepted
