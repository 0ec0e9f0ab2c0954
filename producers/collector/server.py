"""Serving the collector with uvicorn, from the one settings object.

`serve(settings)` hands the settings to uvicorn's processes in one environment
variable (uvicorn's workers import the app by name, so they cannot be given
objects) and each process builds its app with `create_app()`: the writer to the
settings' stream and dead-letter stream through the SDK's KinesisSink. On SIGTERM
uvicorn stops accepting, answers the requests it has, then the app's lifespan
flushes every accepted event into the stream before the process exits.
"""

from __future__ import annotations

import gc
import os
import socket
import tempfile
from typing import Any

from ottlake.errors import ConfigError
from ottlake.settings import Settings
from producers.collector.app import CollectorConfig, build_app
from producers.collector.ingest import Limits
from producers.collector.metrics import Metrics
from producers.collector.writer import Writer
from producers.sdk import KinesisSink, SdkConfig

SETTINGS_VARIABLE = "OTTLAKE_COLLECTOR_PROCESS_SETTINGS"  # read by create_app() only, never by Settings
APP = "producers.collector.server:create_app"


def collector_config(settings: Settings) -> CollectorConfig:
    keys = settings.collector_keys()
    if not keys:
        raise ConfigError("the collector needs write keys: set OTTLAKE_COLLECTOR_WRITE_KEYS to key=app_id pairs")
    return CollectorConfig(
        write_keys=keys,
        limits=Limits(max_body_bytes=settings.collector_max_body_bytes, max_events=settings.collector_max_events,
                      max_event_bytes=settings.collector_max_event_bytes),
        cors_origins=tuple(settings.collector_origins()),
        retry_after_s=settings.collector_retry_after_s,
        shutdown_timeout_s=settings.collector_shutdown_timeout_s,
    )


def sdk_config(settings: Settings) -> SdkConfig:
    """The SDK's settings (its bounded queue: OTTLAKE_SDK_QUEUE_SIZE), without a second
    validation (the collector's is done)."""
    return SdkConfig(**{**settings.sdk(), "validate": False})


def kinesis_writer(settings: Settings, metrics: Metrics) -> Writer:
    client = settings.aws().client("kinesis")
    return Writer(KinesisSink(client, settings.stream_name), KinesisSink(client, settings.dead_letter_stream_name),
                  config=sdk_config(settings), metrics=metrics,
                  names=(settings.stream_name, settings.dead_letter_stream_name))


def app_for(settings: Settings) -> Any:
    config = collector_config(settings)
    return build_app(config, lambda metrics: kinesis_writer(settings, metrics))


def tune_process() -> None:
    """For a serving process: the objects loaded so far (modules, the compiled
    validator) leave the garbage collector's generations, and the youngest one is
    collected less often. Each request allocates thousands of short-lived dicts; with
    the default threshold (700) collections ran several times a request and showed
    in the tail latency."""
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def create_app() -> Any:
    """uvicorn's factory, in each serving process: the settings `serve` passed on."""
    text = os.environ.get(SETTINGS_VARIABLE)
    settings = Settings.model_validate_json(text) if text else Settings.load()
    app = app_for(settings)
    tune_process()
    return app


def check_listen(host: str, port: int) -> None:
    """ConfigError in one line when the address cannot be listened on (taken, not
    ours), before uvicorn would log it and exit on its own terms."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def serve(settings: Settings, *, log_level: str = "warning") -> None:
    """Run until SIGTERM or SIGINT (blocking)."""
    import uvicorn

    collector_config(settings)  # refuse bad settings here, in one line, not in each worker
    check_listen(settings.collector_host, settings.collector_port)
    os.environ[SETTINGS_VARIABLE] = settings.model_dump_json()
    if settings.collector_workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ottlake-collector-metrics-")
    uvicorn.run(
        APP, factory=True, host=settings.collector_host, port=settings.collector_port,
        workers=settings.collector_workers, log_level=log_level, access_log=False,
        # The client's address is never kept (docs/collector.md): no proxy headers, no access log.
        proxy_headers=False, server_header=False, date_header=False,
        timeout_graceful_shutdown=settings.collector_shutdown_timeout_s,
    )
