"""What every job entry point shares: arguments, the session, the report."""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from ottlake.errors import ConfigError, OttlakeError

if TYPE_CHECKING:
    from quality.gate import GateOutcome


@dataclass(frozen=True)
class Window:
    """Arrival hours [start, end) of the raw objects a run takes; open ends allowed."""

    start: datetime | None = None
    end: datetime | None = None

    @classmethod
    def parse(cls, text: str | None) -> Window:
        """`START/END` in ISO 8601 (UTC), either side may be empty: `2026-11-24T00/2026-11-24T06`;
        or one side a duration in days and hours, ISO 8601's `PnDTnH` (`PT25H/2026-11-25T01:00:00Z`:
        the 25 hours before, as a schedule names its own time: emr.schedule)."""
        if not text:
            return cls()
        if "/" not in text:
            raise ConfigError(f"window {text!r}: expected START/END, e.g. 2026-11-24T00/2026-11-24T06")
        start_text, end_text = text.split("/", 1)
        try:
            start = _instant(start_text)
            end = _instant(end_text)
            if isinstance(start, timedelta) and isinstance(end, datetime):
                start = end - start
            elif isinstance(end, timedelta) and isinstance(start, datetime):
                end = start + end
            elif isinstance(start, timedelta) or isinstance(end, timedelta):
                raise ValueError("a duration needs a date-time on the other side")
        except ValueError as exc:
            raise ConfigError(f"window {text!r}: {exc}") from None
        start, end = (_naive_utc(start), _naive_utc(end))
        if start and end and end <= start:
            raise ConfigError(f"window {text!r}: the end must be after the start")
        return cls(start, end)


_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?)?")


def _instant(text: str) -> datetime | timedelta | None:
    """A window's side: empty, an ISO 8601 date-time, or a duration `PnDTnH`."""
    if not text:
        return None
    if text.startswith("P"):
        match = _DURATION.fullmatch(text)
        if not match or not any(match.groups()):
            raise ValueError(f"{text!r} is not a duration of days and hours (PnDTnH)")
        return timedelta(days=int(match.group(1) or 0), hours=int(match.group(2) or 0))
    return datetime.fromisoformat(text)


