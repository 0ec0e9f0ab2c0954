"""`ottlake consume sink|monitor [--kcl]`: run a consumer app on the player-event stream.

Without --kcl the in-process shard driver runs the app (the embedded mode); with
--kcl the real KCL MultiLangDaemon does (Java 17, amazon-kclpy's jars), which
starts one `python -m consumers.kcl_entry <app>` per shard lease. Either way the
leases and checkpoints are in the app's lease table, and SIGTERM or Ctrl-C stops
the app after each processor's last checkpoint.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ottlake.cli.common import console, settings_from
from ottlake.errors import ConfigError, ConsumerError
from ottlake.settings import Settings

if TYPE_CHECKING:
    from consumers.kcl import App


def _say(message: str) -> None:
    console.print(message, markup=False, soft_wrap=True)


@contextmanager
def _on_stop_signals(handler: Callable[[], None]) -> Iterator[None]:
    """SIGTERM and SIGINT call `handler` instead of killing the process mid-write."""
    if threading.current_thread() is not threading.main_thread():  # tests may call the CLI from a thread
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    for sig in previous:
        signal.signal(sig, lambda _signum, _frame: handler())
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@click.command("consume")
@click.argument("app", type=click.Choice(["sink", "monitor"]))
@click.option("--kcl", "use_kcl", is_flag=True,
              help="Run under the real KCL MultiLangDaemon (needs Java 17) instead of the in-process driver.")
@click.option("--lake", "lake_root", default=None,
              help="The sink's lake root: a folder or s3://bucket/prefix. Env: OTTLAKE_LAKE (default ./lake).")
@click.option("--worker-id", default=None,
              help="This worker's name in the lease table (default: host and app; keep it across restarts).")
@click.option("--drain", is_flag=True,
              help="Driver only: stop once every shard is read to its tip, after the last checkpoint.")
@click.pass_context
def consume_cmd(ctx: click.Context, app: App, use_kcl: bool, lake_root: str | None,
                worker_id: str | None, drain: bool) -> None:
    """Run the lake sink or the live QoE monitor until stopped (SIGTERM, Ctrl-C)."""
    from consumers import kcl

    if lake_root is not None and app != "sink":
        raise ConfigError("--lake applies to the sink only")
    if drain and use_kcl:
        raise ConfigError("--drain applies to the in-process driver only (the KCL daemon runs until stopped)")
    settings = settings_from(ctx, lake=lake_root)
    lake = settings.lake if app == "sink" else None
    if lake is not None:
        # The sink makes the lake's raw zone (so a new lake need not exist yet), but
        # cannot write under a file.
        from ottlake.lakes import refuse_a_file

        refuse_a_file(settings.lake_layout())
    name = kcl.app_name(settings, app)
    worker = worker_id or kcl.default_worker_id(app)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if use_kcl:
        _run_daemon(settings, app, lake=lake, worker_id=worker)
        return
    from consumers import driver

    factory = kcl.processor_factory(settings, app, lake=lake)
    stop = threading.Event()
    _say(f"consuming {settings.stream_name} as {name} (worker {worker}, in-process driver)")
    with _on_stop_signals(stop.set):
        report = driver.run(settings, name, factory, stop=stop, drain=drain, worker_id=worker)
    total = sum(report.records.values())
    per_shard = ", ".join(f"{shard} {count:,}" for shard, count in sorted(report.records.items()))
    _say(f"stopped: {total:,} records ({per_shard or 'no shard leased'})")


def _run_daemon(settings: Settings, app: App, *, lake: str | None, worker_id: str) -> None:
    from consumers import kcl

    workdir = Path(settings.state_dir) / "kcl"
    daemon = kcl.start_daemon(settings, app, workdir=workdir, worker_id=worker_id, lake=lake)
    _say(f"KCL daemon pid {daemon.pid} consuming {settings.stream_name} as "
         f"{kcl.app_name(settings, app)} (worker {worker_id}; properties in {workdir})")
    with _on_stop_signals(daemon.terminate):  # the daemon's own hook runs the graceful shutdown
        code = daemon.wait()
    if code not in (0, -signal.SIGTERM, 128 + signal.SIGTERM):
        raise ConsumerError(f"the KCL daemon exited with code {code}; its log is above (stderr)")
    _say(f"the KCL daemon stopped (exit code {code})")


COMMANDS: list[click.Command] = [consume_cmd]
