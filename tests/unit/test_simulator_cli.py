"""`ottlake simulate`, called in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from ottlake.cli.main import main
from producers.events import now_ms
from producers.simulator import FaultRates, SimConfig, parse_incident, scenario_incidents, simulate
from producers.simulator.truth import TRUTH_FIELDS
from schemas import check_line

START_MS = 1_750_000_000_000
ARGS = ["simulate", "--viewers", "12", "--minutes", "8", "--seed", "5", "--start", str(START_MS)]


def _lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _without_sent_ts(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k != "sent_ts"} for e in events]


def test_simulate_to_files_matches_the_library_and_prints_a_summary(tmp_path: Path, capsys: Any) -> None:
    out, truth = tmp_path / "events.jsonl", tmp_path / "truth.jsonl"
    code = main([*ARGS, "--out", str(out), "--truth", str(truth), "--incident", "cdn-stall:akamai:1-5:4"])
    assert code == 0
    expected = simulate(SimConfig(
        viewers=12, minutes=8, seed=5, start_ms=START_MS, faults=FaultRates(),
        incidents=(*scenario_incidents("default", minutes=8), parse_incident("cdn-stall:akamai:1-5:4", minutes=8)),
    ))
    lines = out.read_bytes().splitlines()
    assert len(lines) == len(expected.deliveries)
    assert all(check_line(line)[1] == [] for line in lines)
    events = _lines(out)
    assert all("sent_ts" in e for e in events)
    assert _without_sent_ts(events) == [d.event for d in expected.deliveries]
    truths = _lines(truth)
    assert truths == [orjson.loads(orjson.dumps(s.truth)) for s in expected.sessions]
    assert all(list(t) == list(TRUTH_FIELDS) for t in truths)
    printed = capsys.readouterr().out
    assert f"{len(expected.sessions)} (" in printed and "cdn-stall:akamai:1-5:4" in printed
    assert f"sent {len(expected.deliveries):,}" in printed


def test_a_rerun_rewrites_the_same_files(tmp_path: Path) -> None:
    out, truth = tmp_path / "events.jsonl", tmp_path / "truth.jsonl"
    assert main([*ARGS, "--out", str(out), "--truth", str(truth)]) == 0
    first_events, first_truth = _lines(out), truth.read_bytes()
    assert main([*ARGS, "--out", str(out), "--truth", str(truth)]) == 0
    assert _without_sent_ts(_lines(out)) == _without_sent_ts(first_events)  # replaced, not appended
    assert truth.read_bytes() == first_truth


def test_paced_calm_run_without_faults(tmp_path: Path) -> None:
    out, truth = tmp_path / "events.jsonl", tmp_path / "truth.jsonl"
    code = main(["simulate", "--viewers", "3", "--minutes", "1", "--seed", "2", "--start", str(START_MS),
                 "--speed", "200000", "--scenario", "calm", "--duplicate-rate", "0", "--out-of-order-rate", "0",
                 "--late-rate", "0", "--skew-rate", "0", "--out", str(out), "--truth", str(truth)])
    assert code == 0
    truths = _lines(truth)
    events = _lines(out)
    assert len(events) == sum(t["event_count"] for t in truths)
    assert all(t["incidents"] == [] and t["clock_skew_ms"] == 0 for t in truths)


@pytest.mark.parametrize("flags, message", [
    (["--viewers", "0"], "--viewers"),
    (["--minutes", "many"], "--minutes"),
    (["--speed", "0"], "--speed"),
    (["--duplicate-rate", "2"], "--duplicate-rate"),
    (["--scenario", "stormy"], "--scenario"),
    (["--incident", "cdn-stall:akamai:1"], "incident"),
    (["--incident", "cdn-stall:akamai:1-99"], "start < end"),
    (["--nope"], "--nope"),
    (["--start", str(now_ms() + 3_600_000)], "must end by now"),
    (["--viewers", "50000", "--minutes", "60"], "viewers x minutes"),
    (["--truth", "TMP/no/such/dir/truth.jsonl"], "cannot write"),
])
def test_bad_flags_give_one_line_and_a_non_zero_exit(flags: list[str], message: str, tmp_path: Path,
                                                     capsys: Any) -> None:
    flags = [f.replace("TMP", str(tmp_path)) for f in flags]
    code = main(["simulate", "--minutes", "5", *flags, "--out", str(tmp_path / "x.jsonl")])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.startswith("error: ") and message in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert not (tmp_path / "x.jsonl").exists()


def test_an_unreachable_stream_fails_in_one_line_before_simulating(tmp_path: Path, capsys: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTTLAKE_AWS_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    truth = tmp_path / "truth.jsonl"
    code = main(["simulate", "--viewers", "2", "--minutes", "1", "--truth", str(truth)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: cannot reach Kinesis") and len(err.strip().splitlines()) == 1
    assert not truth.exists()
