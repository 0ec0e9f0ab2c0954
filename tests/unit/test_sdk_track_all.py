"""`Tracker.track_all` (and `EventBuffer.put_all`): all of a request's events or none."""

from __future__ import annotations

from producers.sdk import MemorySink, SdkConfig, Tracker
from producers.sdk.batching import EventBuffer


def test_put_all_takes_all_or_none_and_counts_the_refused() -> None:
    buffer = EventBuffer(5)
    assert buffer.put_all([1, 2, 3])
    assert not buffer.put_all([4, 5, 6])  # 6 > 5: nothing of it
    assert len(buffer) == 3 and (buffer.accepted, buffer.dropped) == (3, 3)
    assert buffer.put_all([4, 5])
    assert [buffer.get(block=False) for _ in range(5)] == [1, 2, 3, 4, 5]
    buffer.close()
    assert not buffer.put_all([6])


def test_track_all_delivers_every_event_once() -> None:
    sink = MemorySink()
    with Tracker(sink, config=SdkConfig(queue_size=10, flush_interval_s=0.01)) as tracker:
        events = [{"play_session_id": "ps", "seq": n} for n in range(10)]
        assert tracker.track_all(events)
        assert tracker.flush(5)
        assert tracker.queue_depth == 0
    assert [e["seq"] for e in sink.events()] == list(range(10))
    assert not tracker.track_all([{"play_session_id": "ps", "seq": 99}])  # after shutdown
