"""Raw lines -> bronze player events, and the quarantine (DESIGN.md, lake layout).

A pure transform: DataFrames and plain parameters in, DataFrames out; the job reads
the raw zone and writes the Delta tables. Every input line ends in exactly one of
three places: bronze (valid, first copy of its event_id), the quarantine (with its
reasons), or the duplicates, and `BronzeResult.tally` proves it.

Cost: one pass over the lines, each checked by one compiled function
(contract_checks: EventCheck, in ottlake's jar; no Python per line), and the
dedup's narrow shuffles: a 64-bit hash of each id (computed in that pass), then the
copies of the repeated ids alone, ranked by event_id, to find the copies that
lose; the losers (a few per cent of the rows) are named by their row id, a long,
and anti-joined, broadcast, so the wide rows never move. A window by event_id over
the whole rows shuffled all of them (at 1M events: ~4 s of ~27), and joining the
winners back by event_id compared a string and a struct on every row (at 10M
events, a count of the events took 8 s).
Each output is lazy: writing `events` and `quarantine` as two actions parses the
input twice, unless the job stores `BronzeResult.checked` first (both are built on
it) and takes the outputs of what it stored (`BronzeResult.staged`; the job stores
them on the executors' disks: spark.stored); the raw line is kept only on the rows
that fail, so what is stored is mostly the typed columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from ottlake.errors import JobError
from schemas.contract import EVENT_FIELDS, E
from schemas.tables import EVENT_DATE, EVENT_TIME, INGEST_TS, SOURCE_OBJECT
from schemas.validate import Reason
from spark_jobs.columns import BRONZE_SCHEMA, QUARANTINE_SCHEMA, conform
from spark_jobs.transforms import contract_checks as checks
from spark_jobs.transforms.common import utc_date

# Input: one NDJSON line of a raw object, the object's key, its write time (epoch ms).
LINE = "line"
OBJECT_TS_MS = "object_ts_ms"
# The quarantine's own columns (schemas.tables.QUARANTINE).
REASON = "reason"
REASONS = "reasons"
FIELDS = "fields"
VIOLATIONS = "violations"

_TIE_BREAK = "_line_hash"
_ROW_ID = "_row_id"  # last tie-break: the same line twice in one object
_ID_HASH = "_id_hash"
_RANK = "_rank"
VALID = "_valid"


@dataclass(frozen=True)
class BronzeResult:
    """Where each line went, and the proof that it went to exactly one place.

    `checked` is every input row with its bronze columns and violations, the parent
    of both outputs: storing it (and taking `staged` outputs) makes the job parse
    the input once for both.
    `repeated` is the 64-bit hash of every event_id that occurs more than once
    among the valid rows, and `losers` the row id of every copy that loses to
    another of its event_id; both small (the run's duplicates), and broadcast:
    persisting them (after `checked`) keeps the dedup's shuffles from running again
    for the tally, the gate and the append.
    """

    events: DataFrame
    quarantine: DataFrame
    checked: DataFrame
    repeated: DataFrame
    losers: DataFrame

    def gated(self, flag: str, events: DataFrame | None = None) -> DataFrame:
        """`events` (by default this result's; or the same rows as written) as the
        bronze gate reads them: with the check column `flag` (the gate names it:
        quality.suites.EVENT_ID_HASH_REPEATS), whether the id's hash is one of `repeated`. Two rows with one event_id have one hash,
        which then repeats: so event_id is unique among all the rows exactly when it
        is unique among the flagged ones, and the gate's uniqueness window sorts
        those few instead of every id (quality.suites.BRONZE)."""
        events = self.events if events is None else events
        flags = F.broadcast(self.repeated.select(_ID_HASH, F.lit(True).alias(flag)))
        joined = events.withColumn(_ID_HASH, _id_hash(F.col(E.event_id))).join(flags, on=_ID_HASH, how="left")
        return joined.select(*events.columns, F.coalesce(F.col(flag), F.lit(False)).alias(flag))

    def staged(self, checked: DataFrame) -> BronzeResult:
        """The same outputs from `checked` as stored and read back."""
        return settle(checked)

    def tally(self, counted: Mapping[str, Any] | None = None) -> Tally:
        """Where the lines went, and what the valid ones say of time: TALLY's
        aggregates over `checked`, `counted` as the job stored it (spark.stored)
        or else in a pass of their own, and a count of
        `losers`."""
        if counted is None:
            counted = self.checked.agg(*(column.alias(name) for name, column in tally_metrics().items())).first()
        dates = (value if isinstance(value, date) else date.fromisoformat(value) for value in counted["dates"])
        return Tally(rows_in=counted["rows_in"], quarantined=counted["quarantined"], duplicates=self.losers.count(),
                     watermark_ms=counted["watermark_ms"], dates=tuple(sorted(dates)))

    def counts(self) -> dict[str, int]:
        return self.tally().counts()


def tally_metrics() -> dict[str, Column]:
    """The aggregates of checked rows a Tally is made of: the lines in, the lines
    quarantined, the largest received_ts of a valid line, its event dates."""
    valid = F.col(VALID)
    return {
        "rows_in": F.count(F.lit(1)),
        "quarantined": F.count_if(~valid),
        "watermark_ms": F.max(F.when(valid, F.col(E.received_ts))),
        "dates": F.collect_set(F.when(valid, F.col(EVENT_DATE))),
    }


@dataclass(frozen=True)
class Tally:
    """Every input line is in bronze, the quarantine or the duplicates (the copies
    beyond the first of each event_id): bronze is what is left of the other two."""

    rows_in: int
    quarantined: int
    duplicates: int
    # The largest received_ts of a valid line (a losing copy's too: the watermark,
    # qoe-metrics.md section 2), and the event dates of the valid lines.
    watermark_ms: int | None
    dates: tuple[date, ...]

    @property
    def bronze(self) -> int:
        return self.rows_in - self.quarantined - self.duplicates

    def counts(self) -> dict[str, int]:
        """rows_in, bronze, quarantined, duplicates."""
        return {"rows_in": self.rows_in, "bronze": self.bronze, "quarantined": self.quarantined,
                "duplicates": self.duplicates}


def bronze(raw_lines: DataFrame, *, ingest_ts: datetime) -> BronzeResult:
    """Validate, type and deduplicate raw NDJSON lines (`line`, `source_object`,
    `object_ts_ms`) into bronze events (BRONZE_SCHEMA) and quarantined lines
    (QUARANTINE_SCHEMA); `ingest_ts` is the run's time."""
    lines = check_lines(raw_lines, ingest_ts=ingest_ts)
    checked = lines.select(
        *lines.columns,  # the raw line only on the rows that fail: the quarantine's
        (F.size(VIOLATIONS) == 0).alias(VALID),
        F.monotonically_increasing_id().alias(_ROW_ID),
    )
    return settle(checked)


def settle(checked: DataFrame) -> BronzeResult:
    """The outputs of checked rows: the ones `bronze` computes, or the same rows
    once the job has stored them (`BronzeResult.staged`)."""
    is_valid = F.col(VALID)
    bronze_columns = [F.col(field.name) for field in BRONZE_SCHEMA.fields]
    valid = checked.filter(is_valid).select(*bronze_columns, _TIE_BREAK, _ROW_ID, _ID_HASH)
    repeated = repeated_ids(valid)
    losers = losing_copies(valid, repeated)
    events = first_copies(valid, losers)
    quarantine = checked.filter(~is_valid).transform(_quarantine_rows)
    return BronzeResult(
        events=conform(events, BRONZE_SCHEMA),
        quarantine=conform(quarantine, QUARANTINE_SCHEMA),
        checked=checked,
        repeated=repeated,
        losers=losers,
    )


def check_lines(raw_lines: DataFrame, *, ingest_ts: datetime) -> DataFrame:
    """Every input row, parsed once: the bronze columns, the raw line (only on rows
    that fail), its violations (empty when valid), and for the dedup a hash of the
    id (its first grouping) and of the line (its ties). The check is one function
    call a line (contract_checks: the contract, and player-events.md, Time:
    received_ts falls back to the raw object's write time, event_time is
    received_ts + (event_ts - sent_ts) or event_ts, the ingest window)."""
    if ingest_ts.tzinfo is None:
        raise JobError("ingest_ts must be timezone-aware (the lake's times are UTC instants)")
    checks.require(raw_lines.sparkSession)
    # The line itself goes no further than this projection (the check hands it back
    # only when it fails): every row of the next ones is that much narrower.
    checked = raw_lines.select(
        F.col(SOURCE_OBJECT),
        checks.check(F.col(LINE), F.col(OBJECT_TS_MS)).alias(_CHECK),
        F.xxhash64(LINE).alias(_TIE_BREAK),
    )
    event_time = F.timestamp_millis(_checked(checks.EVENT_TIME_MS))
    return checked.select(
        *(_checked(name).alias(name) for name in EVENT_FIELDS),
        event_time.alias(EVENT_TIME),
        utc_date(event_time).alias(EVENT_DATE),
        F.col(SOURCE_OBJECT),
        F.lit(ingest_ts).alias(INGEST_TS),
        _checked(checks.REJECTED_LINE).cast(T.StringType()).alias(LINE),
        _checked(checks.VIOLATIONS).alias(VIOLATIONS),
        F.col(_TIE_BREAK),
        _id_hash(_checked(E.event_id)).alias(_ID_HASH),
    )


_CHECK = "_check"


def _checked(name: str) -> Column:
    """A field of the line's check (EventCheck.resultType)."""
    return F.col(f"{_CHECK}.{name}")


def _in_reason_order(violations: Column) -> Column:
    """Sorted by Reason's order (the most basic first), then field."""
    order = F.array(*(F.lit(str(reason)) for reason in Reason))
    ranked = F.transform(
        violations, lambda v: F.struct(F.array_position(order, v["reason"]).alias("rank"), v["field"], v["reason"])
    )
    return F.transform(F.array_sort(F.array_distinct(ranked)), lambda v: F.struct(v["field"], v["reason"]))


def _quarantine_rows(rejected: DataFrame) -> DataFrame:
    ordered = rejected.select(LINE, SOURCE_OBJECT, INGEST_TS, _in_reason_order(F.col(VIOLATIONS)).alias(VIOLATIONS))
    violations = F.col(VIOLATIONS)
    return ordered.select(
        F.col(LINE),
        violations[0]["reason"].alias(REASON),
        F.array_distinct(F.transform(violations, lambda v: v["reason"])).alias(REASONS),
        F.array_sort(F.array_distinct(F.transform(violations, lambda v: v["field"]))).alias(FIELDS),
        violations.alias(VIOLATIONS),
        F.col(SOURCE_OBJECT),
        F.col(INGEST_TS),
    )


def _copy_order() -> list[Column]:
    """player-events.md, Delivery: the first copy by received_ts wins; equal
    received_ts fall to the raw object's key, then to a hash of the line, so that
    the same input always keeps the same copy, then to the row (the same line twice
    in one object: either copy)."""
    return [F.col(E.received_ts), F.col(SOURCE_OBJECT), F.col(_TIE_BREAK), F.col(_ROW_ID)]


def repeated_ids(events: DataFrame) -> DataFrame:
    """The 64-bit hashes (`_id_hash`, computed by check_lines) of the ids that
    occur more than once among `events`: a narrow aggregate of a long a row."""
    return events.groupBy(_ID_HASH).count().filter(F.col("count") > 1).select(_ID_HASH)


def losing_copies(events: DataFrame, repeated: DataFrame) -> DataFrame:
    """The row id (`_row_id`) of every copy that loses to another of its event_id.

    In two steps, so that the shuffle that sees every row is as narrow as it can
    be: the hashes of the ids that occur more than once (`repeated`, from
    repeated_ids), then the copies of those ids alone (a few per cent of the rows;
    a hash shared by two different ids only brings both in), ranked by event_id.
    Grouping every row by (id, order key) at once moved ~140 bytes a row."""
    # Broadcast: a stored frame (ShuffleStage) has no size estimate to go by.
    copies = events.join(F.broadcast(repeated), on=_ID_HASH, how="left_semi")
    rank = F.row_number().over(Window.partitionBy(E.event_id).orderBy(*_copy_order()))
    return copies.select(_ROW_ID, rank.alias(_RANK)).filter(F.col(_RANK) > 1).select(_ROW_ID)


def _id_hash(event_id: Column) -> Column:
    """The dedup's first grouping key: ids that share it are told apart by the second."""
    return F.xxhash64(event_id)


def first_copies(events: DataFrame, losers: DataFrame) -> DataFrame:
    """`events` without the copies that lose (`losers`, from losing_copies), by row
    id. `losers` is broadcast: the wide rows are never shuffled. (Its size is
    bounded by the run's duplicate copies, a long each: ten million of them is
    ~160 MB on a 8 GiB driver.)"""
    return (
        events.join(F.broadcast(losers), on=_ROW_ID, how="left_anti")
        .drop(_TIE_BREAK, _ROW_ID, _ID_HASH)
    )
