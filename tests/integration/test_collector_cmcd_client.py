"""A real CMCD client no one here wrote: `@svta/cml-cmcd`'s CmcdReporter (from npm, run by
Node: tests/js/cmcd_playback.mjs) reports a simulated playback in CMCD v2 event mode to a
running collector; the events arrive in the Kinesis stream mapped as
player-events.md (CMCD) says, and after `ottlake batch` the play session has the
startup, rebuffer and seek times that the reported timestamps imply."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import orjson
import pytest

from consumers.raw_zone import LocalRawZone
from ottlake.cli.main import main
from producers.events import now_ms
from schemas.layout import encode, object_key
from tests.collector_helpers import IT_KEY, collector_env, collector_process, make_streams, read_stream, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]
JS = Path(__file__).resolve().parents[1] / "js"


def node_client_ready() -> None:
    if shutil.which("node") is None:
        pytest.fail("node is not installed (scripts/ensure-system.sh installs it)")
    if not (JS / "node_modules" / "@svta" / "cml-cmcd").is_dir():
        pytest.fail("tests/js/node_modules is missing: run `make install` (npm ci --prefix tests/js)")


def test_cml_cmcd_reporter_playback_through_the_collector_to_the_play_session(embedded_settings, spark, tmp_path,
                                                                             capsys) -> None:
    # `spark`: the suite's one SparkSession, which `ottlake batch` in this process reuses.
    node_client_ready()
    streams = make_streams(embedded_settings)
    env = collector_env(embedded_settings, streams, OTTLAKE_SDK_FLUSH_INTERVAL_S="0.2")
    sid = f"cmcd-{uuid.uuid4().hex[:8]}"
    t0 = now_ms() - 5 * 60_000  # the playback happened minutes ago (never in the server's future)
    with collector_process(env) as (_process, url):
        target = f"{url}/v1/cmcd?write_key={IT_KEY}&viewer_id=viewer-js"
        run = subprocess.run(["node", str(JS / "cmcd_playback.mjs"), target, sid, "title-js", str(t0)],
                             capture_output=True, text=True, timeout=60, cwd=JS)
        assert run.returncode == 0, run.stderr
        statuses = orjson.loads(run.stdout.strip().splitlines()[-1])["statuses"]
        # batchSize 3: 10 reports in 4 requests, every one accepted whole
        assert [(s["status"], orjson.loads(s["body"])) for s in statuses] == [
            (200, {"accepted": n, "rejected": []}) for n in (3, 3, 3, 1)]
        arrived = wait_for(lambda: (found := read_stream(embedded_settings, streams[0])) and len(found) >= 10 and found,
                           what="the reports in the stream")
    events = sorted(arrived, key=lambda e: e["seq"])
    assert [e["event_type"] for e in events] == [
        "play_request", "playing", "buffer_start", "playing", "seek_start", "playing", "pause", "playing",
        "error", "ended"]
    assert [e["event_ts"] - t0 for e in events] == [0, 1500, 10000, 12500, 20000, 20800, 30000, 35000, 40000, 50000]
    assert {(e["play_session_id"], e["content_id"], e["viewer_id"], e["custom"]["app_id"]) for e in events} == {
        (sid, "title-js", "viewer-js", "it-app")}
    assert (events[2]["buffer_ms"], events[4]["playhead_ms"], events[0]["bitrate_kbps"]) == (0, 16000, 3000)
    error = events[8]
    assert (error["error_code"], error["error_fatal"]) == ("MEDIA_ERR_NETWORK", False)
    assert len({e["event_id"] for e in events}) == 10

    # The stream's records as the lake sink lands them, then the batch.
    lake = tmp_path / "lake"
    lines = [orjson.dumps(e) + b"\n" for e in arrived]
    key = object_key(stream_name=streams[0], arrival_ms=max(e["received_ts"] for e in arrived),
                     name_seed=sid, gzip_compressed=True)
    LocalRawZone(lake).put(key, encode(lines, gzip_compressed=True))
    rc = main(["batch", "--lake", str(lake)])
    out = capsys.readouterr()
    assert rc == 0, out.err + out.out

    (row,) = spark.read.format("delta").load(str(lake / "silver" / "play_sessions")).where(
        f"play_session_id = '{sid}'").collect()
    session = row.asDict()
    assert session["startup_time_ms"] == 1500
    assert (session["rebuffer_time_ms"], session["rebuffer_count"]) == (2500, 1)
    assert (session["seek_time_ms"], session["seek_count"]) == (800, 1)
    assert session["pause_time_ms"] == 5000
    assert session["play_time_ms"] == (10000 - 1500) + (20000 - 12500) + (30000 - 20800) + (50000 - 35000)
    assert (session["error_count"], session["start_outcome"], bool(session["completed"])) == (1, "started", True)
    assert session["viewer_id"] == "viewer-js"