@dataclass(frozen=True)
class Bounds:
    """How far back a run looks, so that its cost follows its new data, not the lake's age.

    `raw_lookback`: bronze lists the raw zone's hours from the newest hour it has
    consumed less this (Firehose and the lake sink name objects by arrival time, so
    new objects land in recent hours; a writer that delivers late, a sink back from an
    outage, lands a little behind). An object that lands further back is not taken:
    the run warns with their count (it looks one more lookback back for them), and
    `--window` takes them. `session_span`: the longest play session the data allows;
    the sessions, viewer sessions and aggregates read bronze and the silver tables only
    in the partitions within it of the dates that changed (a session found at the edge
    of what was read widens it)."""

    raw_lookback: timedelta = timedelta(hours=6)
    session_span: timedelta = timedelta(hours=48)

    @classmethod
    def of(cls, settings: Any) -> Bounds:
        """From the settings (OTTLAKE_RAW_LOOKBACK_HOURS, OTTLAKE_MAX_SESSION_HOURS)."""
        return cls(timedelta(hours=settings.raw_lookback_hours), timedelta(hours=settings.max_session_hours))

    @property
    def span_days(self) -> int:
        """session_span in whole days, rounded up: what a partition range is widened by."""
        return -(-self.session_span // timedelta(days=1))


Days = tuple[date, date]  # [first, last], both included


def within_span(first: date, last: date, bounds: Bounds) -> Days:
    """The partitions that sessions of dates [first, last] can reach: widened by the
    longest session each way."""
    return first - timedelta(days=bounds.span_days), last + timedelta(days=bounds.span_days)


def widened(compute: Callable[[Days], Any], around: Days, bounds: Bounds, *, start: str, end: str) -> tuple[Any, Days]:
    """`compute(around)`, a frame of spans (its `start` and `end` timestamps) built from
    the partitions `around`, persisted; widened by the longest session on a side where
    a span comes within the session gap (30 minutes) of the range's edge, which it may
    cross: until none does (there are no rows beyond the lake's first and last days,
    so this ends)."""
    from pyspark.sql import functions as F

    from schemas.sessions import SESSION_GAP

    while True:
        frame = compute(around).persist()
        low = datetime.combine(around[0], time(), tzinfo=UTC) + SESSION_GAP
        high = datetime.combine(around[1] + timedelta(days=1), time(), tzinfo=UTC) - SESSION_GAP
        early = frame.where(F.col(start) < F.lit(low)).limit(1).count() > 0
        late = frame.where(F.col(end) > F.lit(high)).limit(1).count() > 0
        if not (early or late):
            return frame, around
        frame.unpersist()
        step = timedelta(days=bounds.span_days)
        around = (around[0] - step if early else around[0], around[1] + step if late else around[1])


@dataclass(frozen=True)
class DateRange:
    """UTC session dates [first, last], both included: what `--recompute` rebuilds."""

    first: date
    last: date

    @classmethod
    def parse(cls, text: str | None) -> DateRange | None:
        """`FROM/TO` in ISO dates, `2026-03-01/2026-03-07`; a single date is FROM/FROM."""
        if not text:
            return None
        first_text, _, last_text = text.partition("/")
        try:
            first = date.fromisoformat(first_text.strip())
            last = date.fromisoformat((last_text or first_text).strip())
        except ValueError as exc:
            raise ConfigError(f"recompute range {text!r}: {exc} (expected FROM/TO, e.g. 2026-03-01/2026-03-07)"
                              ) from None
        if last < first:
            raise ConfigError(f"recompute range {text!r}: TO is before FROM")
        return cls(first, last)

    @property
    def dates(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def frame(self, spark: Any, column: str) -> Any:
        """The dates as a one-column frame named `column`."""
        from pyspark.sql import functions as F

        return spark.range(1).select(
            F.explode(F.sequence(F.lit(self.first), F.lit(self.last))).alias(column))

    def hours_frame(self, spark: Any, column: str) -> Any:
        """Every UTC hour of the dates as a one-column frame of timestamps named
        `column` (from epoch seconds: the same instants whatever the session's zone)."""
        from datetime import UTC

        from pyspark.sql import functions as F

        first = int(datetime(self.first.year, self.first.month, self.first.day, tzinfo=UTC).timestamp())
        hours = 24 * len(self.dates)
        return spark.range(hours).select((F.lit(first) + F.col("id") * 3600).cast("timestamp").alias(column))

    def __str__(self) -> str:
        return f"{self.first.isoformat()}/{self.last.isoformat()}"


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value
    from datetime import UTC

    return value.astimezone(UTC).replace(tzinfo=None)


@dataclass
class StageReport:
    stage: str
    counts: dict[str, int] = field(default_factory=dict)
    note: str = ""
    # What the stage's quality gates cost it (quality.gate.GateOutcome.seconds,
    # summed), and the warnings they reported and kept: one line each.
    gate_seconds: float = 0.0
    gate_warnings: list[str] = field(default_factory=list)
    # What the stage saw that a user must know and the data did not fail on.
    warnings: list[str] = field(default_factory=list)

    def add_gate(self, outcome: GateOutcome) -> None:
        self.gate_seconds += outcome.seconds
        self.gate_warnings += [f"{outcome.suite}: {warning.describe()}" for warning in outcome.warnings]


def job_arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--lake", required=True, help="lake root: a folder or s3://bucket/prefix")
    parser.add_argument("--window", default=None, help="arrival hours START/END of the raw objects to take (UTC)")
    parser.add_argument("--recompute", default=None,
                        help="session dates FROM/TO (UTC) to rebuild from bronze; not for bronze itself")
    parser.add_argument("--mode", choices=("local", "emr"), default="local", help="where the SparkSession runs")
    return parser


def run_job(argv: Sequence[str] | None, description: str, job: Callable[..., StageReport]) -> int:
    """Parse, build the session, run `job(spark, lake, window=..., gates=...)`, print
    its report (gate warnings on stderr).

    Errors a user or the data can cause (a failed quality gate among them) end as
    one line on stderr and exit 1."""
    from ottlake import lakes
    from ottlake.settings import Settings
    from quality.gate import GateRun, recorded
    from spark_jobs.spark import build_session

    args = job_arguments(description).parse_args(list(argv) if argv is not None else None)
    name = job.__module__.rsplit(".", 1)[-1]
    try:
        settings = Settings.load(lake=args.lake)
        gates = GateRun.new(max_quarantine_share=settings.quality_max_quarantine_share)
        lake = settings.lake_layout()
        window = Window.parse(args.window)
        dates = DateRange.parse(args.recompute)
        options = {} if dates is None else {"recompute": dates}
        if dates is not None and "recompute" not in inspect.signature(job).parameters:
            raise ConfigError(f"--recompute: the {name} job does not recompute (it takes raw objects)")
        options["bounds"] = Bounds.of(settings)
        spark = build_session(args.mode, app_name=f"ottlake-{name}")
        lakes.require(lake)
        gates.prepare(lake)
        with recorded(spark, gates):
            report = job(spark, lake, window=window, gates=gates, **options)
    except OttlakeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{report.stage}: " + ", ".join(f"{k}={v}" for k, v in report.counts.items()) + (
        f" ({report.note})" if report.note else ""))
    for warning in [*report.warnings, *report.gate_warnings]:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def distinct_values(frame: Any, column: str) -> list[Any]:
    """The distinct values of a (small) column, on the driver."""
    return [row[0] for row in frame.select(column).distinct().collect()]


def utc_now() -> datetime:
    """Now, as the naive UTC datetime Spark's TimestampType takes in a UTC session."""
    from datetime import UTC

    return datetime.now(UTC).replace(tzinfo=None)
