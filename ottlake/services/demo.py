"""The demo on the embedded default: the whole pipeline, what `make demo` runs.

In order: a clean demo lake; the embedded stack (or the one already running) and
everything provisioned; a local webhook receiver; the lake sink and the live QoE
monitor under the in-process driver; a simulated hour of viewers with one
scheduled incident sent through the SDK into the stream, compressed in time; the
sink filling the raw zone while the monitor raises the incident's alert and
resolves it; then the batch with every gate, the day's report, and a summary
whose counts are read back from the tables.

A second run starts from a clean demo lake: the demo tells the story of one
simulated hour, and its summary reconciles one run's counts (sent = landed =
bronze rows + duplicates removed + quarantined). The lake is only ever removed
when it carries the demo's marker file, so `--lake` cannot wipe a real lake.

The batch runs through `batch`, a callable the caller hands in: the step list's
local runner (emr.local.run_batch) sits on this floor's other side (services and
emr may not import each other; pyproject.toml [tool.importlinter]), so the CLI
wires it in.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import multiprocessing
import os
import shutil
import signal
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

from analytics.sql import LakeQuery
from consumers.monitor.alerts import load_rules
from ottlake.errors import ConfigError, DemoError
from ottlake.services import infra, stack, traffic, webhook
from ottlake.services.consuming import RunningApp, consuming
from ottlake.services.reporting import write_report
from ottlake.settings import Settings
from producers.sdk import SdkConfig
from producers.simulator import Incident, SimConfig, Simulation, parse_incident, simulate
from quality import docs
from schemas.layout import Lake

MARKER = ".ottlake-demo"
DEMO_WRITE_KEY = "ottlake-demo-key"  # the collector's write key in the demo (application ottlake-demo)
_BROKEN_COPY = 2  # a damaged delivery's copy number is its original's plus this (with_broken_events)
_SPAWN = multiprocessing.get_context("spawn")  # the parent has threads: never fork it
_INTERRUPTED_STOP_S = 5.0  # how long an interrupted demo waits for the collector to flush and exit
SUMMARY_FILE = "demo-summary.json"  # in a lake the demo made, and may therefore remove
ALERT_RULE = "cdn-rebuffer-ratio"  # the shipped rule the incident is to trip
INCIDENT_CDN = "fastly"
HOUR_MS = 3_600_000
MINUTE_MS = 60_000
# The monitor writes a window about lateness + 2 minutes after its end, and a rule
# looks back 5 windows: an incident must end this long before the hour does for
# its alert to resolve within the hour's traffic.
_MIN_QUIET_TAIL_MIN = 15
MIN_MINUTES = 30
# A misbehaving player build among the devices: one delivery in this many is sent once
# more, damaged the way such builds damage events, so that the summary shows the
# quarantine at work (bronze keeps each line with its reason; the monitor counts and
# skips it). Well under the raw gate's 5 % quarantine share.
BROKEN_EVERY = 500
_DAMAGES: tuple[Callable[[dict[str, Any]], dict[str, Any]], ...] = (
    lambda event: {**event, "event_type": "stall_start"},  # unknown_event_type
    lambda event: {**event, "seq": str(event["seq"])},  # wrong_type
    lambda event: {name: value for name, value in event.items() if name != "viewer_id"},  # missing_field
)
# After the last record is sent: how long the consumers may take to read it all.
_CATCH_UP_S = 600.0


class Progress(Protocol):
    """What the demo reports while it runs (the CLI draws it with rich)."""

    def begin(self, key: str, description: str, *, total: int | None = None) -> None: ...

    def update(self, key: str, completed: int, *, description: str | None = None) -> None: ...

    def end(self, key: str, message: str) -> None: ...

    def note(self, message: str) -> None:
        """A line printed as it happens (an alert at the receiver); called from any thread."""


@dataclass(frozen=True)
class BatchOutcome:
    """What the demo needs of a batch run (emr.local.BatchReport, as the CLI adapts it)."""

    run_id: str
    counts: dict[str, dict[str, int]]  # stage -> its counts
    warnings: list[str] = field(default_factory=list)


BatchRunner = Callable[[Lake, Callable[[str], None]], BatchOutcome]


@dataclass(frozen=True)
class DemoOptions:
    viewers: int = 2_000
    minutes: int = 60
    seed: int = 7
    # Simulated seconds per wall second; None sends as fast as the stream takes it.
    speed: float | None = 60.0
    lake: Path = Path("demo-lake")
    # The monitor's workers (at most one per shard): its per-event contract check is the
    # demo's longest pole, and the KCL scales an app out this way.
    monitor_workers: int = 2
    # The share of the play sessions sent through the HTTP collector: see route_traffic.
    collector_share: float = 0.25

    def __post_init__(self) -> None:
        if self.minutes < MIN_MINUTES:
            raise ConfigError(f"the demo needs at least {MIN_MINUTES} simulated minutes (the incident, its alert "
                              f"and the windows that resolve it), not {self.minutes}")
        if self.minutes > 60:
            raise ConfigError("the demo simulates at most one hour (one UTC day, one report)")
        if self.speed is not None and not self.speed > 0:
            raise ConfigError("--speed must be > 0")


@dataclass(frozen=True)
class DemoSummary:
    lake: Lake
    day: date
    window: tuple[datetime, datetime]
    incident: Incident
    viewers: int
    simulated_events: int  # distinct events the simulation made
    broken: int  # damaged events added (BROKEN_EVERY)
    sent: int  # records the SDK put (one event each; the simulated devices' duplicate sends included)
    landed: int  # event lines in the raw zone
    raw_objects: int
    monitor_records: int
    alerts: list[str]  # what the webhook receiver got, in order
    bronze_rows: int
    duplicates: int
    quarantined: dict[str, int]  # reason -> rows
    play_sessions: int
    viewer_sessions: int
    headline: dict[str, Any]  # the report's totals for the day
    report_path: Path
    data_docs: str
    batch_run_id: str
    seconds: dict[str, float]  # step -> wall seconds

    @property
    def alert_fired(self) -> bool:
        return any(_is_alert(text, "FIRING") for text in self.alerts)

    @property
    def alert_resolved(self) -> bool:
        return any(_is_alert(text, "RESOLVED") for text in self.alerts)

    def as_json(self) -> bytes:
        """The summary as JSON (written beside the tables: what a script or a test reads)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields.update(lake=self.lake.root, incident=self.incident.name, report_path=str(self.report_path),
                      alert_fired=self.alert_fired, alert_resolved=self.alert_resolved, problems=self.problems())
        return orjson.dumps(fields, default=str, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)

    def problems(self) -> list[str]:
        """What the demo is there to show and did not (empty: all shown)."""
        found = []
        if self.landed != self.sent:
            found.append(f"the raw zone holds {self.landed:,} events, {self.sent:,} were sent")
        if self.bronze_rows + self.duplicates + sum(self.quarantined.values()) != self.landed:
            found.append(f"bronze {self.bronze_rows:,} + duplicates {self.duplicates:,} + quarantined "
                         f"{sum(self.quarantined.values()):,} != landed {self.landed:,}")
        if not (self.alert_fired and self.alert_resolved):
            found.append(f"the monitor did not raise and resolve the {ALERT_RULE} alert for cdn {INCIDENT_CDN} "
                         f"(the receiver got {len(self.alerts)} message(s))")
        return found


