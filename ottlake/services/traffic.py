"""Simulated traffic through the SDK: the library behind `ottlake simulate` and the demo.

Opening the destination (the stream, checked before any work; or a JSON-lines
file), sending a simulation's delivery plan through a Tracker, and turning what
did not arrive into one clear error.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from consumers.raw_zone import open_raw_zone
from ottlake.errors import ConfigError, ProducerError
from ottlake.settings import Settings
from producers.sdk import CollectorSink, Counters, FileSink, KinesisSink, SdkConfig, Sink, Tracker
from producers.simulator import EmitReport, Pacer, Simulation, emit
from producers.simulator.landing import Landed, land


@dataclass(frozen=True)
class Traffic:
    """What happened to a simulation's deliveries."""

    destination: str
    counters: Counters
    report: EmitReport
    reasons: Counter[str]  # why records failed, from the tracker's on_error

    @property
    def lost(self) -> int:
        return self.counters.failed + self.counters.dropped + self.counters.invalid + self.report.refused

    def raise_if_lost(self) -> None:
        """Never silent loss: anything not delivered is an error with its reasons."""
        if self.lost or not self.report.flushed:
            why = ", ".join(f"{reason} x{n}" for reason, n in self.reasons.most_common(3))
            raise ProducerError(
                f"{self.lost} events were not delivered to {self.destination}"
                + (f": {why}" if why else "")
                + ("" if self.report.flushed else " (the final flush timed out)")
            )


def check_writable(path: Path) -> None:
    """Refuse a file that cannot be written before any work is done (nothing is created)."""
    folder = path.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(f"cannot write {path}: no such folder, or not writable")


def check_stream(client: Any, stream_name: str) -> None:
    """Fail in one line before simulating into a stream that is not there."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client.describe_stream_summary(StreamName=stream_name)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            raise ProducerError(f"stream {stream_name!r} does not exist (run `ottlake infra apply`, or use --out FILE)") from None
        raise ProducerError(f"cannot use stream {stream_name!r}: {code or exc}") from None
    except BotoCoreError as exc:
        raise ProducerError(f"cannot reach Kinesis for stream {stream_name!r}: {exc} (is the stack up?)") from None


def open_sink(settings: Settings, *, out: Path | None = None, collector: str | None = None,
              write_key: str | None = None) -> tuple[Sink, str]:
    """The stream of the settings (checked), a fresh JSON-lines file, or a collector
    (its /healthz checked) that the events reach over HTTP with a write key."""
    if collector is not None:
        return _collector_sink(collector, write_key), f"collector:{collector}"
    if out is not None:
        check_writable(out)
        try:
            out.write_bytes(b"")  # FileSink appends; one run, one file
        except OSError as exc:
            raise ConfigError(f"cannot write {out}: {exc.strerror}") from None
        return FileSink(out), str(out)
    client = settings.aws().client("kinesis")
    check_stream(client, settings.stream_name)
    return KinesisSink(client, settings.stream_name), f"kinesis:{settings.stream_name}"


def _collector_sink(url: str, write_key: str | None) -> CollectorSink:
    import urllib.error
    import urllib.request

    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"--collector {url!r}: give the collector's http(s) URL")
    if not write_key:
        raise ConfigError("--collector needs --write-key (one of the collector's OTTLAKE_COLLECTOR_WRITE_KEYS)")
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/healthz", timeout=5) as answer:
            answer.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ProducerError(f"cannot reach the collector at {url}: {exc} (is `ottlake collector` running?)") from None
    return CollectorSink(url, write_key)


def send(
    simulation: Simulation,
    sink: Sink,
    destination: str,
    *,
    sdk: SdkConfig,
    speed: float | None = None,
    on_progress: Callable[[int], None] | None = None,
    shutdown_timeout_s: float = 30.0,
) -> Traffic:
    """Track every delivery of the plan (paced when `speed` is given), then shut down."""
    return send_routed(simulation, [(sink, destination)], lambda _event: 0, sdk=sdk, speed=speed,
                       on_progress=on_progress, shutdown_timeout_s=shutdown_timeout_s)


def send_routed(
    simulation: Simulation,
    routes: Sequence[tuple[Sink, str]],
    choose: Callable[[Mapping[str, Any]], int],
    *,
    sdk: SdkConfig,
    speed: float | None = None,
    on_progress: Callable[[int], None] | None = None,
    shutdown_timeout_s: float = 30.0,
) -> Traffic:
    """`send` through several sinks at once, a Tracker each, each event to the route
    `choose(event)` names: one pass over the plan, so every route follows the same
    clock (a live reader of the stream sees one simulated time, not two)."""
    reasons: Counter[str] = Counter()
    trackers = [Tracker(sink, config=sdk, on_error=lambda _subject, reason: reasons.update([reason]))
                for sink, _ in routes]
    router = _Router(trackers, choose)
    interrupted = False
    try:
        report = emit(
            simulation.deliveries,
            router,
            pacer=Pacer(speed, simulation.config.start_ms),
            # Flushing now and then bounds the queue: a backfill tracks far faster
            # than any stream takes records, and a full queue would drop.
            flush_every=max(1, min(5_000, sdk.queue_size // 2)),
            on_progress=on_progress,
        )
    except BaseException:
        interrupted = True  # Ctrl-C or a failure: stop now, do not wait on every sink in turn
        raise
    finally:
        for tracker in trackers:
            tracker.shutdown(timeout=_INTERRUPTED_SHUTDOWN_S if interrupted else shutdown_timeout_s)
    counters = Counters(**{name.name: sum(getattr(tracker.counters, name.name) for tracker in trackers)
                           for name in fields(Counters)})
    return Traffic(" and ".join(destination for _, destination in routes), counters, report, reasons)


_INTERRUPTED_SHUTDOWN_S = 2.0


@dataclass(frozen=True)
class _Router:
    """One tracker to the emitter, several underneath."""

    trackers: Sequence[Tracker]
    choose: Callable[[Mapping[str, Any]], int]

    def track(self, event: Mapping[str, Any], *, clock_offset_ms: int = 0) -> bool:
        return self.trackers[self.choose(event)].track(event, clock_offset_ms=clock_offset_ms)

    def flush(self, timeout: float | None = None) -> bool:
        return all([tracker.flush(timeout) for tracker in self.trackers])


def land_in_raw_zone(simulation: Simulation, settings: Settings, *, lake: str) -> Landed:
    """The simulation's deliveries as raw objects of `lake` (a folder or s3://...),
    as the SDK would stamp them and the lake sink would write them."""
    store = open_raw_zone(lake, s3_client_factory=lambda: settings.aws().client("s3"))
    return land(simulation.deliveries, store, stream_name=settings.stream_name, shards=settings.stream_shards)
