"""The collector's ASGI app: routes, auth, limits, CORS and metrics around `ingest`.

    POST /v1/events   a JSON array of events, or JSON lines; optional Content-Encoding: gzip
    POST /v1/cmcd     CMCD v2 event-mode reports, one a line (Content-Type: application/cmcd)
    GET  /healthz     200 while accepting
    GET  /metrics     Prometheus text format

Auth: `Authorization: Bearer KEY` or `?write_key=KEY` (sendBeacon cannot set
headers). Answers are JSON: `{"accepted": n, "rejected": [{"index", "reason",
"violations"}]}` with 200, or `{"error", "reason", "message"}` with 400, 401, 413,
415 or 429 (with Retry-After). The client's IP address is never read.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from producers.collector import ingest
from producers.collector.ingest import Limits, Outcome, RequestError
from producers.collector.metrics import CONTENT_TYPE, Metrics
from producers.collector.writer import Writer, dead_letter_record
from producers.events import now_ms

EVENTS_ROUTE = "/v1/events"
CMCD_ROUTE = "/v1/cmcd"
ROUTES = (EVENTS_ROUTE, CMCD_ROUTE, "/healthz", "/metrics")
_ERRORS = {400: "bad_request", 401: "unauthorized", 413: "payload_too_large", 415: "unsupported_media_type",
           429: "too_many_requests", 503: "unavailable"}


@dataclass(frozen=True)
class CollectorConfig:
    write_keys: dict[str, str]  # key -> application id
    limits: Limits
    cors_origins: tuple[str, ...] = ("*",)
    retry_after_s: int = 1
    shutdown_timeout_s: float = 30.0


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def _refusal(error: RequestError, *, retry_after_s: int) -> Response:
    headers = {"Retry-After": str(retry_after_s)} if error.status == 429 else None
    return _json(error.status, {"error": _ERRORS.get(error.status, "error"), "reason": error.reason,
                                "message": error.message}, headers)


class _RequestMetrics:
    """Counts every answer by route and status (unknown paths as "other")."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = scope["path"] if scope["path"] in ROUTES else "other"
        status = {"code": 500}

        async def counting_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            self.metrics.requests.labels(route=route, status=str(status["code"])).inc()


class Collector:
    """The app's state: its config, writer and metrics, and the request handlers."""

    def __init__(self, config: CollectorConfig, writer: Writer, metrics: Metrics) -> None:
        self.config = config
        self.writer = writer
        self.metrics = metrics
        self.closing = False

    def app_id(self, request: Request) -> str:
        header = request.headers.get("authorization")
        key = None
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise RequestError(401, "malformed_authorization", "use `Authorization: Bearer KEY`")
            key = value.strip()
        else:
            key = request.query_params.get("write_key")
        if not key:
            raise RequestError(401, "missing_write_key",
                               "a write key is required: `Authorization: Bearer KEY` or `?write_key=KEY`")
        app_id = self.config.write_keys.get(key)
        if app_id is None:
            raise RequestError(401, "unknown_write_key", "the write key is not known")
        return app_id

    async def body(self, request: Request) -> bytes:
        limit = self.config.limits.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise RequestError(413, "body_too_large", f"the body is {declared} bytes; at most {limit}")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise RequestError(413, "body_too_large", f"the body is over {limit} bytes")
            chunks.append(chunk)
        raw = b"".join(chunks)
        return ingest.decompress(raw, request.headers.get("content-encoding"), max_bytes=limit)

    async def events(self, request: Request) -> Response:
        return await self._ingest(request, EVENTS_ROUTE)

    async def cmcd(self, request: Request) -> Response:
        return await self._ingest(request, CMCD_ROUTE)

    async def _ingest(self, request: Request, route: str) -> Response:
        try:
            if self.closing:
                raise RequestError(503, "shutting_down", "the collector is shutting down")
            app_id = self.app_id(request)
            body = await self.body(request)
            received_ms = now_ms()
            user_agent = request.headers.get("user-agent")
            if route == EVENTS_ROUTE:
                outcome = ingest.ingest_json(body, limits=self.config.limits, received_ms=received_ms,
                                             app_id=app_id, user_agent=user_agent)
            else:
                outcome = ingest.ingest_cmcd(body, limits=self.config.limits, received_ms=received_ms,
                                             app_id=app_id, user_agent=user_agent,
                                             viewer_id=request.query_params.get("viewer_id") or None,
                                             content_type=request.query_params.get("content_type") or None)
            if not self.writer.put(outcome.accepted):
                raise RequestError(429, "queue_full", "the collector's queue is full; retry after Retry-After seconds")
        except RequestError as error:
            return _refusal(error, retry_after_s=self.config.retry_after_s)
        self._dead_letter(outcome, route=route, app_id=app_id, received_ms=received_ms)
        self._count(outcome, route)
        return _json(200, {"accepted": len(outcome.accepted),
                           "rejected": [rejected.answer() for rejected in outcome.rejected]})

    def _dead_letter(self, outcome: Outcome, *, route: str, app_id: str, received_ms: int) -> None:
        if not outcome.rejected:
            return
        letters = []
        for rejected in outcome.rejected:
            key = None
            if route == EVENTS_ROUTE:
                with contextlib.suppress(orjson.JSONDecodeError):
                    decoded = orjson.loads(rejected.payload)
                    key = decoded.get("play_session_id") if isinstance(decoded, dict) else None
            letters.append(dead_letter_record(route=route, index=rejected.index, reason=rejected.reason,
                                              violations=rejected.violations, payload=rejected.payload,
                                              received_ms=received_ms, app_id=app_id, key=key))
        self.writer.dead_letter(letters)

    def _count(self, outcome: Outcome, route: str) -> None:
        if outcome.accepted:
            self.metrics.accepted.labels(route=route).inc(len(outcome.accepted))
        for rejected in outcome.rejected:
            self.metrics.rejected.labels(route=route, reason=rejected.reason).inc()

    async def healthz(self, _request: Request) -> Response:
        if self.closing:
            return _json(503, {"status": "shutting_down"})
        return _json(200, {"status": "ok", "queue_depth": self.writer.counters.in_flight})

    async def metrics_text(self, _request: Request) -> Response:
        self.writer.refresh()
        return Response(self.metrics.render(), media_type=CONTENT_TYPE)


def build_app(config: CollectorConfig, writer_factory: Callable[[Metrics], Writer]) -> Starlette:
    """The ASGI app; the writer is made at startup (in the serving process) and
    closed at shutdown, after uvicorn stopped accepting and answered what it had."""
    metrics = Metrics()
    holder: dict[str, Collector] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        collector = Collector(config, writer_factory(metrics), metrics)
        holder["collector"] = collector
        try:
            yield
        finally:
            collector.closing = True
            collector.writer.close(config.shutdown_timeout_s)

    def handler(name: str) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            return await getattr(holder["collector"], name)(request)
        return handle

    routes = [
        Route(EVENTS_ROUTE, handler("events"), methods=["POST"]),
        Route(CMCD_ROUTE, handler("cmcd"), methods=["POST"]),
        Route("/healthz", handler("healthz"), methods=["GET"]),
        Route("/metrics", handler("metrics_text"), methods=["GET"]),
    ]
    middleware = [
        Middleware(_RequestMetrics, metrics=metrics),
        Middleware(CORSMiddleware, allow_origins=list(config.cors_origins), allow_methods=["POST", "GET", "OPTIONS"],
                   allow_headers=["Authorization", "Content-Type", "Content-Encoding"],
                   expose_headers=["Retry-After"], max_age=600),
    ]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
