"""The batch jobs against the simulator's ground truth (issue: batch jobs, 'Done when').

A seeded simulated day with duplicates, out-of-order and late delivery and skewed
device clocks is landed in the raw zone in two parts (the second holding what
arrived in the last three hours, late events among them), `ottlake batch` runs
after each, and every play session must agree with what the simulator's model
decided, column by column.
"""

from __future__ import annotations

import math

import pytest

from consumers.raw_zone import LocalRawZone
from ottlake.cli.main import main
from producers.simulator import FaultRates, SimConfig, simulate
from producers.simulator.landing import land
from schemas.layout import Lake
from schemas.sessions import SESSION_GAP_MS as FINAL_AFTER_MS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

START_MS = 1_772_323_200_000  # 2026-03-01T00:00:00Z
DAY_MIN = 24 * 60
EXACT = (
    "play_time_ms", "ad_time_ms", "rebuffer_time_ms", "rebuffer_count", "seek_time_ms", "seek_count",
    "pause_time_ms", "watch_time_ms", "playback_failure", "error_count", "fatal_error_code", "bitrate_play_ms",
    "upshift_count", "downshift_count", "max_playhead_ms", "completed", "event_count", "viewer_id", "content_id",
    "content_type", "device_type", "os_name", "player_name", "cdn", "country",
)


def test_a_simulated_day_agrees_with_the_ground_truth(tmp_path, spark, capsys) -> None:
    simulation = simulate(SimConfig(
        viewers=8, minutes=DAY_MIN, seed=2026, start_ms=START_MS,
        faults=FaultRates(duplicate=0.02, out_of_order=0.03, late=0.01, skew=0.25),
    ))
    cut = START_MS + (DAY_MIN - 180) * 60_000
    early = [d for d in simulation.deliveries if d.at_ms < cut]
    later = [d for d in simulation.deliveries if d.at_ms >= cut]
    assert early and later and any(d.kind == "late" for d in later)
    store = LocalRawZone(tmp_path)
    for part in (early, later):
        land(part, store, stream_name="ottlake-player-events")
        assert main(["batch", "--lake", str(tmp_path)]) == 0, capsys.readouterr().err

    lake = Lake.at(tmp_path)
    watermark = spark.read.format("delta").load(lake.bronze).agg({"received_ts": "max"}).first()[0]
    rows = {r["play_session_id"]: r.asDict() for r in spark.read.format("delta").load(lake.play_sessions).collect()}
    truths = {s.truth["play_session_id"]: s.truth for s in simulation.sessions}
    assert set(rows) == set(truths)
    assert len(truths) > 100

    mismatches = []
    for session_id, truth in truths.items():
        row = rows[session_id]
        for column in EXACT:
            if row[column] != truth[column]:
                mismatches.append((session_id, column, row[column], truth[column]))
        if truth["startup_time_ms"] != row["startup_time_ms"]:
            mismatches.append((session_id, "startup_time_ms", row["startup_time_ms"], truth["startup_time_ms"]))
        if not math.isclose(row["played_kbits"], truth["played_kbits"], rel_tol=1e-9, abs_tol=1e-6):
            mismatches.append((session_id, "played_kbits", row["played_kbits"], truth["played_kbits"]))
        # Derived times sit a transit latency (< 0.5 s) after the true times.
        start_ms = int(row["start_time"].timestamp() * 1000)
        if not 0 <= start_ms - truth["start_time_ms"] < 500:
            mismatches.append((session_id, "start_time", start_ms, truth["start_time_ms"]))
        # Finality against this run's watermark (the truth assumed the window's end).
        last_ms = int(row["end_time"].timestamp() * 1000)
        is_final = truth["closed"] or watermark - last_ms > FINAL_AFTER_MS
        if row["is_final"] != is_final:
            mismatches.append((session_id, "is_final", row["is_final"], is_final))
        if truth["closed"] and row["start_outcome"] != truth["start_outcome"]:
            mismatches.append((session_id, "start_outcome", row["start_outcome"], truth["start_outcome"]))
    assert not mismatches, f"{len(mismatches)} mismatches, first: {mismatches[:10]}"
