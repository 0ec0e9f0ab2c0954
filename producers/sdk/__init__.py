"""The player SDK: `Tracker(sink).track(event)`, delivered to Kinesis in the background.

    from producers.sdk import KinesisSink, SdkConfig, Tracker

    sink = KinesisSink(settings.aws().client("kinesis"), settings.stream_name)
    with Tracker(sink, config=SdkConfig(), on_error=handle) as tracker:
        tracker.track(session.playing(playhead_ms=0))

Layout, after Segment's analytics-python: `client` (the public Tracker),
`worker` (only batches and sends), `sinks` (only talk to a destination),
`batching` (the pure batching function and the bounded buffer), `records` (an
event's bytes, key and size), `config` (limits, settings, counters).
"""

from __future__ import annotations

from producers.sdk.client import Tracker
from producers.sdk.config import (
    PUT_RECORDS_MAX_BYTES,
    PUT_RECORDS_MAX_RECORD_BYTES,
    PUT_RECORDS_MAX_RECORDS,
    Counters,
    SdkConfig,
)
from producers.sdk.records import Record
from producers.sdk.sinks import CollectorSink, FileSink, KinesisSink, MemorySink, NullSink, Sink, SinkError

__all__ = [
    "PUT_RECORDS_MAX_BYTES",
    "PUT_RECORDS_MAX_RECORDS",
    "PUT_RECORDS_MAX_RECORD_BYTES",
    "CollectorSink",
    "Counters",
    "FileSink",
    "KinesisSink",
    "MemorySink",
    "NullSink",
    "Record",
    "SdkConfig",
    "Sink",
    "SinkError",
    "Tracker",
]