def _is_alert(text: str, state: str) -> bool:
    return text.startswith(f"[{state}] {ALERT_RULE}: cdn {INCIDENT_CDN}:")


def demo_incident(minutes: int) -> Incident:
    """The one scheduled incident: fastly's stall hazard x10 for a fifth of the window,
    starting at a third, ending early enough for its alert to resolve in the window."""
    start = round(minutes * 0.35)
    end = min(start + max(5, round(minutes * 0.2)), minutes - _MIN_QUIET_TAIL_MIN)
    return parse_incident(f"cdn-stall:{INCIDENT_CDN}:{start}-{end}:10", minutes=minutes)


def demo_window(now_ms: int, minutes: int) -> tuple[int, int]:
    """The simulated window: `minutes` ending at the start of the current hour, so it
    lies in one UTC day and entirely in the past (ingest refuses future events)."""
    end = now_ms - now_ms % HOUR_MS
    return end - minutes * MINUTE_MS, end


def prepare_lake(root: Path) -> Lake:
    """A clean demo lake at `root`: a previous demo's is removed; anything else is refused."""
    root = root.expanduser()
    if root.exists():
        if not root.is_dir():
            raise ConfigError(f"{root} is a file, not a demo lake: choose another --lake")
        if any(root.iterdir()) and not (root / MARKER).exists():
            raise ConfigError(f"{root} holds something other than a demo lake (no {MARKER} file); "
                              "choose another --lake, or remove it yourself")
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / MARKER).write_text("made by `ottlake demo`; the next run removes this folder and starts anew\n")
    return Lake.at(root)


