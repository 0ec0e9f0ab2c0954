"""The gates' expectation suites, one per stage, written as data.

Each suite is a list of great-expectations expectations over the frame a stage is
about to publish, each marked `critical` (a failure stops the stage before its
table is written, and every stage after it) or `warning` (reported and kept).
Where a rule relates several columns (a sum of parts, a clock offset), the suite
names a check column computed from the frame's own columns, so that the rule is
still one plain expectation and shows as such in Data Docs.

A job that knows a check column's value more cheaply than the suite's formula
hands it in its frame, and the suite then reads that (quality.gate: a check
column the frame already has is kept): bronze's EVENT_ID_HASH_REPEATS.

Thresholds that come from settings are GX suite parameters (`$PARAMETER`), given
at each run: the suite stays the same text whatever the configuration.

Rules cite their source: player-events.md (the contract) and qoe-metrics.md
(sessions and aggregates), both under shared/spec/.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pyspark.sql import Column
from pyspark.sql import functions as F

from schemas.contract import (
    CONTENT_TYPES,
    DEVICE_TYPES,
    ERROR_CATEGORIES,
    EVENT_TYPES,
    LIMITS,
    REQUIRED_FIELDS,
    SCHEMA_VERSION,
    E,
)
from schemas.sessions import StartOutcome
from schemas.tables import EVENT_TIME, PS, QOE, QOE_DIMENSIONS, VS

if TYPE_CHECKING:
    from great_expectations.expectations import Expectation

Severity = Literal["critical", "warning"]
CRITICAL: Severity = "critical"
WARNING: Severity = "warning"

# The raw gate's threshold: settings.quality_max_quarantine_share, given per run.
MAX_QUARANTINE_SHARE = "max_quarantine_share"

# Columns of the frames built for the gates (quality.frames): the raw gate's run
# counts, the stacked aggregates, and the aggregates' totals against the sessions.
ROWS_IN, BRONZE_ROWS, QUARANTINED, DUPLICATES = "rows_in", "bronze", "quarantined", "duplicates"
QUARANTINE_SHARE = "quarantine_share"
GATED_QUARANTINE_SHARE = "gated_quarantine_share"
MIN_LINES_FOR_SHARE = 1_000
UNACCOUNTED = "unaccounted_lines"
GRAIN, PERIOD = "grain", "period"
TOTALS: tuple[str, ...] = tuple(map(str, (QOE.sessions, QOE.watch_time_ms, QOE.play_time_ms,
                                         QOE.rebuffer_time_ms, QOE.rebuffer_count)))


def difference(column: str) -> str:
    """The totals frame's column: aggregates' sum minus the play sessions' sum."""
    return f"{column}_difference"


@dataclass(frozen=True)
class Suite:
    """One gate: its expectations, and the check columns they read.

    `expectations` builds fresh objects on each call (a GX expectation belongs to
    one suite, and each run's context holds its own suites)."""

    name: str
    stage: str
    about: str
    expectations: Callable[[], list[Expectation]]
    checks: Mapping[str, Callable[[], Column]] = field(default_factory=dict)


def _gx() -> Any:
    # great-expectations takes about 1.5 s to import: only when a gate runs.
    from great_expectations import expectations

    return expectations


# --- raw: the run's accounting (player-events.md, Delivery; settings) -----------------


def _raw() -> list[Expectation]:
    gxe = _gx()
    return [
        gxe.ExpectColumnMaxToBeBetween(
            column=GATED_QUARANTINE_SHARE, max_value={"$PARAMETER": MAX_QUARANTINE_SHARE}, severity=CRITICAL,
            notes=f"a flood of bad lines means a broken producer: stop before publishing "
                  f"(runs of {MIN_LINES_FOR_SHARE:,} lines or more)",
        ),
        gxe.ExpectColumnSumToBeBetween(
            column=UNACCOUNTED, min_value=0, max_value=0, severity=CRITICAL,
            notes="every raw line is in bronze, the quarantine or the duplicates",
        ),
    ]


