"""`ottlake demo` end to end: its own stack, the consumers, the batch, the report.

`make demo` runs 2,000 viewers over 60 simulated minutes at up to 60x (5-7
minutes here); the suite's budget (about 15 minutes in all) cannot take that, so
the end-to-end test runs the same command, the same code path and the same
incident rule with 700 viewers over 30 minutes sent as fast as the stream takes
them (about 3 minutes; the whole file about 4). Every check below reads a value the demo computed and
compares it with the tables, the raw zone or the receiver's messages.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from deltalake import DeltaTable

from ottlake.cli.main import main
from ottlake.errors import ConfigError
from ottlake.services import demo, stack
from tests.fixtures_consumers import raw_lines
from tests.fixtures_stack import free_port, port_answers, stack_settings

pytestmark = [pytest.mark.slow, pytest.mark.integration]

SMALL = ["--viewers", "700", "--minutes", "30", "--seed", "11", "--as-fast-as-possible"]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run of the CLI in-process, on a fresh stack of its own (a free port)."""
    tmp = tmp_path_factory.mktemp("demo")
    port = free_port()
    lake = tmp / "demo-lake"
    with pytest.MonkeyPatch.context() as env:
        for name in [name for name in os.environ if name.startswith("OTTLAKE_")]:
            env.delenv(name)
        env.setenv("OTTLAKE_EMBEDDED_PORT", str(port))
        env.setenv("COLUMNS", "240")
        env.chdir(tmp)
        # sys.stdout itself, not rich's capture: the receiver prints from its own thread.
        with contextlib.redirect_stdout(io.StringIO()) as captured:
            began = time.monotonic()
            rc = main(["--state-dir", str(tmp / "state"), "demo", *SMALL, "--lake", str(lake)])
            seconds = time.monotonic() - began
    out = captured.getvalue()
    print(out)
    summary = orjson.loads((lake / demo.SUMMARY_FILE).read_bytes()) if rc == 0 else {}
    return {"rc": rc, "out": out, "summary": summary, "lake": lake, "port": port, "tmp": tmp, "seconds": seconds}


def _rows(lake: Path, table: str) -> int:
    return DeltaTable(str(lake / table)).to_pyarrow_dataset().count_rows()


def test_the_demo_succeeds_in_its_time(demo_run: dict[str, Any]) -> None:
    assert demo_run["rc"] == 0, demo_run["out"]
    assert demo_run["summary"]["problems"] == []
    print(f"demo ({' '.join(SMALL)}) took {demo_run['seconds']:.0f} s")


def test_the_alert_was_raised_and_resolved_at_the_receiver(demo_run: dict[str, Any]) -> None:
    alerts = demo_run["summary"]["alerts"]
    firing = [i for i, text in enumerate(alerts) if text.startswith("[FIRING] cdn-rebuffer-ratio: cdn fastly:")]
    resolved = [i for i, text in enumerate(alerts) if text.startswith("[RESOLVED] cdn-rebuffer-ratio: cdn fastly:")]
    assert firing and resolved and firing[0] < resolved[-1], alerts
    # The receiver printed each message as it came.
    for text in alerts:
        assert f"webhook received: {text}" in demo_run["out"].replace("\n", "")


def test_the_counts_agree_with_the_raw_zone_and_the_tables(demo_run: dict[str, Any]) -> None:
    summary, lake = demo_run["summary"], demo_run["lake"]
    landed = len(raw_lines(lake))
    assert summary["landed"] == landed == summary["sent"] > 20_000
    bronze = _rows(lake, "bronze/player_events")
    quarantined = _rows(lake, "quarantine/player_events")
    assert summary["bronze_rows"] == bronze
    assert sum(summary["quarantined"].values()) == quarantined
    assert landed == bronze + summary["duplicates"] + quarantined
    assert summary["duplicates"] > 0  # the simulated devices' resends, removed by bronze
    # The broken player build's damaged events, each quarantined with its reason.
    assert summary["broken"] > 0 and sum(summary["quarantined"].values()) == summary["broken"]
    assert set(summary["quarantined"]) == {"unknown_event_type", "wrong_type", "missing_field"}
    assert summary["play_sessions"] == _rows(lake, "silver/play_sessions")
    assert summary["viewer_sessions"] == _rows(lake, "silver/viewer_sessions")
    assert summary["headline"]["sessions"] == summary["play_sessions"]  # the window is within one day
    assert summary["monitor_records"] == summary["sent"]


