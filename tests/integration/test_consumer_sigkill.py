"""100,000 simulated events through the SDK while `ottlake consume sink` (the driver,
a separate process) is SIGKILLed twice and restarted: every event reaches the raw
zone, the sink adds no copy of its own, and bronze holds each event exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest

from consumers.kcl import settings_env
from producers.events import now_ms
from producers.sdk import KinesisSink, SdkConfig, Tracker
from producers.simulator import FaultRates, SimConfig, emit, simulate
from producers.simulator.emitter import Pacer
from tests.fixtures_consumers import raw_lines

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 100_000


def start_sink(settings, log: Path, *extra: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTTLAKE_")}
    env.update(settings_env(settings), PYTHONPATH=str(ROOT))
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "ottlake.cli.main", "consume", "sink", *extra],
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)


def wait_for_lines(lake: str, at_least: int, sink: subprocess.Popen, log: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while len(raw_lines(lake)) < at_least:
        assert sink.poll() is None, f"the sink exited early: {log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, f"fewer than {at_least} lines after {timeout_s} s"
        time.sleep(0.3)


def test_two_sigkills_lose_nothing_and_bronze_has_each_event_once(consumer_settings, spark, tmp_path) -> None:
    settings = consumer_settings(shards=2, sink_buffer_bytes=512 * 1024, sink_buffer_seconds=1.0)
    start = now_ms() - 25 * 60_000
    simulation = simulate(SimConfig(viewers=1500, minutes=20, seed=5, start_ms=start,
                                    faults=FaultRates(duplicate=0.01, out_of_order=0.02, late=0.0, skew=0.1)))
    deliveries = simulation.deliveries[:EVENTS]
    assert len(deliveries) == EVENTS
    distinct = {d.event["event_id"] for d in deliveries}

    tracker = Tracker(KinesisSink(settings.aws().client("kinesis"), settings.stream_name),
                      config=SdkConfig(flush_interval_s=0.2))
    emitted: dict = {}
    emitter = threading.Thread(target=lambda: emitted.update(report=emit(deliveries, tracker, pacer=Pacer(None, start))))
    log = tmp_path / "sink.log"
    sink = start_sink(settings, log)
    kills = []
    began = time.monotonic()
    try:
        emitter.start()
        for at_least in (15_000, 45_000):  # kill mid-run, while records flow
            wait_for_lines(settings.lake, at_least, sink, log)
            sink.send_signal(signal.SIGKILL)
            kills.append((sink.wait(), len(raw_lines(settings.lake))))
            sink = start_sink(settings, log)
        emitter.join(timeout=120)
        tracker.shutdown()
        sink.send_signal(signal.SIGTERM)  # graceful: the last buffer is written and checkpointed
        assert sink.wait(timeout=60) == 0, log.read_text()[-2000:]
        sink = start_sink(settings, log, "--drain")  # whatever arrived after the stop
        assert sink.wait(timeout=60) == 0, log.read_text()[-2000:]
        consumed_s = time.monotonic() - began
    finally:
        if sink.poll() is None:
            sink.kill()
            sink.wait()

    assert [code for code, _ in kills] == [-signal.SIGKILL] * 2
    counters = tracker.counters
    assert emitted["report"].tracked == EVENTS and (counters.sent, counters.failed, counters.dropped) == (EVENTS, 0, 0)
    lines = raw_lines(settings.lake)
    ids = [orjson.loads(line)["event_id"] for line in lines]
    assert set(ids) == distinct  # every event at least once
    # The stream holds EVENTS records (the simulator's own duplicates included); the
    # raw zone holds exactly those: the restarts rewrote objects instead of adding any.
    assert len(lines) == EVENTS
    raw_duplicates = len(ids) - len(distinct)
    print(f"\nraw zone: {len(lines):,} lines, {len(distinct):,} events, {raw_duplicates:,} duplicates "
          f"(all sent twice by the simulated devices); lines when killed: {[n for _, n in kills]}; "
          f"{consumed_s:.0f} s from the first event to the drained raw zone", flush=True)

    # The batch's bronze step (emr.steps.STEPS[0]) is where duplicates go;
    # the later stages only read bronze, so the test stops there to stay short.
    from emr.local import job
    from emr.steps import STEPS
    from quality.gate import GateRun, recorded
    from schemas.layout import Lake

    lake = Lake.at(settings.lake)
    assert STEPS[0].name == "bronze"
    run_bronze = job(STEPS[0])
    began = time.monotonic()
    with recorded(spark, GateRun.new()) as gates:
        bronze_counts = run_bronze(spark, lake, gates=gates).counts
    print(f"bronze: {time.monotonic() - began:.0f} s, {bronze_counts}", flush=True)
    bronze = spark.read.format("delta").load(lake.bronze)
    assert bronze.count() == bronze.select("event_id").distinct().count() == len(distinct)
    assert spark.read.format("delta").load(lake.quarantine).count() == 0
    assert (bronze_counts["rows_in"], bronze_counts["duplicates"]) == (EVENTS, raw_duplicates)
