"""The SDK's limits, its one configuration object, and its counters.

The limits are Kinesis's, not ours: a batch that breaks one is rejected whole by
the service, so the batcher must never build one.
"""

from __future__ import annotations

from dataclasses import dataclass

from ottlake.errors import ConfigError

# PutRecords: 500 records, 5 MiB per call, 1 MiB per record; the partition key's
# bytes count towards both byte limits (data blob + key).
PUT_RECORDS_MAX_RECORDS = 500
PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024
PUT_RECORDS_MAX_RECORD_BYTES = 1024 * 1024
# PutRecords: a partition key is 1 to 256 Unicode characters.
PARTITION_KEY_MAX_CHARS = 256


@dataclass(frozen=True, kw_only=True)
class SdkConfig:
    """How the tracker queues, batches and retries.

    The defaults suit a player or a relay: a queue deep enough to ride out a
    minute of stream trouble at a few thousand events per second, one PutRecords
    call per second when traffic is light, and about half a minute of retries
    before an event is handed to `on_error`.
    """

    # Events waiting for the worker; when full, track() drops and counts. At most
    # one batch more is held by the worker (being filled or sent), so memory is
    # bounded by queue_size + max_batch_records events.
    queue_size: int = 100_000
    # A batch leaves when it is full or when it is this old, whichever comes first.
    flush_interval_s: float = 1.0
    # Attempts after the first, for entries that came back with an ErrorCode and
    # for whole calls that failed in a retryable way (throttling, network, 5xx).
    max_retries: int = 8
    # Exponential backoff with full jitter: wait uniform(0, min(cap, base * 2**n)).
    backoff_base_s: float = 0.1
    backoff_cap_s: float = 5.0
    # Validate each event against the contract on the worker. Off by default: the
    # check costs about 20 us a valid event (the schema compiled, schemas.validate)
    # and 200 us an invalid one (measured), more than the rest of the SDK's path
    # together, and the collector and bronze validate anyway.
    validate: bool = False
    # Smaller than the PutRecords limits is allowed (tests, other sinks); larger is not.
    max_batch_records: int = PUT_RECORDS_MAX_RECORDS
    max_batch_bytes: int = PUT_RECORDS_MAX_BYTES
    max_record_bytes: int = PUT_RECORDS_MAX_RECORD_BYTES
    # How long the atexit hook waits for queued events when the program ends
    # without calling shutdown(); a dead network must not hang the exit forever.
    exit_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        problems = []
        if self.queue_size < 1:
            problems.append("queue_size must be >= 1")
        if not self.flush_interval_s > 0:
            problems.append("flush_interval_s must be > 0")
        if self.max_retries < 0:
            problems.append("max_retries must be >= 0")
        if not 0 <= self.backoff_base_s <= self.backoff_cap_s:
            problems.append("need 0 <= backoff_base_s <= backoff_cap_s")
        if not 1 <= self.max_batch_records <= PUT_RECORDS_MAX_RECORDS:
            problems.append(f"max_batch_records must be 1..{PUT_RECORDS_MAX_RECORDS}")
        if not 1 <= self.max_record_bytes <= PUT_RECORDS_MAX_RECORD_BYTES:
            problems.append(f"max_record_bytes must be 1..{PUT_RECORDS_MAX_RECORD_BYTES}")
        if not self.max_record_bytes <= self.max_batch_bytes <= PUT_RECORDS_MAX_BYTES:
            problems.append(f"max_batch_bytes must be max_record_bytes..{PUT_RECORDS_MAX_BYTES}")
        if self.exit_timeout_s < 0:
            problems.append("exit_timeout_s must be >= 0")
        if problems:
            raise ConfigError("invalid SdkConfig: " + "; ".join(problems))


@dataclass(frozen=True)
class Counters:
    """A snapshot of what the tracker did with the events it was given.

    Every accepted event ends in exactly one of sent, failed or invalid, so once
    a flush has returned True, `queued == sent + failed + invalid`; `dropped`
    events were never accepted. `retried` counts resends of single records (one
    record sent three times adds 2), not events.
    """

    queued: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0
    invalid: int = 0

    @property
    def in_flight(self) -> int:
        """Accepted events whose fate is not decided yet (queued or being sent)."""
        return self.queued - self.sent - self.failed - self.invalid
