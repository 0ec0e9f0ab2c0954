"""The player-event contract and ingest's time window, checked line by line in the JVM.

`schemas/player_event.schema.json` is the only place the rules live, and
`schemas.validate` the only place their reason codes do. This module hands both, as
one JSON rulebook, to EventCheck (spark_jobs/java/io/ottlake/spark/EventCheck.java,
in ottlake's jar), which walks the schema once and then checks each raw line in one
pass of Jackson's streaming parser: the typed fields, the unknown fields moved into
`custom`, and every (field, reason) the line breaks, the same ones the Python
validator reports (an agreement test runs both over one table of vectors and over
random events: tests/unit/test_bronze_contract.py). A keyword EventCheck has no rule
for fails `register`, so a rule is never silently left unenforced. The same pass
applies player-events.md, Time (the window ingest decides on the server's clock,
which the Python validator cannot), with the limits of the schema's x-limits.

Why one compiled pass. Before it, the rules were Spark column expressions over a
typed `from_json` of the line, with exact views (VARIANTs, the key list) for the
lines the typed parse could have misread: a typed parse turns a wrong-typed value
into null and a number in a string field into its text. Those expressions were
evaluated row by row (too many to compile whole-stage) and cost several times the
parse itself; the streaming parser sees each value's JSON kind as it reads it, so a
line is read once and every rule is a test on what was read (BENCHMARKS.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F

from schemas.contract import LIMITS, E, event_schema
from schemas.validate import DEFAULT_REASON, FIELD_REASONS, KEYWORD_REASONS, Reason
from spark_jobs.spark import require_function

# Registered by io.ottlake.spark.OttlakeExtensions (spark.sql.extensions).
CHECK_FUNCTION = "ottlake_event_check"

WHOLE_FIELD = ""  # the `field` of a violation about the whole event, as in schemas.validate
# What the check returns (EventCheck.resultType), read by name: every contract field,
# typed (null when absent or not of its type; custom with the unknown fields in it;
# received_ts filled from the raw object's time), then these three.
EVENT_TIME_MS = "event_time_ms"
VIOLATIONS = "violations"
REJECTED_LINE = "rejected_line"

# Python's datetime (hence pandas and DuckDB's Python API) ends at 9999-12-31: an
# event_time beyond it could be written but not read back by the lake's users.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_EVENT_TIME_MS = (datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC) - _EPOCH) // timedelta(milliseconds=1)
MIN_EVENT_TIME_MS = (datetime(1, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(milliseconds=1)


def rulebook(schema: Mapping[str, Any] | None = None) -> str:
    """The rules EventCheck applies, as JSON: the contract's schema (or `schema`) and
    the reason of each keyword, from schemas.validate's tables."""
    field_reasons: dict[str, dict[str, str]] = {}
    for (field, keyword), reason in FIELD_REASONS.items():
        field_reasons.setdefault(field, {})[keyword] = str(reason)
    return json.dumps({
        "schema": event_schema() if schema is None else schema,
        "keyword_reasons": {keyword: str(reason) for keyword, reason in KEYWORD_REASONS.items()},
        "field_reasons": field_reasons,
        "default_reason": str(DEFAULT_REASON),
        "reasons": {
            "malformed": str(Reason.malformed_json),
            "not_an_object": str(Reason.not_an_object),
            "too_large": str(Reason.event_too_large),
            "missing": str(Reason.missing_field),
            # player-events.md, Envelope: an unknown field whose key custom already has
            # would overwrite one of the two values; quarantined instead.
            "collision": str(Reason.invalid_value),
        },
        # player-events.md, Time: a derived time more than 5 minutes after received_ts
        # or more than 72 hours before it is quarantined at ingest (EventCheck.TimeRules).
        "time": {
            "event_ts": E.event_ts,
            "sent_ts": E.sent_ts,
            "received_ts": E.received_ts,
            "future_tolerance_ms": LIMITS.future_tolerance_ms,
            "max_lateness_ms": LIMITS.max_lateness_ms,
            "min_event_time_ms": MIN_EVENT_TIME_MS,
            "max_event_time_ms": MAX_EVENT_TIME_MS,
            "future": str(Reason.future_timestamp),
            "late": str(Reason.too_late),
            "unreadable": str(Reason.out_of_range),
        },
    })


def require(spark: SparkSession, *, schema: Mapping[str, Any] | None = None) -> None:
    """JobError when `spark` lacks ottlake's check (its jar or extension is missing),
    or when EventCheck refuses the rulebook of `schema` (the contract's by default):
    a keyword it has no rule for, for example. The check compiles a rulebook once a
    JVM, when a query using it is analysed; this analyses one."""
    from pyspark.errors import PySparkException

    from ottlake.errors import JobError

    require_function(spark, CHECK_FUNCTION)
    try:
        spark.range(0).select(check(F.lit(None).cast("string"), F.lit(None).cast("long"), schema=schema)).schema
    except PySparkException as exc:
        raise JobError(f"EventCheck: {_cause(exc)}") from None


def _cause(exc: BaseException) -> str:
    """The refusal's own line, out of Spark's wrapping of the builder's exception."""
    text = str(exc)
    marker = "IllegalArgumentException: "
    line = text[text.index(marker) + len(marker):] if marker in text else text
    return line.strip().splitlines()[0]


def check(line: Column, object_ts_ms: Column, *, schema: Mapping[str, Any] | None = None) -> Column:
    """The check of each NDJSON line in `line`, from a raw object written at
    `object_ts_ms` (epoch ms), against the contract (or `schema`)."""
    return F.call_function(CHECK_FUNCTION, line, object_ts_ms, F.lit(rulebook(schema)))