def _gated_quarantine_share() -> Column:
    # A share of a small run says little (3 bad lines of 5 are a test, not a flood).
    return F.when(F.col(ROWS_IN) >= MIN_LINES_FOR_SHARE, F.col(QUARANTINE_SHARE)).otherwise(F.lit(0.0))


def _unaccounted() -> Column:
    return F.col(ROWS_IN) - (F.col(BRONZE_ROWS) + F.col(QUARANTINED) + F.col(DUPLICATES))


# --- bronze: the events bronze is about to write (player-events.md) ------------------

_EPOCH_2015_MS = 1_420_070_400_000  # no player of this platform ran before it
# Whether a row's event_id may repeat: True unless the job knows that no other row
# shares the id's 64-bit hash (then no other row shares the id). Bronze hands it in
# from its dedup, so the uniqueness window sorts the few ids whose hash repeats
# instead of every id; by itself the suite checks every row.
EVENT_ID_HASH_REPEATS = "event_id_hash_repeats"


def _bronze() -> list[Expectation]:
    gxe = _gx()
    from great_expectations.expectations.row_conditions import Column as Where

    return [
        gxe.ExpectColumnValuesToBeUnique(
            column=str(E.event_id), row_condition=Where(EVENT_ID_HASH_REPEATS) == True,  # noqa: E712 - GX condition
            severity=CRITICAL,
            notes="the dedup key (Delivery); ids whose 64-bit hash occurs once are unique, the rest are checked",
        ),
        *(gxe.ExpectColumnValuesToNotBeNull(column=name, severity=CRITICAL)
          for name in (*REQUIRED_FIELDS, str(E.received_ts), EVENT_TIME)),
        gxe.ExpectColumnValuesToBeInSet(column=str(E.schema_version), value_set=[SCHEMA_VERSION], severity=CRITICAL),
        gxe.ExpectColumnValuesToBeInSet(column=str(E.event_type), value_set=list(EVENT_TYPES), severity=CRITICAL),
        gxe.ExpectColumnValuesToBeInSet(column=str(E.content_type), value_set=list(CONTENT_TYPES), severity=CRITICAL),
        gxe.ExpectColumnValuesToBeInSet(column=str(E.device_type), value_set=list(DEVICE_TYPES), severity=CRITICAL),
        gxe.ExpectColumnValuesToBeInSet(column=str(E.error_category), value_set=list(ERROR_CATEGORIES),
                                        severity=CRITICAL),
        gxe.ExpectColumnValuesToBeBetween(column=str(E.seq), min_value=0, severity=CRITICAL),
        gxe.ExpectColumnValuesToBeBetween(
            column="received_minus_event_time_ms", min_value=-LIMITS.future_tolerance_ms,
            max_value=LIMITS.max_lateness_ms, severity=CRITICAL,
            notes="Time: ingest quarantines a derived time 5 min ahead of or 72 h behind received_ts",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column=str(E.event_ts), min_value=_EPOCH_2015_MS, severity=WARNING,
            notes="a device clock before 2015 is wrong; event_time corrects it when sent_ts is present",
        ),
    ]


def _received_minus_event_time() -> Column:
    return F.col(E.received_ts) - F.unix_millis(F.col(EVENT_TIME))


# --- play sessions (qoe-metrics.md section 2) -------------------------------------------

TIME_COLUMNS: tuple[str, ...] = tuple(map(str, (PS.startup_time_ms, PS.play_time_ms, PS.ad_time_ms,
                                                 PS.rebuffer_time_ms, PS.seek_time_ms, PS.pause_time_ms,
                                                 PS.watch_time_ms, PS.bitrate_play_ms)))
# §2 (clarified 2026-12-07): watch time = time in `starting` + these; the time in
# starting has no column of its own (startup_time_ms is null without a first frame).
WATCH_PARTS: tuple[str, ...] = (PS.play_time_ms, PS.ad_time_ms, PS.rebuffer_time_ms, PS.seek_time_ms)
TIME_IN_STARTING = "watch_time_minus_play_ad_rebuffer_seek_ms"
STARTED_STARTING_MINUS_STARTUP = "started_time_in_starting_minus_startup_ms"


