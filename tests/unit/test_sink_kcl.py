"""The sink under amazon-kclpy's real protocol loop (`python -m consumers.kcl_entry`),
and the daemon's properties and command line, without Java or AWS."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from consumers import kcl
from ottlake.errors import ConfigError
from tests.fixtures_consumers import ARRIVAL_MS, event_line, raw_lines
from tests.fixtures_stack import stack_settings

ROOT = Path(__file__).resolve().parents[2]


def _record(n: int) -> dict:
    return {"action": "record", "sequenceNumber": str(n), "subSequenceNumber": 0,
            "approximateArrivalTimestamp": ARRIVAL_MS + n, "partitionKey": f"p-{n}",
            "data": base64.b64encode(event_line(n, padding="x" * 200)).decode()}


class Daemon:
    """The MultiLangDaemon's side of the pipe: send one action, read the replies."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.stdout_lines: list[str] = []

    def send(self, message: dict) -> None:
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def read(self) -> dict:
        while True:
            line = self.process.stdout.readline()
            assert line, "the processor closed its stdout"
            self.stdout_lines.append(line)
            if line.strip():  # kclpy surrounds each message with blank lines
                return json.loads(line)

    def answer_checkpoints(self, until: str) -> list[str]:
        """Acknowledge every checkpoint request until the status for `until`."""
        checkpoints = []
        while (reply := self.read())["action"] == "checkpoint":
            checkpoints.append(reply["sequenceNumber"])
            self.send({"action": "checkpoint", "sequenceNumber": reply["sequenceNumber"],
                       "subSequenceNumber": reply["subSequenceNumber"], "error": None})
        assert reply == {"action": "status", "responseFor": until}
        return checkpoints


@pytest.mark.timeout(60)
def test_kcl_entry_speaks_only_the_protocol_on_stdout_and_checkpoints_after_writing(tmp_path) -> None:
    settings = stack_settings(tmp_path / "state", lake=str(tmp_path / "lake"), sink_buffer_bytes=1024)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTTLAKE_")}
    env.update(kcl.settings_env(settings), PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [sys.executable, "-m", "consumers.kcl_entry", "sink", "--log-level", "INFO"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )
    daemon = Daemon(process)
    try:
        daemon.send({"action": "initialize", "shardId": "shardId-000000000007",
                     "sequenceNumber": "TRIM_HORIZON", "subSequenceNumber": 0})
        assert daemon.read() == {"action": "status", "responseFor": "initialize"}
        daemon.send({"action": "processRecords", "millisBehindLatest": 0,
                     "records": [_record(n) for n in range(1, 11)]})
        during = daemon.answer_checkpoints("processRecords")
        daemon.send({"action": "shutdownRequested"})
        at_shutdown = daemon.answer_checkpoints("shutdownRequested")
        process.stdin.close()
        assert process.wait(timeout=20) == 0
        stderr = process.stderr.read()
    finally:
        process.kill()
        process.wait()

    lines = raw_lines(tmp_path / "lake")
    assert sorted(orjson.loads(line)["event_id"] for line in lines) == sorted(f"e-{n}" for n in range(1, 11))
    objects = len(list((tmp_path / "lake").rglob("*.gz")))
    assert len(during) + len(at_shutdown) == objects and at_shutdown[-1] == "10"
    protocol = [json.loads(line) for line in daemon.stdout_lines if line.strip()]
    assert all(message["action"] in ("status", "checkpoint") for message in protocol)
    assert "lake sink: wrote" in stderr  # the logs went to stderr


def test_properties_point_the_daemon_at_the_emulator_and_name_every_table(tmp_path) -> None:
    settings = stack_settings(tmp_path, embedded_port=4999, stream_name="events", lake_sink_app="sink-app")
    text = kcl.render_properties(settings, "sink", worker_id="w-1", lake="/data/lake", python="/usr/bin/python3")
    props = dict(line.split(" = ", 1) for line in text.splitlines() if " = " in line and not line.startswith("#"))
    assert props["executableName"] == "/usr/bin/python3 -m consumers.kcl_entry sink --lake /data/lake"
    assert (props["streamName"], props["applicationName"], props["workerId"]) == ("events", "sink-app", "w-1")
    assert props["kinesisEndpoint"] == props["dynamoDBEndpoint"] == "http://127.0.0.1:4999"
    assert props["coordinatorStateTableName"] == "sink-app-CoordinatorState"
    assert props["workerMetricsTableName"] == "sink-app-WorkerMetricStats"
    assert props["metricsLevel"] == "NONE" and props["retrievalMode"] == "POLLING"
    assert "$" not in text

    on_aws = kcl.render_properties(stack_settings(tmp_path, aws_endpoint="aws"), "monitor", worker_id="w")
    assert "kinesisEndpoint" not in on_aws and "applicationName = ottlake-qoe-monitor" in on_aws
    with pytest.raises(ConfigError, match="spaces"):
        kcl.render_properties(settings, "sink", worker_id="w", lake="/my lake")


def test_daemon_command_uses_kclpy_jars_and_turns_cbor_off_only_for_an_emulator(tmp_path) -> None:
    emulator = kcl.daemon_command(tmp_path / "a.properties", emulator=True, java="/opt/java")
    assert emulator[:2] == ["/opt/java", "-Daws.cborEnabled=false"]
    classpath = emulator[emulator.index("-cp") + 1].split(os.pathsep)
    assert any(Path(jar).name.startswith("amazon-kinesis-client-multilang-") for jar in classpath)
    assert emulator[emulator.index(kcl.DAEMON_CLASS) + 1:][:2] == ["--properties-file", str(tmp_path / "a.properties")]
    assert "-Daws.cborEnabled=false" not in kcl.daemon_command(tmp_path / "a.properties", emulator=False, java="j")
