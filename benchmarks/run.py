"""Entry point of `make bench`: `python -m benchmarks.run [names...] [options]`.

Benchmarks are named here and imported only when selected, so one whose
extras are missing does not stop the others.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
from collections.abc import Callable, Sequence

from rich.console import Console
from rich.table import Table

from benchmarks import BenchOptions, Measurement

# name -> "module:function"; the function takes BenchOptions, returns Measurements.
BENCHMARKS: dict[str, str] = {
    "sdk-throughput": "benchmarks.sdk_bench:throughput",
    "sdk-kinesis": "benchmarks.sdk_bench:kinesis",
    "batch": "benchmarks.batch_bench:batch",
    "incremental": "benchmarks.batch_bench:incremental",
    "runner": "benchmarks.batch_bench:runner",
    "collector": "benchmarks.collector_bench:collector",
}


def resolve(name: str) -> Callable[[BenchOptions], list[Measurement]]:
    module_name, function_name = BENCHMARKS[name].split(":")
    return getattr(importlib.import_module(module_name), function_name)


def table(measurements: Sequence[Measurement]) -> Table:
    out = Table(title="ottlake benchmarks")
    for column, justify in (("benchmark", "left"), ("case", "left"), ("count", "right"),
                            ("seconds", "right"), ("per second", "right"), ("note", "left")):
        out.add_column(column, justify=justify)  # type: ignore[arg-type]
    for m in measurements:
        out.add_row(m.benchmark, m.case, f"{m.count:,}", f"{m.seconds:.3f}", f"{m.rate:,.0f}", m.note)
    return out


def counts(text: str) -> list[int]:
    """`--events`: one count, or several separated by commas (each runs on its own)."""
    try:
        values = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a count or a comma-separated list of counts: {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"counts must be positive: {text!r}")
    return values


def parse(argv: Sequence[str]) -> tuple[list[str], list[BenchOptions]]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="name", help=f"some of: {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--events", type=counts,
                        help="events per case, or a comma-separated list run one after another (default: per benchmark)")
    parser.add_argument("--repeats", type=int, help="runs per case, the median is reported (default: per benchmark)")
    parser.add_argument("--endpoint-url", help="a running Kinesis emulator to use instead of the embedded stack")
    parser.add_argument("--cpu", type=int, help="the CPU single-core benchmarks are pinned to")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    options = BenchOptions(
        repeats=None if args.repeats is None else max(1, args.repeats),
        endpoint_url=args.endpoint_url,
        cpu=args.cpu,
    )
    sizes: list[int | None] = list(args.events) if args.events else [None]
    return args.names or list(BENCHMARKS), [dataclasses.replace(options, events=size) for size in sizes]


def main(argv: Sequence[str] | None = None) -> int:
    names, each_options = parse(sys.argv[1:] if argv is None else argv)
    # Piped to a file (BENCHMARKS.md), rich would squeeze the table into 80 columns.
    console = Console() if sys.stdout.isatty() else Console(width=160)
    measurements: list[Measurement] = []
    for name in names:
        for options in each_options:
            size = "" if options.events is None else f" ({options.events:,} events)"
            with console.status(f"running {name}{size}"):
                measurements.extend(resolve(name)(options))
    console.print(table(measurements))
    return 0


if __name__ == "__main__":
    sys.exit(main())
