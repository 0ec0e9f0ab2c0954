"""The real KCL 3.x MultiLangDaemon (Java, amazon-kclpy's jars) against the embedded
stack, running the lake sink through `consumers.kcl_entry`: records flow, the
checkpoints land in the DynamoDB lease table, and a restart resumes from them."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time

import orjson
import pytest

from consumers import kcl
from consumers.kcl_leases import LeaseTable
from consumers.stream import read_stream
from tests.fixtures_consumers import raw_lines
from tests.integration.test_consumer_driver import put

pytestmark = [
    pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180),
    pytest.mark.skipif(shutil.which("java") is None, reason="the KCL daemon needs Java 17"),
]


def run_daemon_until(settings, tmp_path, expected: int, log_name: str) -> tuple[float, float]:
    """Start the daemon; wait until the raw zone holds `expected` lines and every
    lease is checkpointed at its shard's last record; stop it with SIGTERM.
    Returns (seconds until the first object, seconds until everything)."""
    log = tmp_path / log_name
    kinesis = settings.aws().client("kinesis")
    last = {}
    for record in read_stream(kinesis, settings.stream_name):
        last[record.shard_id] = record.sequence_number
    leases = LeaseTable(settings.aws().client("dynamodb"), settings.lake_sink_app, "reader")
    began = time.monotonic()
    first_object = None
    with open(log, "wb") as out:
        daemon = kcl.start_daemon(settings, "sink", workdir=tmp_path / "kcl", worker_id="it-kcl-worker",
                                  stdout=out, stderr=subprocess.STDOUT)
    try:
        while True:
            assert daemon.poll() is None, f"the daemon exited: {log.read_text()[-3000:]}"
            lines = len(raw_lines(settings.lake))
            if lines and first_object is None:
                first_object = time.monotonic() - began
            checkpoints = {shard: lease.checkpoint for shard, lease in leases.scan().items()}
            if lines >= expected and checkpoints == last:
                break
            assert time.monotonic() - began < 90, (
                f"after 90 s: {lines} lines, checkpoints {checkpoints}; log: {log.read_text()[-3000:]}")
            time.sleep(0.5)
        done = time.monotonic() - began
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
    text = log.read_text()
    assert "shutdownRequested" in text  # SIGTERM reached the processors before the leases went
    return first_object or done, done


def test_the_daemon_runs_the_sink_and_checkpoints_in_dynamodb(consumer_settings, tmp_path) -> None:
    settings = consumer_settings(shards=2, sink_buffer_bytes=4096, sink_buffer_seconds=1.0)
    kinesis = settings.aws().client("kinesis")
    put(kinesis, settings.stream_name, range(1000))
    first, everything = run_daemon_until(settings, tmp_path, 1000, "daemon-1.log")

    put(kinesis, settings.stream_name, range(1000, 2500))
    run_daemon_until(settings, tmp_path, 2500, "daemon-2.log")  # resumes from the checkpoints

    ids = sorted(orjson.loads(line)["event_id"] for line in raw_lines(settings.lake))
    assert ids == sorted(f"e-{n}" for n in range(2500))  # none missing, none twice
    tables = set(settings.aws().client("dynamodb").list_tables()["TableNames"])
    # KCL 3.x made its own extra tables on the emulator, named as the properties say.
    assert {f"{settings.lake_sink_app}-CoordinatorState", f"{settings.lake_sink_app}-WorkerMetricStats"} <= tables
    print(f"\nKCL daemon: first object after {first:.1f} s, 1,000 records checkpointed after {everything:.1f} s")