def test_a_quarter_of_the_sessions_came_through_the_collector(demo_run: dict[str, Any]) -> None:
    """The collector stamps its write key's application on each event (docs/collector.md)."""
    events = DeltaTable(str(demo_run["lake"] / "bronze/player_events")).to_pyarrow_table(
        columns=["play_session_id", "custom"]).to_pylist()
    by_collector = {event["play_session_id"] for event in events
                    if dict(event["custom"] or {}).get("app_id") == "ottlake-demo"}
    sessions = {event["play_session_id"] for event in events}
    assert 0.15 < len(by_collector) / len(sessions) < 0.35  # collector_share 0.25, by a hash of the session id
    # A session came one way only: all its events, or none, carry the collector's stamp.
    stamped = {event["play_session_id"] for event in events if dict(event["custom"] or {}).get("app_id")}
    assert stamped == by_collector and all(
        dict(event["custom"] or {}).get("app_id") == "ottlake-demo"
        for event in events if event["play_session_id"] in by_collector)


def test_the_report_and_data_docs_exist(demo_run: dict[str, Any]) -> None:
    summary = demo_run["summary"]
    report = Path(summary["report_path"])
    assert report.is_file() and report.parent == demo_run["lake"]
    assert summary["day"] in report.name and "vega" in report.read_text()
    assert Path(summary["data_docs"]).is_file()
    assert _rows(demo_run["lake"], "_quality/results") > 0


def test_the_printed_sql_commands_work_when_pasted(demo_run: dict[str, Any], capsys: pytest.CaptureFixture[str]
                                                   ) -> None:
    commands = [line.strip() for line in demo_run["out"].splitlines() if " sql --lake " in line]
    assert len(commands) == 2, demo_run["out"]
    for command in commands:
        argv = shlex.split(command)
        assert Path(argv[0]).name == "ottlake"
        assert main(argv[1:]) == 0
        rows = re.search(r"\((\d+) rows?\)", capsys.readouterr().out)
        assert rows and int(rows.group(1)) >= 4  # four CDNs; six five-minute buckets in 30 minutes


def test_the_demo_stopped_its_stack(demo_run: dict[str, Any]) -> None:
    settings = stack_settings(demo_run["tmp"] / "state", embedded_port=demo_run["port"])
    assert not stack.status(settings).running and not port_answers(demo_run["port"])


def test_a_second_demo_lake_starts_clean_and_a_foreign_folder_is_refused(tmp_path: Path) -> None:
    lake = demo.prepare_lake(tmp_path / "demo-lake")
    (Path(lake.root) / "raw").mkdir()
    again = demo.prepare_lake(tmp_path / "demo-lake")
    assert sorted(p.name for p in Path(again.root).iterdir()) == [demo.MARKER]
    precious = tmp_path / "lake"
    (precious / "bronze").mkdir(parents=True)
    with pytest.raises(ConfigError, match="other than a demo lake"):
        demo.prepare_lake(precious)
    assert (precious / "bronze").is_dir()


@pytest.mark.parametrize(("phase", "cue", "pace"), [
    ("traffic", "running under the in-process driver", ["--speed", "5"]),  # the hour paced over six minutes
    ("batch", "stage bronze", ["--as-fast-as-possible"]),  # Spark's JVM running a job
])
def test_ctrl_c_stops_everything_the_demo_started(tmp_path: Path, phase: str, cue: str, pace: list[str]) -> None:
    """SIGINT to `ottlake demo` while the traffic runs, or while Spark runs the batch:
    the consumers, the receiver, Spark and the stack stop; no process of its group is
    left, and no port it opened answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTTLAKE_")}
    env.update(OTTLAKE_EMBEDDED_PORT=str(port), PYTHONUNBUFFERED="1")
    ottlake = Path(sys.executable).parent / "ottlake"
    process = subprocess.Popen(
        [str(ottlake), "--state-dir", str(tmp_path / "state"), "demo", "--viewers", "300", "--minutes", "30",
         *pace, "--lake", str(tmp_path / "demo-lake")],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if cue in line:
                break
        time.sleep(3)
        assert process.poll() is None, "".join(lines)
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    out = "".join(lines) + rest
    assert process.returncode == 130, out
    assert out.rstrip().endswith("aborted") and "Traceback" not in out, out
    webhook_port = int(re.search(r"webhook receiver listening at http://127\.0\.0\.1:(\d+)/", out).group(1))
    settings = stack_settings(tmp_path / "state", embedded_port=port)
    assert not stack.status(settings).running
    assert not port_answers(port) and not port_answers(webhook_port)
    # Its children (the consumers' workers, multiprocessing's resource tracker) were
    # joined or see their parent gone; give the last one a moment to notice.
    deadline = time.monotonic() + 10
    while _group_members(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _group_members(process.pid) == []


def test_demo_with_a_taken_port_fails_in_one_line(tmp_path, ottlake_env, capsys) -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        ottlake_env.setenv("OTTLAKE_EMBEDDED_PORT", str(holder.getsockname()[1]))
        rc = main(["--state-dir", str(tmp_path / "state"), "demo", "--viewers", "5", "--minutes", "30",
                   "--lake", str(tmp_path / "demo-lake")])
    err = capsys.readouterr().err
    assert rc != 0
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def _group_members(pgid: int) -> list[int]:
    """Live processes (not zombies) whose process group is `pgid`."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(stat.parent.name))
    return members
