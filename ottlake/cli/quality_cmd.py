"""`ottlake quality`: the latest run's gate results, and where its Data Docs are."""

from __future__ import annotations

import click
from rich.table import Table

from ottlake.cli.common import console, settings_from


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
    from spark_jobs.lake import Lake

    lake = Lake.at(settings.lake)
    rows = results.latest(lake.quality_results)
    if not rows:
        console.print(f"no quality results yet in {lake.root}: run `ottlake batch` first", markup=False)
        return
    first = rows[0]
    table = Table(title=f"quality gates: run {first['run_id']} ({first['checked_at']:%Y-%m-%d %H:%M:%S} UTC)",
                  title_justify="left")
    for name, justify in (("stage", "left"), ("suite", "left"), ("expectation", "left"), ("level", "left"),
                          ("result", "left"), ("observed", "right"), ("unexpected", "right"),
                          ("rows", "right"), ("gate s", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(
            row["stage"], row["suite"], row["expectation"],
            "critical" if row["critical"] else "warning",
            "[green]pass[/]" if row["success"] else ("[red]FAIL[/]" if row["critical"] else "[yellow]warn[/]"),
            row["observed_value"] or "",
            "" if row["unexpected_count"] is None else f"{row['unexpected_count']:,}",
            "" if row["rows"] is None else f"{row['rows']:,}",
            f"{row['gate_seconds']:.2f}",
        )
    console.print(table)
    failed = sum(not row["success"] for row in rows)
    console.print(f"{len(rows)} expectations, {failed} failed; Data Docs: {docs.index(lake)}", markup=False)


COMMANDS: list[click.Command] = [quality_cmd]
