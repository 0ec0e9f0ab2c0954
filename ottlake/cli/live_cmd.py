"""`ottlake live`: the real-time QoE monitor's live table as a refreshing terminal table."""

from __future__ import annotations

import time
from typing import Any

import click
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ottlake.cli.common import console, settings_from
from ottlake.errors import InfraError
from ottlake.settings import Settings

_BY = ("all", "cdn", "device_type", "content_id")
WINDOW_MS = 60_000  # consumers.monitor.windows.WINDOW_MS, without importing the KCL here


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def _num(value: float | None, fmt: str = "{:,.0f}") -> str:
    return "-" if value is None else fmt.format(value)


def live_table(settings: Settings, *, by: str, minutes: int, now_ms: int | None = None) -> Table:
    """The last `minutes` windows of every series of `by`, newest first within each series."""
    from botocore.exceptions import BotoCoreError, ClientError

    from consumers.monitor.rows import ALL, series_value
    from consumers.monitor.store import LiveStore, window_sk

    store = LiveStore(settings.aws().client("dynamodb"), settings.live_table)
    now = int(time.time() * 1000) if now_ms is None else now_ms
    since = now - now % WINDOW_MS - minutes * WINDOW_MS
    try:
        names = [ALL] if by == ALL else store.series(by)
        rows = [(name, row) for name in names for row in store.rows(name, since_ms=since, until_ms=now)]
    except (BotoCoreError, ClientError) as exc:
        raise InfraError(f"cannot read the live table {settings.live_table}: {exc}") from None
    table = Table(title=f"live QoE by {by}, last {minutes} min ({settings.live_table})")
    for header in (by, "window (UTC)", "active", "attempts", "starts", "start fail", "exit b.s.",
                   "play fail", "rebuffer", "watch min", "startup p50", "p95", "avg kbps"):
        table.add_column(header, no_wrap=True, justify="left" if header in (by, "window (UTC)") else "right")
    for name, row in sorted(rows, key=lambda item: (item[0], -item[1].window_start_ms)):
        table.add_row(
            Text(series_value(name)), Text(window_sk(row.window_start_ms)), str(row.active_sessions),
            str(row.attempts), str(row.starts), _pct(row.start_failure_rate), _pct(row.exit_before_start_rate),
            _pct(row.playback_failure_rate), _pct(row.rebuffer_ratio), _num(row.watch_time_ms / 60_000, "{:,.1f}"),
            _num(row.startup_time_p50_ms), _num(row.startup_time_p95_ms), _num(row.avg_bitrate_kbps),
        )
    if not rows:
        table.caption = "no windows yet: is the monitor running (`ottlake consume monitor`)?"
    return table


@click.command("live")
@click.option("--by", type=click.Choice(_BY), default="cdn", show_default=True, help="Series to show.")
@click.option("--minutes", type=click.IntRange(1, 24 * 60), default=10, show_default=True,
              help="How many recent one-minute windows.")
@click.option("--refresh", "refresh_s", type=click.FloatRange(min=0.5), default=5.0, show_default=True,
              help="Seconds between reads of the live table.")
@click.option("--once", is_flag=True, help="Print the table once and exit.")
@click.option("--at", "at_ms", type=int, default=None, hidden=True,
              help="Epoch ms to read back from instead of now (replays, tests).")
@click.pass_context
def live_command(ctx: click.Context, by: str, minutes: int, refresh_s: float, once: bool, at_ms: Any) -> None:
    """Live QoE per CDN, device type or title from the monitor's one-minute windows.

    Rates are over attempts, the rebuffer ratio over watch time (qoe-metrics.md §4);
    windows appear once the monitor closes them (lateness plus a minute's grace).
    """
    settings = settings_from(ctx)
    if once:
        console.print(live_table(settings, by=by, minutes=minutes, now_ms=at_ms))
        return
    with Live(live_table(settings, by=by, minutes=minutes, now_ms=at_ms), console=console,
              refresh_per_second=1, screen=False) as live:
        while True:
            time.sleep(refresh_s)
            live.update(live_table(settings, by=by, minutes=minutes, now_ms=at_ms))


COMMANDS = [live_command]
