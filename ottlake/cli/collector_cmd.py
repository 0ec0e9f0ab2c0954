"""`ottlake collector`: the HTTP collector for players and CMCD v2 event mode (thin over
producers.collector.server)."""

from __future__ import annotations

import click

from ottlake.cli.common import console, settings_from
from ottlake.services.traffic import check_stream


@click.command("collector")
@click.option("--host", "collector_host", default=None,
              help="Address to listen on (default 127.0.0.1). Env: OTTLAKE_COLLECTOR_HOST.")
@click.option("--port", "collector_port", type=click.IntRange(0, 65535), default=None,
              help="Port to listen on (default 8080). Env: OTTLAKE_COLLECTOR_PORT.")
@click.option("--workers", "collector_workers", type=click.IntRange(1, 64), default=None,
              help="uvicorn worker processes (default 1). Env: OTTLAKE_COLLECTOR_WORKERS.")
@click.pass_context
def collector_cmd(ctx: click.Context, **flags: object) -> None:
    """Serve POST /v1/events, POST /v1/cmcd, GET /healthz and GET /metrics until SIGTERM.

    Write keys come from OTTLAKE_COLLECTOR_WRITE_KEYS (key=app_id pairs). Valid
    events go to the stream, rejected ones to the dead-letter stream; on SIGTERM
    the collector stops accepting and flushes what it accepted.
    """
    from producers.collector.server import check_listen, collector_config, serve

    settings = settings_from(ctx, **flags)
    collector_config(settings)
    client = settings.aws().client("kinesis")
    check_stream(client, settings.stream_name)
    check_stream(client, settings.dead_letter_stream_name)
    check_listen(settings.collector_host, settings.collector_port)
    console.print(
        f"collector on http://{settings.collector_host}:{settings.collector_port} "
        f"({settings.collector_workers} worker(s)) -> kinesis:{settings.stream_name}, "
        f"dead letters -> kinesis:{settings.dead_letter_stream_name}",
        markup=False, soft_wrap=True,
    )
    serve(settings)


COMMANDS: list[click.Command] = [collector_cmd]
