"""The collector against the embedded stack: `ottlake collector` as its own process writes
to the Kinesis stream and the dead-letter stream; SIGTERM flushes what it accepted;
the simulator sends through it over HTTP and every event arrives."""

from __future__ import annotations

import signal

import httpx
import orjson
import pytest

from ottlake.cli.main import main
from producers.events import now_ms
from producers.simulator import FaultRates, SimConfig, scenario_incidents, simulate
from tests.collector_helpers import IT_KEY, STOP_TIMEOUT_S, collector_env, collector_process, event, make_streams, read_stream

pytestmark = [pytest.mark.integration]


def test_sigterm_flushes_every_accepted_event_into_the_stream(embedded_settings) -> None:
    streams = make_streams(embedded_settings)
    good = [event(seq=n, play_session_id=f"ps-{n % 3}") for n in range(40)]
    now = now_ms()
    cmcd = "\n".join(f'e=ps,sid="cm-1",cid="c",sn={n},ts={now + n},sta={state}'
                     for n, state in enumerate("sprpe"))
    with collector_process(collector_env(embedded_settings, streams)) as (process, url):
        with httpx.Client(base_url=url, timeout=10) as http:
            answer = http.post("/v1/events", content=orjson.dumps([*good, event(seq=-1)]),
                               headers={"Authorization": f"Bearer {IT_KEY}"})
            assert answer.json()["accepted"] == 40
            answer = http.post("/v1/cmcd", content=cmcd, params={"write_key": IT_KEY, "viewer_id": "v-9"},
                               headers={"Content-Type": "application/cmcd"})
            assert answer.json() == {"accepted": 5, "rejected": []}
        assert read_stream(embedded_settings, streams[0]) == []  # still queued (60 s flush interval)
        process.send_signal(signal.SIGTERM)
        # uvicorn re-raises the SIGTERM it handled once it has shut down gracefully.
        assert process.wait(STOP_TIMEOUT_S) in (0, -signal.SIGTERM)
    arrived = read_stream(embedded_settings, streams[0])
    assert sorted(e["event_id"] for e in arrived if e["play_session_id"] != "cm-1") == sorted(
        e["event_id"] for e in good)
    cmcd_events = sorted((e for e in arrived if e["play_session_id"] == "cm-1"), key=lambda e: e["seq"])
    assert [e["event_type"] for e in cmcd_events] == ["play_request", "playing", "buffer_start", "playing", "ended"]
    assert {e["viewer_id"] for e in cmcd_events} == {"v-9"}
    assert {e["custom"]["app_id"] for e in arrived} == {"it-app"}
    (letter,) = read_stream(embedded_settings, streams[1])
    assert letter["reason"] == "out_of_range" and orjson.loads(letter["payload"])["seq"] == -1


def test_two_workers_serve_add_up_their_metrics_and_flush_on_sigterm(embedded_settings) -> None:
    streams = make_streams(embedded_settings)
    env = collector_env(embedded_settings, streams)  # 60 s flush interval: only SIGTERM's flush delivers
    with collector_process(env, args=["--workers", "2"]) as (process, url):
        with httpx.Client(base_url=url, timeout=10) as http:
            for n in range(10):
                with httpx.Client(base_url=url, timeout=10) as fresh:  # a new connection: either worker
                    assert fresh.post("/v1/events", content=orjson.dumps([event(seq=n)]),
                                      headers={"Authorization": "Bearer other"}).status_code == 200
            text = http.get("/metrics").text
        assert read_stream(embedded_settings, streams[0]) == []
        process.send_signal(signal.SIGTERM)
        process.wait(STOP_TIMEOUT_S)
    assert 'ottlake_collector_events_accepted_total{route="/v1/events"} 10.0' in text
    assert len(read_stream(embedded_settings, streams[0])) == 10


@pytest.mark.slow
def test_the_simulator_through_the_collector_every_event_arrives(embedded_settings, capsys) -> None:
    streams = make_streams(embedded_settings, shards=2)
    env = collector_env(embedded_settings, streams, OTTLAKE_SDK_FLUSH_INTERVAL_S="0.2")
    start_ms = now_ms() - 11 * 60_000
    config = SimConfig(viewers=15, minutes=10, seed=5, start_ms=start_ms,
                       faults=FaultRates(duplicate=0.02, out_of_order=0.05, late=0.0, skew=0.2),
                       incidents=scenario_incidents("calm", minutes=10))
    simulation = simulate(config)
    with collector_process(env) as (_process, url):
        rc = main(["simulate", "--viewers", "15", "--minutes", "10", "--seed", "5", "--start", str(start_ms),
                   "--late-rate", "0", "--duplicate-rate", "0.02", "--out-of-order-rate", "0.05", "--skew-rate", "0.2",
                   "--scenario", "calm", "--collector", url, "--write-key", IT_KEY])
        out = capsys.readouterr()
        assert rc == 0, out.err + out.out
        assert f"collector:{url}" in out.out
    arrived = read_stream(embedded_settings, streams[0])
    assert len(arrived) == len(simulation.deliveries)
    assert {e["event_id"] for e in arrived} == {d.event["event_id"] for d in simulation.deliveries}
    assert read_stream(embedded_settings, streams[1]) == []


def test_simulate_refuses_a_collector_it_cannot_reach_in_one_line(capsys) -> None:
    rc = main(["simulate", "--minutes", "1", "--collector", "http://127.0.0.1:9", "--write-key", "k"])
    assert rc == 1
    assert "cannot reach the collector" in capsys.readouterr().err
    assert main(["simulate", "--minutes", "1", "--collector", "http://127.0.0.1:9"]) == 2
