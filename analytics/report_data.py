"""The QoE report's numbers for one UTC date, read from the lake with DuckDB through
delta-rs (analytics.sql): no JVM.

Everything but the gates comes from the day's play sessions (`session_date`, the
UTC date of their start), with the definitions of qoe-metrics.md section 4:
percentiles over the non-null `startup_time_ms`; the rebuffer ratio as the sum of
rebuffer time over the sum of watch time; the outcomes counted by
`start_outcome`. Percentiles cannot be merged across the aggregates' groups, so
the sessions are read rather than `qoe_hourly`; the sums per hour and CDN equal
`qoe_hourly`'s (a test holds them to it).

The incident: the lake keeps no alerts (the monitor sends them to a webhook and
keeps its state in the live table), so the report replays the monitor's alert
rules (consumers/monitor/alerts.toml, or OTTLAKE_ALERT_RULES) over the day's
sessions, minute by minute: a rule fires in a minute when its metric over the
sessions that started in its last `windows` minutes breaches its threshold and
its volume gates pass (`min_attempts` summed; `min_active_sessions` as the mean
count of sessions in play per minute). The minutes a rule fired, merged into
periods, are the day's incidents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from analytics.sql import LakeQuery
from ottlake.errors import QueryError

# The rules' metrics, over a set of sessions (qoe-metrics.md section 4).
_ATTEMPTS = "count(*) FILTER (WHERE start_outcome IN ('started', 'start_failure', 'exit_before_start'))"
METRIC_SQL: dict[str, str] = {
    "rebuffer_ratio": "sum(rebuffer_time_ms) / nullif(sum(watch_time_ms), 0)",
    "start_failure_rate": f"count(*) FILTER (WHERE start_outcome = 'start_failure') / nullif({_ATTEMPTS}, 0)",
    "exit_before_start_rate": f"count(*) FILTER (WHERE start_outcome = 'exit_before_start') / nullif({_ATTEMPTS}, 0)",
    "playback_failure_rate": (f"(count(*) FILTER (WHERE start_outcome = 'start_failure') "
                              f"+ count(*) FILTER (WHERE playback_failure)) / nullif({_ATTEMPTS}, 0)"),
    "rebuffers_per_minute": "sum(rebuffer_count) / nullif(sum(watch_time_ms) / 60000.0, 0)",
    "avg_bitrate_kbps": "sum(played_kbits) * 1000 / nullif(sum(bitrate_play_ms), 0)",
    "startup_time_p50_ms": "quantile_cont(startup_time_ms, 0.5)",
    "startup_time_p95_ms": "quantile_cont(startup_time_ms, 0.95)",
}
SERIES_BY = ("all", "cdn", "device_type", "content_id")
_OPS = {">": ">", ">=": ">=", "<": "<", "<=": "<="}
TOP_TITLES = 10


@dataclass(frozen=True)
class IncidentRule:
    """An alert rule, as the report replays it (the monitor's Rule, in plain data)."""

    name: str
    metric: str
    op: Literal[">", ">=", "<", "<="]
    threshold: float
    windows: int = 5
    by: str = "all"
    min_active_sessions: float = 0
    min_attempts: int = 0

    def describe(self) -> str:
        scope = "all traffic" if self.by == "all" else f"each {self.by}"
        return f"{self.metric} {self.op} {self.threshold:g} over {self.windows} min, {scope}"


@dataclass(frozen=True)
class Incident:
    rule: str
    rule_text: str
    series: str  # "all", or the value of the rule's dimension
    start: datetime  # naive UTC, the first minute the rule fired
    end: datetime  # naive UTC, the minute after the last
    peak: float | None  # the metric's worst value while it fired


@dataclass(frozen=True)
class ReportData:
    day: date
    lake_root: str
    totals: dict[str, Any]
    startup: list[dict[str, Any]]  # hour, statistic (p50 | p95), ms
    rebuffer: list[dict[str, Any]]  # hour, cdn, rebuffer_ratio, watch_time_ms
    outcomes_by_device: list[dict[str, Any]]  # device_type, outcome, sessions
    outcomes_by_player: list[dict[str, Any]]  # player, outcome, sessions
    titles: list[dict[str, Any]]  # content_id, watch_hours, sessions
    incidents: list[Incident]
    gates: list[dict[str, Any]]  # one row per expectation of the runs that built the day
    runs: list[str]


def load(query: LakeQuery, day: date, rules: list[IncidentRule]) -> ReportData:
    """The report's numbers for `day`; QueryError when the lake has no sessions that day."""
    where = f"session_date = DATE '{day.isoformat()}'"
    totals = _rows(query, f"""
        SELECT count(*) AS sessions, count(DISTINCT viewer_id) AS viewers,
               {_ATTEMPTS} AS attempts,
               count(*) FILTER (WHERE start_outcome = 'start_failure') AS start_failures,
               count(*) FILTER (WHERE start_outcome = 'exit_before_start') AS exits_before_start,
               sum(watch_time_ms) / 3600000.0 AS watch_hours,
               {METRIC_SQL['rebuffer_ratio']} AS rebuffer_ratio,
               {METRIC_SQL['startup_time_p50_ms']} AS startup_time_p50_ms,
               {METRIC_SQL['startup_time_p95_ms']} AS startup_time_p95_ms,
               min(start_time) AS first_start, max(start_time) AS last_start
        FROM play_sessions WHERE {where}""")[0]
    if not totals["sessions"]:
        raise QueryError(f"no play sessions on {day.isoformat()} in the lake (session_date, UTC): "
                         "check --date, or run `ottlake batch`")
    hour = "date_trunc('hour', start_time) AS hour"
    startup = _rows(query, f"""
        SELECT hour, statistic, ms FROM (
            SELECT {hour}, {METRIC_SQL['startup_time_p50_ms']} AS p50, {METRIC_SQL['startup_time_p95_ms']} AS p95
            FROM play_sessions WHERE {where} GROUP BY ALL)
        UNPIVOT (ms FOR statistic IN (p50, p95)) ORDER BY hour, statistic""")
    rebuffer = _rows(query, f"""
        SELECT {hour}, coalesce(cdn, '(none)') AS cdn, {METRIC_SQL['rebuffer_ratio']} AS rebuffer_ratio,
               sum(watch_time_ms) AS watch_time_ms, sum(rebuffer_time_ms) AS rebuffer_time_ms
        FROM play_sessions WHERE {where} GROUP BY ALL ORDER BY hour, cdn""")
    outcomes = """
        count(*) FILTER (WHERE start_outcome = 'start_failure') AS "start failures",
        count(*) FILTER (WHERE start_outcome = 'exit_before_start') AS "exits before start" """
    by_device = _rows(query, f"""
        SELECT device_type, outcome, sessions FROM (
            SELECT coalesce(device_type, '(none)') AS device_type, {outcomes}
            FROM play_sessions WHERE {where} GROUP BY ALL)
        UNPIVOT (sessions FOR outcome IN ("start failures", "exits before start")) ORDER BY device_type, outcome""")
    by_player = _rows(query, f"""
        SELECT player, outcome, sessions FROM (
            SELECT concat_ws(' ', coalesce(player_name, '(none)'), player_version) AS player, {outcomes}
            FROM play_sessions WHERE {where} GROUP BY ALL)
        UNPIVOT (sessions FOR outcome IN ("start failures", "exits before start")) ORDER BY player, outcome""")
    titles = _rows(query, f"""
        SELECT content_id, sum(watch_time_ms) / 3600000.0 AS watch_hours, count(*) AS sessions
        FROM play_sessions WHERE {where} GROUP BY content_id
        ORDER BY watch_hours DESC, content_id LIMIT {TOP_TITLES}""")
    runs, gates = _gates(query, day)
    return ReportData(day, query.lake.root, totals, startup, rebuffer, by_device, by_player, titles,
                      incidents(query, day, rules), gates, runs)


def incidents(query: LakeQuery, day: date, rules: list[IncidentRule]) -> list[Incident]:
    """The periods in which each rule would have fired over the day's sessions."""
    found: list[Incident] = []
    for rule in rules:
        if rule.metric not in METRIC_SQL or rule.by not in SERIES_BY or rule.op not in _OPS:
            continue  # a live-only metric (active_sessions, ...): nothing to replay from sessions
        series = "'all'" if rule.by == "all" else f"coalesce(CAST({rule.by} AS VARCHAR), '(none)')"
        windows = int(rule.windows)
        rows = _rows(query, f"""
            WITH sessions AS (
                SELECT *, {series} AS series,
                       CAST(epoch_ms(start_time) // 60000 AS BIGINT) AS start_minute,
                       CAST(epoch_ms(end_time) // 60000 AS BIGINT) AS end_minute
                FROM play_sessions WHERE session_date = DATE '{day.isoformat()}'),
            counted AS (  -- each session in the windows ending at its start minute and the N-1 after
                SELECT *, unnest(range(start_minute, start_minute + {windows})) AS minute FROM sessions),
            measured AS (
                SELECT series, minute, {METRIC_SQL[rule.metric]} AS value, {_ATTEMPTS} AS attempts
                FROM counted GROUP BY series, minute),
            in_play AS (
                SELECT series, minute, count(*) AS active FROM (
                    SELECT series, unnest(range(start_minute, end_minute + 1)) AS minute FROM sessions)
                GROUP BY series, minute),
            gated AS (
                SELECT m.series, m.minute, m.value, m.attempts,
                       coalesce(sum(p.active), 0) / {windows} AS active_per_window
                FROM measured AS m LEFT JOIN in_play AS p
                  ON p.series = m.series AND p.minute BETWEEN m.minute - {windows - 1} AND m.minute
                GROUP BY m.series, m.minute, m.value, m.attempts),
            firing AS (
                SELECT series, minute, value,
                       minute - row_number() OVER (PARTITION BY series ORDER BY minute) AS run
                FROM gated
                WHERE value {_OPS[rule.op]} {float(rule.threshold)!r} AND attempts >= {int(rule.min_attempts)}
                  AND active_per_window >= {float(rule.min_active_sessions)!r})
            SELECT series, min(minute) AS first_minute, max(minute) + 1 AS end_minute,
                   {'max' if rule.op.startswith('>') else 'min'}(value) AS peak
            FROM firing GROUP BY series, run ORDER BY first_minute, series""")
        for row in rows:
            found.append(Incident(rule.name, rule.describe(), row["series"], _minute(row["first_minute"]),
                                  _minute(row["end_minute"]), row["peak"]))
    return sorted(found, key=lambda incident: (incident.start, incident.rule, incident.series))


def _gates(query: LakeQuery, day: date) -> tuple[list[str], list[dict[str, Any]]]:
    """The gates of the runs that built the day. The results carry no date: a run
    built the day when its bronze stage wrote the day's events, that is, it is the
    first run to record gates after an `ingest_ts` of the day's events (bronze
    stamps its rows with its start time, before its gate runs)."""
    try:
        runs = [row["run_id"] for row in _rows(query, f"""
            WITH written AS (
                SELECT DISTINCT ingest_ts FROM player_events WHERE event_date = DATE '{day.isoformat()}'),
            runs AS (SELECT run_id, min(checked_at) AS first_check FROM quality_results GROUP BY run_id)
            SELECT DISTINCT arg_min(runs.run_id, runs.first_check) AS run_id
            FROM written JOIN runs ON runs.first_check >= written.ingest_ts
            GROUP BY written.ingest_ts ORDER BY run_id""")]
    except QueryError as exc:
        if "not in the lake yet" in str(exc):
            return [], []
        raise
    if not runs:
        return [], []
    listed = ", ".join(f"'{run}'" for run in runs)
    gates = _rows(query, f"""
        SELECT run_id, stage, suite, expectation, critical, success, observed_value, unexpected_count, rows,
               checked_at
        FROM quality_results WHERE run_id IN ({listed}) ORDER BY checked_at, stage, expectation""")
    return runs, gates


def _rows(query: LakeQuery, sql: str) -> list[dict[str, Any]]:
    return [{key: _naive(value) for key, value in row.items()} for row in query.run(sql).to_pylist()]


def _naive(value: Any) -> Any:
    """UTC instants as naive UTC (the charts' axis is UTC); int128 sums as ints."""
    from decimal import Decimal

    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None) - (value.utcoffset() or timedelta(0))
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _minute(epoch_minute: int) -> datetime:
    return datetime(1970, 1, 1) + timedelta(minutes=int(epoch_minute))
