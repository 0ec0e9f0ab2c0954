"""The one error hierarchy of ottlake.

The library raises these; the CLI catches `OttlakeError` and prints its message on
one line with a non-zero exit, never a traceback, for anything a user can cause.
"""

from __future__ import annotations


class OttlakeError(Exception):
    """Base of every error ottlake raises on purpose."""

    exit_code = 1


class ConfigError(OttlakeError):
    """Settings or flags that cannot work (bad value, missing requirement)."""

    exit_code = 2


class ContractError(OttlakeError):
    """An event that violates the player-event contract."""

    def __init__(self, message: str, violations: list | None = None) -> None:
        super().__init__(message)
        self.violations = list(violations or [])


class StackError(OttlakeError):
    """The embedded AWS emulator could not be started, reached or stopped."""


class InfraError(OttlakeError):
    """Provisioning (streams, buckets, tables) failed."""


class ProducerError(OttlakeError):
    """The SDK or the simulator could not deliver events."""


class JobError(OttlakeError):
    """A batch job failed (bad input, unreadable lake, failed write)."""


class QualityGateError(OttlakeError):
    """A critical data-quality expectation failed; the stage was not published."""


class ConsumerError(OttlakeError):
    """A stream consumer (the lake sink, the live monitor, their runners) cannot go on."""


class LakeNotFound(ConfigError):
    """The lake root is not a lake: it does not exist, is a file, or has no raw zone."""


class QueryError(OttlakeError):
    """An analyst's query cannot run: a SQL error, an unknown table, a table not built yet."""


class DemoError(OttlakeError):
    """The demo ran but did not show what it is there to show (an alert that never
    fired or resolved, counts that do not add up)."""
