"""The live monitor on its whole real path: the CDN stall scenario (the one of
test_monitor_incident.py) sent through the SDK into a two-shard stream, read by the
in-process driver running `make_processor(settings)` for the app
`settings.qoe_monitor_app`, with alerts posted to a real webhook receiver.

The driver runs in a thread from before the first event is sent; once every record
the SDK put has reached a processor, it is stopped (each processor gets
shutdown_requested, its last checkpoint). Windows are written when the watermark
closes them, never on shutdown, so the last lateness + grace (the final four
minutes, with the window holding the mark) are still open and unwritten then. So
the scenario runs those four minutes longer than in test_monitor_incident.py: the
incident's windows and its resolve (about seven minutes after its end) come well
before the windows left open.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from pathlib import Path

import pytest

from consumers import driver
from consumers.kcl_leases import TRIM_HORIZON, LeaseTable
from consumers.monitor import make_processor
from consumers.monitor.alerts import load_rules
from consumers.monitor.processor import QoeMonitorProcessor
from consumers.monitor.rows import merge_rows
from consumers.monitor.store import LiveStore, window_sk
from consumers.monitor.windows import WINDOW_MS
from producers.events import now_ms
from producers.sdk import KinesisSink, SdkConfig, Tracker
from producers.simulator import Pacer, emit
from tests.fixtures_monitor import (
    INCIDENT_MINUTES,
    INCIDENT_WINDOWS,
    WebhookReceiver,
    incident_simulation,
    live_table_settings,
    quiet_windows,
    rebuffer_ratios,
)

# Bounds against a hang, not a speed check (BENCHMARKS.md measures speed): on a slow day
# of the 2-core machine the 67,081 records took 127 s to send and monitor (the monitor's
# per-event jsonschema check is most of it), where 90 s had been the whole test's limit.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

# The scenario with four more quiet minutes: those the watermark leaves open at the end.
MINUTES = INCIDENT_MINUTES + 4
# Windows the watermark closes at least: the newest event is in the last minute, and
# lateness (120 s) + attribution grace (60 s) behind it, three more stay open. (The
# SDK stamps sent_ts when it sends, so derived times run a few seconds late, and
# sometimes one more closes.)
AT_LEAST_WRITTEN = MINUTES - 4


def cdn_rule_only(path: Path) -> Path:
    """A rules file with the shipped CDN rule alone: the shipped start-failure rule
    fires on this incident too (all traffic's start failures pass 5 %), and the
    test is about one alert (test_monitor_incident.py also uses this rule alone)."""
    rule = next(r for r in load_rules() if r.name == "cdn-rebuffer-ratio")
    path.write_text("[[rule]]\n" + "".join(f"{name} = {json.dumps(value)}\n"
                                            for name, value in dataclasses.asdict(rule).items()))
    return path


def _window_of_message(text: str, start_ms: int) -> int:
    """The scenario minute of the window an alert message names."""
    return next(m for m in range(MINUTES) if text.endswith(f"window {window_sk(start_ms + m * WINDOW_MS)})"))


def test_sdk_stream_driver_monitor_live_table_and_one_alert(consumer_settings, webhook: WebhookReceiver,
                                                           tmp_path: Path) -> None:
    settings = live_table_settings(consumer_settings(shards=2, alert_webhook_url=webhook.url,
                                                     alert_rules=cdn_rule_only(tmp_path / "alerts.toml")))
    # All in the recent past: the backfill sends at once, and ingest's bounds accept it.
    wall_ms = now_ms()
    start_ms = wall_ms - wall_ms % WINDOW_MS - (MINUTES + 1) * WINDOW_MS
    deliveries = incident_simulation(start_ms, minutes=MINUTES).deliveries

    processors: list[QoeMonitorProcessor] = []

    def make() -> QoeMonitorProcessor:
        processors.append(make_processor(settings))
        return processors[-1]

    stop, outcome = threading.Event(), {}

    def consume() -> None:
        try:
            outcome["report"] = driver.run(settings, settings.qoe_monitor_app, make, stop=stop,
                                           worker_id="it-monitor", poll_s=0.05)
        except BaseException as exc:  # re-raised in the test's thread
            outcome["error"] = exc

    consumer = threading.Thread(target=consume, name="it-monitor-driver")
    consumer.start()
    began = time.monotonic()
    try:
        tracker = Tracker(KinesisSink(settings.aws().client("kinesis"), settings.stream_name),
                          config=SdkConfig(flush_interval_s=0.2))
        emitted = emit(deliveries, tracker, pacer=Pacer(None, start_ms))
        tracker.shutdown()
        counters = tracker.counters
        assert (emitted.tracked, counters.sent, counters.failed, counters.dropped) == (len(deliveries),) * 2 + (0, 0)
        deadline = time.monotonic() + 200
        while sum(p.counters.records for p in processors) < counters.sent and "error" not in outcome:
            assert time.monotonic() < deadline, f"{sum(p.counters.records for p in processors)} of {counters.sent}"
            time.sleep(0.2)
    finally:
        stop.set()
        consumer.join(timeout=30)
    assert not consumer.is_alive() and "error" not in outcome, outcome
    print(f"\n{len(deliveries):,} records sent and monitored in {time.monotonic() - began:.0f} s", flush=True)

    report: driver.DriverReport = outcome["report"]
    assert sum(report.records.values()) == len(deliveries) and len(report.records) == 2
    assert report.leases_lost == [] and report.shards_ended == []
    for processor in processors:
        assert processor.counters.rejected == {} and processor.counters.write_failures == 0
        assert processor.monitor.counters.duplicates > 0  # the simulated devices' at-least-once copies

    # Each shard wrote the windows before its watermark; the live table shows their union.
    written = max((p.monitor.closed_before or start_ms) - start_ms for p in processors) // WINDOW_MS
    assert written >= AT_LEAST_WRITTEN
    store = LiveStore(settings.aws().client("dynamodb"), settings.live_table)
    fastly = rebuffer_ratios(store, "cdn#fastly", start_ms=start_ms, minutes=MINUTES)
    assert sorted(fastly) == list(range(written))
    incident = [fastly[m] for m in INCIDENT_WINDOWS]
    quiet = [fastly[m] for m in quiet_windows(written)]
    assert all(ratio is not None and ratio > 0.02 for ratio in incident), incident
    assert all((ratio or 0) < 0.015 for ratio in quiet), quiet
    for other in ("akamai", "cloudfront", "cloudflare"):
        merged = merge_rows(store.rows(f"cdn#{other}", since_ms=start_ms + INCIDENT_WINDOWS[0] * WINDOW_MS,
                                       until_ms=start_ms + INCIDENT_WINDOWS[-1] * WINDOW_MS))
        assert merged is not None and merged.rebuffer_ratio is not None and merged.rebuffer_ratio < 0.01, other

    texts = webhook.texts
    assert [text.split(":", 2)[:2] for text in texts] == [["[FIRING] cdn-rebuffer-ratio", " cdn fastly"],
                                                         ["[RESOLVED] cdn-rebuffer-ratio", " cdn fastly"]], texts
    fired, resolved = (_window_of_message(text, start_ms) for text in texts)
    print(f"fired at minute {fired}, resolved at minute {resolved}; {written} windows written", flush=True)
    # The resolve, and the windows after it, well before the end of what was written.
    assert fired in INCIDENT_WINDOWS and INCIDENT_WINDOWS[-1] < resolved <= INCIDENT_MINUTES - 4, (fired, resolved)

    # Stopped, not ended: each shard checkpointed up to its written windows, and let go.
    leases = LeaseTable(settings.aws().client("dynamodb"), settings.qoe_monitor_app, "reader").scan()
    assert len(leases) == 2
    assert all(lease.checkpoint != TRIM_HORIZON and lease.owner is None for lease in leases.values()), leases
