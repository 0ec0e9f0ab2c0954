"""The collector's Prometheus metrics, with the Prometheus client library.

With several uvicorn workers each process counts its own; the CLI then sets
PROMETHEUS_MULTIPROC_DIR and `/metrics` adds up every worker's files
(prometheus_client's multiprocess mode; the queue depth is summed over live workers).
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """One set per app; `registry` is the app's own (tests build many apps in one process)."""

    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        # In multiprocess mode the values live in files; the registry is built per scrape.
        self.registry = None if self.multiprocess else CollectorRegistry()
        registry = self.registry
        self.requests = Counter("ottlake_collector_requests", "HTTP requests by route and status",
                                ["route", "status"], registry=registry)
        self.accepted = Counter("ottlake_collector_events_accepted", "Events accepted into the stream",
                                ["route"], registry=registry)
        self.rejected = Counter("ottlake_collector_events_rejected", "Events rejected, by reason",
                                ["route", "reason"], registry=registry)
        self.dead_letters_dropped = Counter(
            "ottlake_collector_dead_letters_dropped", "Rejected events not written to the dead-letter stream "
            "(its queue was full)", registry=registry)
        self.queue_depth = Gauge("ottlake_collector_queue_depth", "Events waiting in the writer's queue",
                                 ["stream"], registry=registry, multiprocess_mode="livesum")
        self.put_latency = Histogram(
            "ottlake_collector_stream_put_seconds", "Time of one PutRecords call to the stream",
            ["stream"], registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))

    def render(self) -> bytes:
        if self.registry is not None:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