def _play_sessions() -> list[Expectation]:
    gxe = _gx()
    return [
        gxe.ExpectColumnValuesToBeUnique(column=str(PS.play_session_id), severity=CRITICAL,
                                         notes="one row per play session: the MERGE key"),
        *(gxe.ExpectColumnValuesToBeBetween(column=name, min_value=0, severity=CRITICAL) for name in TIME_COLUMNS),
        gxe.ExpectColumnValuesToBeBetween(column=TIME_IN_STARTING, min_value=0, severity=CRITICAL,
                                          notes="watch = time in starting + play + ad + rebuffer + seek"),
        gxe.ExpectColumnValuesToBeBetween(column=STARTED_STARTING_MINUS_STARTUP, min_value=0, max_value=0,
                                          severity=CRITICAL,
                                          notes="a started session's time in starting is its startup time"),
        gxe.ExpectColumnValuesToBeBetween(column=str(PS.rebuffer_ratio), min_value=0, max_value=1, severity=CRITICAL),
        gxe.ExpectColumnValuesToBeInSet(column=str(PS.start_outcome), value_set=[str(o) for o in StartOutcome],
                                        severity=CRITICAL),
        gxe.ExpectColumnValuesToBeNull(column="startup_time_without_first_frame_ms", severity=CRITICAL,
                                       notes="no first frame (start_outcome not started), no startup time"),
        gxe.ExpectColumnValuesToBeBetween(column="end_minus_start_ms", min_value=0, severity=CRITICAL),
        gxe.ExpectColumnValuesToBeBetween(column=str(PS.event_count), min_value=1, severity=CRITICAL),
        gxe.ExpectColumnValuesToBeBetween(column=str(PS.percent_complete), min_value=0, max_value=1, severity=WARNING),
    ]


def _minus(a: Column, b: Column) -> Column:
    return a - b


def _startup_without_first_frame() -> Column:
    """startup_time_ms of a session with no first frame (section 2: it must be null)."""
    return F.when(F.col(PS.start_outcome) != str(StartOutcome.started), F.col(PS.startup_time_ms))


def _time_in_starting() -> Column:
    """Watch time less its parts that have columns: the time spent in `starting`."""
    total = F.col(WATCH_PARTS[0])
    for name in WATCH_PARTS[1:]:
        total = total + F.col(name)
    return F.col(PS.watch_time_ms) - total


def _started_starting_minus_startup() -> Column:
    """A started session went through `starting` only before its first frame (§1), so
    that time is its startup_time_ms (null, and 0 s in starting, without a play_request
    before the frame); null for the others, which the expectation skips."""
    started = F.col(PS.start_outcome) == str(StartOutcome.started)
    return F.when(started, _time_in_starting() - F.coalesce(F.col(PS.startup_time_ms), F.lit(0)))


# --- viewer sessions (qoe-metrics.md section 3) -----------------------------------------


def _viewer_sessions() -> list[Expectation]:
    gxe = _gx()
    return [
        gxe.ExpectColumnValuesToBeUnique(column=str(VS.viewer_session_id), severity=CRITICAL),
        gxe.ExpectColumnValuesToNotBeNull(column=str(VS.viewer_id), severity=CRITICAL),
        gxe.ExpectColumnValuesToBeBetween(column=str(VS.play_sessions), min_value=1, severity=CRITICAL),
        gxe.ExpectColumnValuesToBeBetween(column=str(VS.watch_time_ms), min_value=0, severity=CRITICAL),
        gxe.ExpectColumnValuesToBeBetween(column="end_minus_start_ms", min_value=0, severity=CRITICAL),
        gxe.ExpectColumnValuesToMatchRegex(column=str(VS.viewer_session_id), regex=r"^.+:-?[0-9]+$", severity=WARNING,
                                           notes="viewer_id, ':', epoch ms of the first start_time"),
    ]


# --- aggregates (qoe-metrics.md section 4), hourly and daily stacked ------------------

