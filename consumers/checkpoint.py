"""Checkpointing as every processor here does it (the KCL's rules, amazon-kclpy v3).

Throttling of the lease table is retried with exponential backoff; a checkpoint
refused because the lease moved is not an error (the new owner resumes from the
last checkpoint); anything else, or throttling that outlasts the attempts, is a
ConsumerError naming the processor, the shard and the position.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from amazon_kclpy.checkpoint_error import CheckpointError

from ottlake.errors import ConsumerError

logger = logging.getLogger(__name__)

RETRYABLE = frozenset({"ThrottlingException"})
LEASE_GONE = frozenset({"ShutdownException"})


def checkpoint(
    checkpointer: Any,
    sequence: str | None,
    sub_sequence: int | None,
    *,
    who: str,
    shard_id: str,
    attempts: int,
    backoff_s: float,
    sleep: Callable[[float], None],
    on_retry: Callable[[], None] = lambda: None,
) -> bool:
    """Checkpoint at (sequence, sub_sequence), None for the shard's end; True when
    taken, False when the lease had moved."""
    for attempt in range(attempts):
        try:
            checkpointer.checkpoint(sequence, sub_sequence)
            return True
        except CheckpointError as exc:
            if exc.value in LEASE_GONE:
                logger.warning("%s: checkpoint of %s refused (%s): the lease moved", who, shard_id, exc.value)
                return False
            if exc.value not in RETRYABLE or attempt == attempts - 1:
                raise ConsumerError(
                    f"{who}: checkpoint of {shard_id} at {sequence or 'the end'} failed "
                    f"after {attempt + 1} attempt(s): {exc.value}"
                ) from None
            on_retry()
            sleep(backoff_s * 2**attempt)  # DynamoDB throttled the lease table
    return False
