"""The day's QoE report from a lake: the library behind `ottlake report` and the demo.

The report's incidents are the periods in which the monitor's alert rules (the
settings' file, or the shipped one) would have fired, so the rules are read here
and handed to analytics.report_data in its own shape (a component never imports
another).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from analytics import report, report_data
from analytics.sql import LakeQuery
from consumers.monitor.alerts import load_rules
from ottlake.settings import Settings
from schemas.layout import Lake


@dataclass(frozen=True)
class WrittenReport:
    data: report_data.ReportData
    path: Path


def incident_rules(settings: Settings) -> list[report_data.IncidentRule]:
    return [report_data.IncidentRule(rule.name, rule.metric, rule.op, rule.threshold, rule.windows, rule.by,
                                     rule.min_active_sessions, rule.min_attempts)
            for rule in load_rules(settings.alert_rules)]


def write_report(settings: Settings, lake: Lake, day: date, out: Path) -> WrittenReport:
    """Read the lake for `day` (DuckDB through delta-rs) and write the HTML file;
    QueryError when the lake has no sessions that day."""
    rules = incident_rules(settings)
    storage = None if lake.is_local else settings.aws().delta_storage_options()
    query = LakeQuery(lake, storage_options=storage)
    try:
        data = report_data.load(query, day, rules)
        return WrittenReport(data, report.write(data, out))
    finally:
        query.close()
