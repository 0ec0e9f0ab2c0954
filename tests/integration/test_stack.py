"""The embedded stack for real: a daemon on 127.0.0.1, through the CLI and the library."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from ottlake.cli.main import main
from ottlake.errors import StackError
from ottlake.services import stack
from ottlake.settings import Settings
from tests.fixtures_stack import free_port, port_answers, stack_settings

pytestmark = pytest.mark.integration


def _cli_env(env: pytest.MonkeyPatch, settings: Settings) -> None:
    env.setenv("OTTLAKE_EMBEDDED_PORT", str(settings.embedded_port))
    env.setenv("OTTLAKE_STATE_DIR", str(settings.state_dir))


def _exited(pid: int) -> bool:
    """Gone, or a zombie that init has not reaped yet (the daemon is not our child)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] == "Z"


def _servers_on(port: int) -> list[int]:
    """Live processes whose command line is our daemon's for this port (zombies have none)."""
    wanted = ["ottlake.services.stack", "--port", str(port)]
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                    argv = cmdline.read().decode().split("\0")
            except OSError:
                continue
            if all(part in argv for part in wanted):
                found.append(int(entry.name))
    return found


def test_up_status_down_through_the_cli(ottlake_env, fresh_stack_settings, capsys):
    settings = fresh_stack_settings
    _cli_env(ottlake_env, settings)

    assert main(["stack", "status"]) == 0
    assert "not running" in capsys.readouterr().out

    assert main(["stack", "up"]) == 0
    started = capsys.readouterr().out
    pid = int(stack.pid_path(settings).read_text())
    assert f"started: pid {pid} at {settings.embedded_url}" in started
    os.kill(pid, 0)  # alive

    assert main(["stack", "up"]) == 0
    assert f"already running: pid {pid}" in capsys.readouterr().out
    assert int(stack.pid_path(settings).read_text()) == pid

    assert main(["stack", "status"]) == 0
    assert f"running: pid {pid} at {settings.embedded_url}" in capsys.readouterr().out

    began = time.monotonic()
    assert main(["stack", "down"]) == 0
    took = time.monotonic() - began
    assert "stopped" in capsys.readouterr().out
    assert took < 5.0
    assert not port_answers(settings.embedded_port)
    assert _exited(pid)
    assert not stack.pid_path(settings).exists()

    assert main(["stack", "down"]) == 0
    assert "not running" in capsys.readouterr().out


def test_boto3_over_http11(embedded_settings):
    kinesis = embedded_settings.aws().client("kinesis")
    put = kinesis.put_record(StreamName=embedded_settings.stream_name, Data=b"{}", PartitionKey="viewer-1")
    assert "hypercorn-h11" in put["ResponseMetadata"]["HTTPHeaders"]["server"]
    shard = kinesis.get_shard_iterator(
        StreamName=embedded_settings.stream_name, ShardId=put["ShardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber=put["SequenceNumber"],
    )["ShardIterator"]
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=shard)["Records"]][:1] == [b"{}"]


def test_responses_without_a_body_reach_the_client(embedded_settings):
    # HEAD and S3 PutObject answer with no body; hypercorn 0.18 alone never sends their status.
    s3 = embedded_settings.aws().client("s3")
    s3.put_object(Bucket=embedded_settings.bucket, Key="probe/empty-body.txt", Body=b"x")
    head = s3.head_object(Bucket=embedded_settings.bucket, Key="probe/empty-body.txt")
    assert head["ContentLength"] == 1


def _h2c_post(settings: Settings, *, target: str, body: bytes) -> tuple[dict[str, str], bytes]:
    """One signed Kinesis call over cleartext HTTP/2 with prior knowledge, as the KCL sends it.

    No content-length header: HTTP/2 does not need one, and the server must still see the body.
    """
    import h2.config
    import h2.connection
    import h2.events
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="POST", url=settings.embedded_url + "/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target,
    })
    SigV4Auth(Credentials("testing", "testing"), "kinesis", settings.region).add_auth(request)
    connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    connection.initiate_connection()
    headers = [(":method", "POST"), (":scheme", "http"), (":path", "/"),
               (":authority", f"127.0.0.1:{settings.embedded_port}")]
    headers += [(name.lower(), value) for name, value in request.headers.items() if name.lower() != "host"]
    stream_id = connection.get_next_available_stream_id()
    connection.send_headers(stream_id, headers)
    connection.send_data(stream_id, body, end_stream=True)

    response_headers: dict[str, str] = {}
    response_body = b""
    with socket.create_connection(("127.0.0.1", settings.embedded_port), timeout=5) as sock:
        sock.sendall(connection.data_to_send())
        ended = False
        while not ended:
            data = sock.recv(65536)
            assert data, "the server closed the HTTP/2 connection"
            for event in connection.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    response_headers = {k.decode(): v.decode() for k, v in event.headers}
                elif isinstance(event, h2.events.DataReceived):
                    response_body += event.data
                    connection.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    ended = True
            sock.sendall(connection.data_to_send())
    return response_headers, response_body


