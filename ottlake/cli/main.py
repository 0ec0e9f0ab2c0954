"""`ottlake`: one command over the library.

User mistakes and pipeline failures arrive as `OttlakeError`: one line on stderr
and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from ottlake import __version__
from ottlake.cli.common import err_console
from ottlake.errors import OttlakeError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ottlake")
@click.option("--aws-endpoint", help="embedded (default), localstack, aws, or an http(s) URL. Env: OTTLAKE_AWS_ENDPOINT.")
@click.option("--region", help="AWS region. Env: OTTLAKE_REGION.")
@click.option("--state-dir", type=click.Path(file_okay=False), help="Where the embedded stack keeps its pid and log. Env: OTTLAKE_STATE_DIR.")
@click.option("--stream", "stream_name", help="Kinesis stream of player events. Env: OTTLAKE_STREAM_NAME.")
@click.pass_context
def cli(ctx: click.Context, **flags: object) -> None:
    """ottlake: player events to a QoE lake (Kinesis, S3, Spark, Delta)."""
    ctx.obj = flags


def _register() -> None:
    # Each area adds its commands in a module of its own.
    from ottlake.cli import (batch_cmd, collector_cmd, consume_cmd, demo_cmd, emr_cmd, live_cmd, quality_cmd,
                             report_cmd, simulate_cmd, sql_cmd, stack_cmd)

    for module in (stack_cmd, simulate_cmd, demo_cmd, batch_cmd, consume_cmd, live_cmd, quality_cmd, sql_cmd,
                   report_cmd, emr_cmd, collector_cmd):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script exits with it)."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="ottlake", standalone_mode=False)
    except OttlakeError as exc:
        err_console.print(f"error: {exc}", markup=False, soft_wrap=True)
        return exc.exit_code
    except click.exceptions.Abort:
        err_console.print("aborted", markup=False)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
