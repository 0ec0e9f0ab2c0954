"""A local incoming-webhook receiver: where the demo's monitor posts its alerts.

A real HTTP server on 127.0.0.1 (a free port), speaking the Slack-compatible
shape the monitor sends (`{"text": ...}`, consumers.monitor.alerts.WebhookSender),
so the alert takes the same path as in production, over the network. Each
message is kept and handed to `on_message` as it arrives (the demo prints it).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from ottlake.settings import EMBEDDED_HOST

# A message larger than this is not an alert; refuse it rather than read it.
_MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class Received:
    body: dict[str, Any]  # the whole JSON object posted
    at: float  # wall time, seconds since the epoch

    @property
    def text(self) -> str:
        return str(self.body["text"])


@dataclass
class WebhookReceiver:
    url: str
    messages: list[Received] = field(default_factory=list)
    status: int = 200  # what a well-formed message is answered with (a test of retries sets 5xx)

    @property
    def texts(self) -> list[str]:
        return [message.text for message in self.messages]


@contextlib.contextmanager
def receiving(on_message: Callable[[str], None] = lambda _text: None) -> Iterator[WebhookReceiver]:
    """Serve on 127.0.0.1 for the length of a block; the server's thread is joined at exit."""
    lock = threading.Lock()
    holder: dict[str, WebhookReceiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= _MAX_BODY_BYTES:
                self._answer(413 if length else 400)
                return
            try:
                message = Received(orjson.loads(self.rfile.read(length)), time.time())
                text = message.text  # a body that is not an object with a text is refused
            except (orjson.JSONDecodeError, KeyError, TypeError):
                self._answer(400)
                return
            receiver = holder["receiver"]
            with lock:
                receiver.messages.append(message)
            self._answer(receiver.status)
            on_message(text)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_args: Any) -> None:  # the demo prints the messages itself
            pass

    server = ThreadingHTTPServer((EMBEDDED_HOST, 0), Handler)
    server.daemon_threads = True
    holder["receiver"] = WebhookReceiver(url=f"http://{EMBEDDED_HOST}:{server.server_address[1]}/alerts")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name="ottlake-webhook", daemon=True)
    thread.start()
    try:
        yield holder["receiver"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
