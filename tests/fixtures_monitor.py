"""Fixtures for the live monitor: a real incoming-webhook receiver on 127.0.0.1.

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

from ottlake.infra import live_table_request
from ottlake.settings import Settings


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