def test_cleartext_http2_with_prior_knowledge(embedded_settings):
    headers, body = _h2c_post(embedded_settings, target="Kinesis_20131202.ListShards",
                              body=json.dumps({"StreamName": embedded_settings.stream_name}).encode())
    assert headers[":status"] == "200"
    assert headers["server"] == "hypercorn-h2"
    assert len(json.loads(body)["Shards"]) == embedded_settings.stream_shards


def test_port_taken_by_another_listener(ottlake_env, fresh_stack_settings, capsys):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", fresh_stack_settings.embedded_port))
        other.listen()
        _cli_env(ottlake_env, fresh_stack_settings)
        assert main(["stack", "up"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"port {fresh_stack_settings.embedded_port} on 127.0.0.1 is already in use" in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert not stack.status(fresh_stack_settings).running


def test_server_that_dies_while_starting_names_its_log(fresh_stack_settings):
    # Bound but not listening: the port check sees nothing, the server's bind fails.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", fresh_stack_settings.embedded_port))
        with pytest.raises(StackError, match="exited while starting") as failure:
            stack.up(fresh_stack_settings, timeout_s=15)
    log = stack.log_path(fresh_stack_settings)
    assert str(log) in str(failure.value)
    assert "Address already in use" in log.read_text()
    assert not stack.pid_path(fresh_stack_settings).exists()


def test_a_stack_that_does_not_answer_in_time_is_stopped(fresh_stack_settings, monkeypatch):
    # A real daemon, but every readiness probe fails: as if it hung while starting.
    monkeypatch.setattr(stack, "_probe_error", lambda settings, client=None: "no answer (simulated)")
    with pytest.raises(StackError, match=r"did not answer on http://127\.0\.0\.1:\d+ within 0\.5 s") as failure:
        stack.up(fresh_stack_settings, timeout_s=0.5)
    assert "no answer (simulated)" in str(failure.value)
    assert str(stack.log_path(fresh_stack_settings)) in str(failure.value)
    assert not stack.pid_path(fresh_stack_settings).exists()
    assert _servers_on(fresh_stack_settings.embedded_port) == []


def test_stale_pid_files_are_ignored_and_never_signalled(fresh_stack_settings):
    pid_file = stack.pid_path(fresh_stack_settings)
    pid_file.parent.mkdir(parents=True)
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    for stale_pid in (int(finished.stdout), os.getpid()):  # gone, and alive but not ours
        pid_file.write_text(f"{stale_pid}\n")
        assert stack.status(fresh_stack_settings).running is False
        assert stack.down(fresh_stack_settings) is False  # and this test process lives on
        assert not pid_file.exists()

    started = stack.up(fresh_stack_settings)
    assert started.pid not in (int(finished.stdout), os.getpid())
    assert int(pid_file.read_text()) == started.pid


def test_running_stops_only_what_it_started(fresh_stack_settings):
    with stack.running(fresh_stack_settings) as inside:
        assert inside.running and stack.status(fresh_stack_settings).pid == inside.pid
    assert not stack.status(fresh_stack_settings).running
    assert not port_answers(fresh_stack_settings.embedded_port)

    already = stack.up(fresh_stack_settings)
    with stack.running(fresh_stack_settings) as inside:
        assert inside.pid == already.pid
    assert stack.status(fresh_stack_settings).pid == already.pid


def test_localstack_mode_finds_an_endpoint_and_starts_nothing(ottlake_env, embedded_settings, tmp_path, capsys):
    # The embedded stack stands in for a LocalStack: localstack-client finds it via LOCALSTACK_HOST.
    ottlake_env.delenv("AWS_ENDPOINT_URL", raising=False)
    ottlake_env.setenv("LOCALSTACK_HOST", f"127.0.0.1:{embedded_settings.embedded_port}")
    ottlake_env.setenv("OTTLAKE_AWS_ENDPOINT", "localstack")
    ottlake_env.setenv("OTTLAKE_STATE_DIR", str(tmp_path / "state"))
    assert main(["stack", "up"]) == 0
    assert f"LocalStack answers at {embedded_settings.embedded_url}; nothing to start" in capsys.readouterr().out
    assert not (tmp_path / "state" / "stack.pid").exists()
    assert main(["stack", "down"]) == 0
    assert "nothing to stop" in capsys.readouterr().out
    assert stack.status(embedded_settings).running


def test_a_second_stack_on_another_port_is_independent(embedded_settings, tmp_path):
    other = stack_settings(tmp_path / "other", embedded_port=free_port())
    with stack.running(other) as second:
        assert second.pid != stack.status(embedded_settings).pid
        assert other.aws().client("kinesis").list_streams()["StreamNames"] == []
    assert stack.status(embedded_settings).running