def demo_settings(settings: Settings, lake: Lake, *, run: str, rules: Path) -> Settings:
    """The settings with the demo's own stream, lease tables and live table (a stack that
    was already running keeps other runs' records and alert states apart), its lake and
    rules, and a short sink buffer so the raw zone fills while the traffic runs."""
    prefix = f"ottlake-demo-{run}"
    return settings.model_copy(update={
        "stream_name": f"{prefix}-events", "dead_letter_stream_name": f"{prefix}-dlq",
        "lake_sink_app": f"{prefix}-lake-sink", "qoe_monitor_app": f"{prefix}-qoe-monitor",
        "live_table": f"{prefix}-live", "lake": lake.root, "alert_rules": rules,
        "sink_buffer_seconds": min(settings.sink_buffer_seconds, 5.0),
    })


def write_rules(path: Path, settings: Settings) -> Path:
    """The alert rule the incident trips, alone: the shipped start-failure rule (5 % over
    all traffic) sits within the simulator's ordinary spread of start failures, so it
    would fire and resolve on noise and blur the demo's one incident."""
    rule = next((r for r in load_rules(settings.alert_rules) if r.name == ALERT_RULE), None)
    if rule is None:
        raise ConfigError(f"the alert rules have no rule {ALERT_RULE!r}, which the demo's incident is to trip")
    values = dataclasses.asdict(rule)
    lines = ["[[rule]]"] + [f"{name} = {_toml(value)}" for name, value in values.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml(value: Any) -> str:
    return orjson.dumps(value).decode() if isinstance(value, str) else repr(value)  # a JSON string is TOML's too


def route_traffic(simulation: Simulation, settings: Settings, *, collector_share: float, sdk: SdkConfig,
                  speed: float | None, on_progress: Callable[[int], None]) -> traffic.Traffic:
    """Send the simulation's deliveries: a share of the play sessions through the HTTP
    collector (producers.collector, run in a child process for the block), the rest
    through the SDK into the stream, both paced on the same clock.

    A session stays on one path (its events in order); the broken player build's
    damaged events go through the SDK, so that bronze's quarantine shows them with
    their reasons (the collector would refuse them at the door, to its dead-letter
    stream). Both parts are added up in one Traffic."""
    stream = traffic.open_sink(settings)
    if not collector_share:
        return traffic.send(simulation, *stream, sdk=sdk, speed=speed, on_progress=on_progress)
    choose = by_session(simulation, collector_share)
    with running_collector(settings) as url:
        collector = traffic.open_sink(settings, collector=url, write_key=DEMO_WRITE_KEY)
        return traffic.send_routed(simulation, [stream, collector], choose, sdk=sdk, speed=speed,
                                   on_progress=on_progress)


def by_session(simulation: Simulation, share: float) -> Callable[[Any], int]:
    """An event's route: 1 (the collector) for `share` of the play sessions, by a hash
    of the session id (the same sessions each run), else 0 (the SDK); a damaged
    delivery's event always 0."""
    damaged = {id(delivery.event) for delivery in simulation.deliveries if delivery.copy >= _BROKEN_COPY}

    def choose(event: Any) -> int:
        if id(event) in damaged:
            return 0
        digest = hashlib.blake2b(str(event.get("play_session_id")).encode(), digest_size=8).digest()
        return int(int.from_bytes(digest, "big") / 2**64 < share)

    return choose


@contextlib.contextmanager
def running_collector(settings: Settings, *, timeout_s: float = 60.0) -> Iterator[str]:
    """`ottlake collector` for the block, in a child process on a free loopback port
    with the demo's write key; stopped with SIGTERM at the end, which flushes every
    event it accepted into the stream before it exits."""
    port = _free_port()
    served = settings.model_copy(update={"collector_host": "127.0.0.1", "collector_port": port,
                                         "collector_workers": 1,
                                         "collector_write_keys": f"{DEMO_WRITE_KEY}=ottlake-demo"})
    process = _SPAWN.Process(target=_serve_collector, args=(served,), name="ottlake-demo-collector", daemon=True)
    process.start()
    url = f"http://127.0.0.1:{port}"
    wait_s = timeout_s
    try:
        deadline = time.monotonic() + timeout_s
        while not _answers(url):
            if not process.is_alive():
                raise DemoError(f"the collector stopped before it answered (exit {process.exitcode})")
            if time.monotonic() > deadline:
                raise DemoError(f"the collector did not answer at {url} within {timeout_s:.0f} s")
            time.sleep(0.2)
        yield url
    except BaseException:
        wait_s = _INTERRUPTED_STOP_S  # Ctrl-C or a failure: the demo is over, its traffic need not land
        raise
    finally:
        if process.is_alive():
            os.kill(process.pid, signal.SIGTERM)
        process.join(wait_s)
        if process.is_alive():
            process.kill()
            process.join(5)


def _serve_collector(settings: Settings) -> None:
    from producers.collector.server import serve

    serve(settings)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class _Clock:
    seconds: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        began = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = time.monotonic() - began


def run_demo(settings: Settings, options: DemoOptions, *, batch: BatchRunner, progress: Progress,
             now_ms: int | None = None) -> DemoSummary:
    """Run the demo end to end and return its summary (check `problems()`).

    Everything it starts is stopped when it returns or raises (KeyboardInterrupt
    included): the consumers' processes are joined after their last checkpoint, the
    webhook receiver is shut down, and the stack is stopped if the demo started it."""
    clock = _Clock()
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    start_ms, end_ms = demo_window(now, options.minutes)
    incident = demo_incident(options.minutes)
    lake = prepare_lake(options.lake)
    run = datetime.fromtimestamp(now / 1000, UTC).strftime("%Y%m%dt%H%M%S")
    rules = write_rules(Path(settings.state_dir) / "demo" / "alerts.toml", settings)
    demo = demo_settings(settings, lake, run=run, rules=rules)

    with clock.step("stream"):
        streamed = _stream(demo, options, lake, incident, start_ms, progress)
    landed, objects = count_raw(lake)
    progress.end("raw", f"raw zone: {landed:,} events in {objects:,} gzip objects under {lake.raw}")

    progress.begin("batch", "ottlake batch: starting Spark")
    with clock.step("batch"):
        outcome = batch(lake, lambda stage: progress.update("batch", 0, description=f"ottlake batch: stage {stage}"))
    progress.end("batch", f"ottlake batch: every stage and its gates passed (run {outcome.run_id})")

    day = datetime.fromtimestamp(start_ms / 1000, UTC).date()
    progress.begin("report", f"ottlake report for {day}")
    with clock.step("report"):
        written = write_report(demo, lake, day, Path(lake.root) / f"qoe-report-{day}.html")
        counts = table_counts(lake)
    progress.end("report", f"ottlake report: {written.path}")

    bronze = outcome.counts.get("bronze", {})
    summary = DemoSummary(
        lake=lake, day=day,
        window=(datetime.fromtimestamp(start_ms / 1000, UTC), datetime.fromtimestamp(end_ms / 1000, UTC)),
        incident=incident, viewers=options.viewers,
        simulated_events=streamed.simulated_events, broken=streamed.broken, sent=streamed.sent, landed=landed,
        raw_objects=objects,
        monitor_records=streamed.monitor_records, alerts=streamed.alerts,
        bronze_rows=counts["bronze_rows"], duplicates=bronze.get("duplicates", 0),
        quarantined=counts["quarantined"], play_sessions=counts["play_sessions"],
        viewer_sessions=counts["viewer_sessions"], headline=written.data.totals, report_path=written.path,
        data_docs=docs.index(lake), batch_run_id=outcome.run_id, seconds=clock.seconds,
    )
    (Path(lake.root) / SUMMARY_FILE).write_bytes(summary.as_json())
    return summary


@dataclass(frozen=True)
class _Streamed:
    simulated_events: int
    broken: int
    sent: int
    monitor_records: int
    alerts: list[str]


def _stream(settings: Settings, options: DemoOptions, lake: Lake, incident: Incident, start_ms: int,
            progress: Progress) -> _Streamed:
    """The streaming half: stack, provisioning, receiver, consumers, traffic; all
    stopped again before the batch (Spark wants the cores)."""
    progress.begin("stack", "embedded stack: starting")
    was_running = stack.status(settings).running
    with stack.running(settings) as where:
        progress.end("stack", f"embedded stack at {where.endpoint_url}"
                     + (" (already running: left running)" if was_running else " (stopped at the end)"))
        progress.begin("infra", "provisioning the stream, lease tables and live table")
        infra.apply(settings)
        progress.end("infra", f"stream {settings.stream_name} ({settings.stream_shards} shards), lease tables "
                              f"and live table {settings.live_table} provisioned")
        with webhook.receiving(on_message=lambda text: progress.note(f"webhook received: {text}")) as receiver:
            progress.end("webhook", f"webhook receiver listening at {receiver.url}")
            alerting = settings.model_copy(update={"alert_webhook_url": receiver.url})
            with consuming(alerting, {"sink": 1, "monitor": options.monitor_workers}, lake=lake.root) as apps:
                progress.end("consumers", "lake sink and QoE monitor running under the in-process driver (pids: "
                             + "; ".join(f"{key} {', '.join(map(str, app.pids))}" for key, app in apps.items())
                             + ")")
                simulation = _simulate(options, incident, start_ms, progress)
                simulated_events = sum(len(session.events) for session in simulation.sessions)
                broken = len(simulation.deliveries)
                simulation = with_broken_events(simulation, every=BROKEN_EVERY)
                broken = len(simulation.deliveries) - broken
                sent = _send(simulation, alerting, options, apps, progress).counters.sent
                del simulation  # about 1.3 KB an event, held until now: free it before Spark starts
                _catch_up(sent, apps, progress)
                monitor_records = apps["monitor"].records
        texts = receiver.texts
    progress.end("stopped", "consumers stopped after their last checkpoint; "
                 + ("stack left running" if was_running else "stack stopped"))
    return _Streamed(simulated_events, broken, sent, monitor_records, texts)


def _simulate(options: DemoOptions, incident: Incident, start_ms: int, progress: Progress) -> Simulation:
    progress.begin("simulate", f"simulating {options.viewers:,} viewers over {options.minutes} minutes")
    simulation = simulate(SimConfig(viewers=options.viewers, minutes=options.minutes, seed=options.seed,
                                    start_ms=start_ms, incidents=(incident,)))
    progress.end("simulate", f"simulated {options.viewers:,} viewers: {len(simulation.sessions):,} play sessions, "
                             f"{len(simulation.deliveries):,} deliveries; incident {incident.name}")
    return simulation


def with_broken_events(simulation: Simulation, *, every: int) -> Simulation:
    """The simulation with one delivery in `every` sent once more, damaged (a new event id,
    derived from the original's, so the same seed gives the same lines)."""
    extra = []
    for n, delivery in enumerate(simulation.deliveries[::every]):
        event_id = uuid.uuid5(uuid.NAMESPACE_URL, f"broken:{delivery.event['event_id']}")
        event = {**delivery.event, "event_id": str(event_id)}
        extra.append(dataclasses.replace(delivery, copy=delivery.copy + _BROKEN_COPY,
                                         event=_DAMAGES[n % len(_DAMAGES)](event)))
    deliveries = sorted([*simulation.deliveries, *extra], key=lambda delivery: delivery.sort_key)
    return dataclasses.replace(simulation, deliveries=deliveries)


def _send(simulation: Simulation, settings: Settings, options: DemoOptions, apps: dict[str, RunningApp],
          progress: Progress) -> traffic.Traffic:
    total = len(simulation.deliveries)
    pace = f"{options.speed:g}x" if options.speed else "as fast as the stream takes it"
    via = f"{options.collector_share:.0%} of the sessions through the collector, the rest through the SDK" \
        if options.collector_share else "through the SDK"
    progress.begin("send", f"sending {via} ({pace})", total=total)
    progress.begin("sink", "lake sink", total=total)
    progress.begin("monitor", "QoE monitor", total=total)

    def on_progress(count: int) -> None:
        progress.update("send", count)
        _show_consumers(apps, progress)
        for app in apps.values():
            app.check()  # stop sending into a pipeline that broke

    sent = route_traffic(simulation, settings, collector_share=options.collector_share,
                         sdk=SdkConfig(**settings.sdk()), speed=options.speed, on_progress=on_progress)
    sent.raise_if_lost()
    progress.update("send", total)
    progress.end("send", f"sent {sent.counters.sent:,} records to {sent.destination}")
    return sent


def _show_consumers(apps: dict[str, RunningApp], progress: Progress) -> None:
    for key, app in apps.items():
        progress.update(key, app.records)


def _catch_up(sent: int, apps: dict[str, RunningApp], progress: Progress) -> None:
    """Wait until both consumers have read every record sent."""
    deadline = time.monotonic() + _CATCH_UP_S
    while any(app.records < sent for app in apps.values()):
        for app in apps.values():
            app.check()
        if time.monotonic() > deadline:
            behind = ", ".join(f"{app.app} {app.records:,}" for app in apps.values())
            raise DemoError(f"the consumers did not read the {sent:,} records sent within {_CATCH_UP_S:.0f} s "
                            f"({behind})")
        _show_consumers(apps, progress)
        time.sleep(0.2)
    _show_consumers(apps, progress)
    progress.end("sink", f"lake sink read {apps['sink'].records:,} records")
    progress.end("monitor", f"QoE monitor read {apps['monitor'].records:,} records")


def count_raw(lake: Lake) -> tuple[int, int]:
    """(event lines, objects) in a local lake's raw zone, as the sink wrote them."""
    root = Path(lake.raw)
    objects = [path for path in sorted(root.rglob("*")) if path.is_file() and not path.name.startswith(".")]
    lines = 0
    for path in objects:
        body = path.read_bytes()
        data = gzip.decompress(body) if path.suffix == ".gz" else body
        lines += sum(1 for line in data.split(b"\n") if line.strip())
    return lines, len(objects)


def table_counts(lake: Lake) -> dict[str, Any]:
    """The summary's counts, read back from the tables (DuckDB through delta-rs)."""
    query = LakeQuery(lake)
    try:
        def one(sql: str) -> int:
            return int(query.run(sql).column(0)[0].as_py())

        reasons = query.run("SELECT reason, count(*) AS n FROM quarantine GROUP BY reason ORDER BY n DESC, reason")
        return {
            "bronze_rows": one("SELECT count(*) FROM player_events"),
            "play_sessions": one("SELECT count(*) FROM play_sessions"),
            "viewer_sessions": one("SELECT count(*) FROM viewer_sessions"),
            "quarantined": dict(zip(reasons.column("reason").to_pylist(), reasons.column("n").to_pylist(),
                                    strict=True)),
        }
    finally:
        query.close()


def sql_examples(lake: Lake, day: date, *, ottlake: str) -> list[str]:
    """Two `ottlake sql` commands to try next, ready to paste into a POSIX shell."""
    where = f"--lake {_shell_quote(lake.root)}"
    return [
        f'{ottlake} sql {where} "SELECT cdn, count(*) AS sessions, round(sum(rebuffer_time_ms) / '
        f"sum(watch_time_ms), 4) AS rebuffer_ratio FROM play_sessions WHERE session_date = DATE '{day}' "
        'GROUP BY cdn ORDER BY rebuffer_ratio DESC"',
        f'{ottlake} sql {where} "SELECT time_bucket(INTERVAL 5 MINUTE, start_time) AS five_minutes, count(*) AS '
        "sessions, round(sum(rebuffer_time_ms) / sum(watch_time_ms), 4) AS rebuffer_ratio, "
        "median(startup_time_ms) AS startup_p50_ms FROM play_sessions WHERE cdn = "
        f"'{INCIDENT_CDN}' GROUP BY ALL ORDER BY five_minutes\"",
    ]


def _shell_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