RATES: tuple[str, ...] = tuple(map(str, (QOE.start_failure_rate, QOE.exit_before_start_rate,
                                        QOE.playback_failure_rate, QOE.rebuffer_ratio)))


def _qoe_aggregates() -> list[Expectation]:
    gxe = _gx()
    return [
        gxe.ExpectCompoundColumnsToBeUnique(column_list=[GRAIN, PERIOD, *map(str, QOE_DIMENSIONS)], severity=CRITICAL,
                                            notes="one row per period and group: the MERGE key"),
        *(gxe.ExpectColumnValuesToBeBetween(column=name, min_value=0, max_value=1, severity=CRITICAL)
          for name in RATES),
        gxe.ExpectColumnValuesToBeBetween(column="attempts_minus_outcomes", min_value=0, max_value=0,
                                          severity=CRITICAL,
                                          notes="attempts = starts + start_failures + exits_before_start"),
        gxe.ExpectColumnValuesToBeBetween(column=str(QOE.sessions), min_value=1, severity=CRITICAL),
        gxe.ExpectColumnValuesToBeBetween(column="sessions_minus_attempts", min_value=0, severity=CRITICAL),
        gxe.ExpectColumnValuesToBeBetween(column="sessions_minus_unique_viewers", min_value=0, severity=WARNING),
        gxe.ExpectColumnValuesToBeBetween(column=str(QOE.rebuffers_per_minute), min_value=0, severity=WARNING),
    ]


def _attempts_minus_outcomes() -> Column:
    outcomes = F.col(QOE.starts) + F.col(QOE.start_failures) + F.col(QOE.exits_before_start)
    return F.col(QOE.attempts) - outcomes


def _qoe_totals() -> list[Expectation]:
    gxe = _gx()
    return [
        gxe.ExpectColumnValuesToBeBetween(column=difference(name), min_value=0, max_value=0, severity=CRITICAL,
                                          notes="sums across groups = the play sessions' sums for the period")
        for name in TOTALS
    ]


RAW = Suite("raw", "bronze", "the run's lines: quarantine share and accounting", _raw,
            {GATED_QUARANTINE_SHARE: _gated_quarantine_share, UNACCOUNTED: _unaccounted})
BRONZE = Suite("bronze", "bronze", "the events bronze is about to merge", _bronze,
               {"received_minus_event_time_ms": _received_minus_event_time,
                EVENT_ID_HASH_REPEATS: lambda: F.lit(True)})
PLAY_SESSIONS = Suite("play_sessions", "sessions", "the play sessions recomputed by this run", _play_sessions,
                      {TIME_IN_STARTING: _time_in_starting,
                       STARTED_STARTING_MINUS_STARTUP: _started_starting_minus_startup,
                       "startup_time_without_first_frame_ms": _startup_without_first_frame,
                       "end_minus_start_ms": lambda: _minus(F.unix_millis(PS.end_time), F.unix_millis(PS.start_time))})
VIEWER_SESSIONS = Suite("viewer_sessions", "viewer_sessions", "the viewer sessions recomputed by this run",
                        _viewer_sessions,
                        {"end_minus_start_ms": lambda: _minus(F.unix_millis(VS.end_time), F.unix_millis(VS.start_time))})
QOE_AGGREGATES = Suite("qoe_aggregates", "aggregates", "the hourly and daily groups recomputed by this run",
                       _qoe_aggregates,
                       {"attempts_minus_outcomes": _attempts_minus_outcomes,
                        "sessions_minus_attempts": lambda: _minus(F.col(QOE.sessions), F.col(QOE.attempts)),
                        "sessions_minus_unique_viewers": lambda: _minus(F.col(QOE.sessions), F.col(QOE.unique_viewers))})
QOE_TOTALS = Suite("qoe_totals", "aggregates", "the recomputed periods' sums against the play sessions'",
                   _qoe_totals)

SUITES: dict[str, Suite] = {suite.name: suite for suite in
                            (RAW, BRONZE, PLAY_SESSIONS, VIEWER_SESSIONS, QOE_AGGREGATES, QOE_TOTALS)}
