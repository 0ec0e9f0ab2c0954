"""Fixtures for the live monitor: a real incoming-webhook receiver on 127.0.0.1, a
live table of a test's own, and the CDN stall scenario the integration tests share.

kclpy records, inputs and a checkpointer come from tests.fixtures_consumers.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

from consumers.monitor.store import LiveStore
from consumers.monitor.windows import WINDOW_MS
from ottlake.services.infra import live_table_request
from ottlake.settings import Settings
from producers.simulator import SimConfig, Simulation, parse_incident, simulate

# The scenario: 500 viewers for 25 minutes, fastly's stall hazard x20 in minutes 8-13.
INCIDENT_MINUTES = 25
INCIDENT = "cdn-stall:fastly:8-13:20"
INCIDENT_WINDOWS = range(8, 13)


def quiet_windows(minutes: int = INCIDENT_MINUTES) -> list[int]:
    """Minutes of the scenario without the incident: before it, and from 6 minutes
    after its end (stalls begun in the incident run on a little)."""
    return [*range(0, INCIDENT_WINDOWS[0]), *range(INCIDENT_WINDOWS[-1] + 7, minutes)]


def incident_simulation(start_ms: int, *, minutes: int = INCIDENT_MINUTES) -> Simulation:
    """The scenario from `start_ms` (a window start), `minutes` long (more: a longer quiet
    tail); seeded, so the same sessions every run."""
    return simulate(SimConfig(viewers=500, minutes=minutes, seed=7, start_ms=start_ms,
                              incidents=(parse_incident(INCIDENT, minutes=minutes),)))


def rebuffer_ratios(store: LiveStore, series: str, *, start_ms: int,
                    minutes: int = INCIDENT_MINUTES) -> dict[int, float | None]:
    """The rebuffer ratio of each window of `series` in the live table, by the scenario's minute."""
    rows = store.rows(series, since_ms=start_ms, until_ms=start_ms + minutes * WINDOW_MS)
    return {(row.window_start_ms - start_ms) // WINDOW_MS: row.rebuffer_ratio for row in rows}


@dataclass
class WebhookReceiver:
    """An incoming-webhook stand-in on 127.0.0.1: records each POSTed JSON body."""

    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200  # what it answers; tests of the retry path change it

    @property
    def texts(self) -> list[str]:
        return [body["text"] for body in self.received]


@contextlib.contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A real http.server in a thread; for tests that need one beyond a function's scope."""
    holder: dict[str, WebhookReceiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            receiver = holder["receiver"]
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver.received.append(orjson.loads(body))
            self.send_response(receiver.status)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["receiver"] = WebhookReceiver(url=f"http://127.0.0.1:{server.server_address[1]}/hook")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder["receiver"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as receiver:
        yield receiver


def live_table_settings(settings: Settings) -> Settings:
    """`settings` with a live table of its own, created on settings' stack."""
    named = settings.model_copy(update={"live_table": f"it-live-{uuid.uuid4().hex[:8]}"})
    dynamodb = named.aws().client("dynamodb")
    dynamodb.create_table(**live_table_request(named.live_table))
    dynamodb.get_waiter("table_exists").wait(TableName=named.live_table)
    return named


@pytest.fixture
def live_settings(embedded_settings: Settings) -> Settings:
    return live_table_settings(embedded_settings)
