"""What arrived in the stream: counted and checked against the contract.

Pure over the records read back (consumers.stream), so the demo's summary and the
tests share one definition of "arrived".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from consumers.stream import StreamRecord
from schemas import check_line


@dataclass
class Arrivals:
    records: int = 0
    bytes: int = 0
    per_shard: Counter[str] = field(default_factory=Counter)
    event_types: Counter[str] = field(default_factory=Counter)
    play_sessions: set[str] = field(default_factory=set)
    viewers: set[str] = field(default_factory=set)
    event_ids: set[str] = field(default_factory=set)
    duplicates: int = 0  # records whose event_id arrived before (at-least-once delivery)
    invalid: Counter[str] = field(default_factory=Counter)  # violation reason -> records
    wrong_partition_key: int = 0  # partition key is not the event's play_session_id

    @property
    def distinct_events(self) -> int:
        return len(self.event_ids)


def count_arrivals(records: Iterable[StreamRecord]) -> Arrivals:
    """Decode and validate every record; count what arrived and what is wrong with it."""
    seen = Arrivals()
    for record in records:
        seen.records += 1
        seen.bytes += len(record.data)
        seen.per_shard[record.shard_id] += 1
        event, violations = check_line(record.data)
        for violation in violations:
            seen.invalid[str(violation.reason)] += 1
        if event is None:
            continue
        seen.event_types[str(event.get("event_type"))] += 1
        seen.play_sessions.add(str(event.get("play_session_id")))
        seen.viewers.add(str(event.get("viewer_id")))
        if record.partition_key != event.get("play_session_id"):
            seen.wrong_partition_key += 1
        event_id = str(event.get("event_id"))
        if event_id in seen.event_ids:
            seen.duplicates += 1
        seen.event_ids.add(event_id)
    return seen
