"""`ottlake report`: the day's QoE report as one self-contained HTML file; thin over analytics.report."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from ottlake.cli.common import console, lake_to_read, settings_from
from ottlake.errors import ConfigError


@click.command("report")
@click.option("--lake", "lake_root", default=None,
              help="Lake root: a folder or s3://bucket/prefix. Env: OTTLAKE_LAKE (default ./lake).")
@click.option("--date", "day", required=True, metavar="YYYY-MM-DD",
              help="The UTC date of the sessions to report on (their session_date).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The HTML file to write (default ./qoe-report-YYYY-MM-DD.html).")
@click.pass_context
def report_cmd(ctx: click.Context, lake_root: str | None, day: str, out: Path | None) -> None:
    """Write the QoE report of one day: startup time p50/p95 and rebuffer ratio by
    CDN over the hours, start failures and exits before start by device type and
    player version, the top titles by watch time, the day's incidents as marked
    periods, and the quality gates of the runs that built the day.

    One HTML file that opens from disk with no server and no network (the
    charting JavaScript is inside it). Read with DuckDB through delta-rs (no
    Spark). The incidents are the periods in which the monitor's alert rules
    (OTTLAKE_ALERT_RULES, or the shipped rules) would have fired over the day's
    sessions.
    """
    settings = settings_from(ctx, lake=lake_root)
    try:
        wanted = date.fromisoformat(day)
    except ValueError:
        raise ConfigError(f"--date {day!r}: expected a date as YYYY-MM-DD") from None
    from ottlake.services.reporting import write_report

    lake = lake_to_read(settings)
    with console.status(f"reading the lake for {wanted.isoformat()}"):
        written = write_report(settings, lake, wanted, out or Path(f"qoe-report-{wanted.isoformat()}.html"))
    data = written.data
    totals = data.totals
    console.print(f"report for {wanted.isoformat()}: {totals['sessions']:,} sessions, "
                  f"{len(data.incidents)} incident period(s), {len(data.gates)} gate results "
                  f"from {len(data.runs)} run(s)", markup=False, soft_wrap=True)
    console.print(f"written to {written.path.resolve()}", markup=False, soft_wrap=True)


COMMANDS: list[click.Command] = [report_cmd]
