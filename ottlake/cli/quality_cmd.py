"""`ottlake quality`: the latest run's gate results, and where its Data Docs are."""

from __future__ import annotations

from itertools import groupby

import click
from rich import box
from rich.table import Table

from ottlake.cli.common import console, lake_to_read, settings_from


@click.command("quality")
@click.option("--lake", "lake_root", default=None,
              help="Lake root: a folder or s3://bucket/prefix. Env: OTTLAKE_LAKE (default ./lake).")
@click.pass_context
def quality_cmd(ctx: click.Context, lake_root: str | None) -> None:
    """Show the quality gates of the latest batch run: each expectation, whether it
    is critical, whether it passed, and what was observed.

    Reads `<lake>/_quality/results` with delta-rs (no Spark).
    """
    settings = settings_from(ctx, lake=lake_root)
    from quality import docs, results

    lake = lake_to_read(settings)
    rows = results.latest(lake.quality_results)
    if not rows:
        console.print(f"no quality results yet in {lake.root}: run `ottlake batch` first", markup=False)
        return
    first = rows[0]
    table = Table(title=f"quality gates: run {first['run_id']} ({first['checked_at']:%Y-%m-%d %H:%M:%S} UTC)",
                  title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    # Readable in an 80-column terminal: the long texts fold, the short ones never
    # wrap, and what belongs to a whole gate (rows checked, seconds) is said once,
    # under its expectations.
    table.add_column("gate", overflow="fold", max_width=14)
    table.add_column("expectation", overflow="fold", ratio=1)
    table.add_column("level", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("observed", justify="right", overflow="fold")
    table.add_column("unexpected", justify="right", no_wrap=True)
    for (stage, suite), expectations in groupby(rows, key=lambda row: (row["stage"], row["suite"])):
        expectations = list(expectations)
        gate = stage if suite == stage else f"{stage}/{suite}"
        for index, row in enumerate(expectations):
            table.add_row(
                gate if index == 0 else "", row["expectation"],
                "critical" if row["critical"] else "warning",
                "[green]pass[/]" if row["success"] else ("[red]FAIL[/]" if row["critical"] else "[yellow]warn[/]"),
                row["observed_value"] or "",
                "" if row["unexpected_count"] is None else f"{row['unexpected_count']:,}",
            )
        last = expectations[-1]
        checked = "" if last["rows"] is None else f"{last['rows']:,} rows, "
        table.add_row("", f"[dim]{checked}{last['gate_seconds']:.2f} s[/]", end_section=True)
    console.print(table)
    failed = sum(not row["success"] for row in rows)
    console.print(f"{len(rows)} expectations, {failed} failed; Data Docs: {docs.index(lake)}", markup=False)


COMMANDS: list[click.Command] = [quality_cmd]
