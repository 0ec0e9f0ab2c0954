"""`ottlake demo` end to end, in-process: its own stack, traffic through the SDK, a summary."""

from __future__ import annotations

import re

import pytest

from ottlake.cli.main import main
from ottlake.services import stack
from tests.fixtures_stack import free_port, port_answers, stack_settings

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def test_demo_runs_on_a_fresh_stack_and_stops_it(tmp_path, ottlake_env, capsys) -> None:
    port = free_port()
    ottlake_env.setenv("OTTLAKE_EMBEDDED_PORT", str(port))
    rc = main(["--state-dir", str(tmp_path / "state"), "demo", "--viewers", "40", "--minutes", "3", "--seed", "3"])
    out = capsys.readouterr().out
    assert rc == 0, out
    records = int(re.search(r"│ records\s+│ ([\d,]+)", out).group(1).replace(",", ""))
    sent = int(re.search(r"sent ([\d,]+) records to kinesis", out).group(1).replace(",", ""))
    assert records == sent > 500
    assert re.search(r"contract violations\s+│ none", out)
    assert re.search(r"keyed by play_session_id\s+│ yes", out)
    settings = stack_settings(tmp_path / "state", embedded_port=port)
    assert not stack.status(settings).running and not port_answers(port)


def test_demo_with_a_taken_port_fails_in_one_line(tmp_path, ottlake_env, capsys) -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        ottlake_env.setenv("OTTLAKE_EMBEDDED_PORT", str(holder.getsockname()[1]))
        rc = main(["--state-dir", str(tmp_path / "state"), "demo", "--viewers", "5", "--minutes", "1"])
    err = capsys.readouterr().err
    assert rc != 0
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
