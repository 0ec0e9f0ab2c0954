"""Benchmarks run by `make bench` (`python -m benchmarks.run [names...]`).

Each benchmark module exposes functions `(options: BenchOptions) -> list[Measurement]`;
benchmarks/run.py names them and prints the table. Numbers go to BENCHMARKS.md
with the command that produced them and the machine it ran on.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class BenchOptions:
    """What the command line may change; each benchmark uses what applies to it."""

    events: int | None = None  # None: each benchmark's own default
    repeats: int | None = None  # None: each benchmark's own default
    endpoint_url: str | None = None  # a running emulator instead of the embedded stack
    cpu: int | None = None  # the CPU to pin single-core benchmarks to (default: the first allowed)


@dataclass(frozen=True, kw_only=True)
class Measurement:
    """One line of the table: `count` items in `seconds` (the median of the repeats)."""

    benchmark: str
    case: str
    count: int
    seconds: float
    note: str = ""

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else float("inf")
