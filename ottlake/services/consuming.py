"""Consumer apps (the lake sink, the live QoE monitor) under the in-process shard
driver, each in a child process of its own, for the length of a block.

What `ottlake consume` runs in the foreground, made embeddable: the demo runs
both apps beside the traffic it sends, watches how many records each has read,
and stops them (each processor's last checkpoint, leases released, processes
joined) when the block ends, also on Ctrl-C.

Processes, not threads: the monitor validates every event against the contract
(jsonschema, about 0.3 ms an event here), so in one interpreter it shares one
core with the sender and the sink, and the hour's 600,000 records took over ten
minutes. An app may also run several workers, as the KCL scales out (README,
"Scaling out"): its shards' leases are handed out round-robin before they start,
so each worker takes its own at once and leaves the others' alone. The children are
spawned (the parent has threads: never fork it), ignore SIGINT (the terminal's
Ctrl-C reaches the whole process group; the parent stops them in order through
`stop`), and stop by themselves if their parent dies.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from consumers import driver, kcl
from consumers.kcl_leases import LeaseTable
from ottlake.errors import ConsumerError
from ottlake.settings import Settings

# A driver stops within one poll after `stop`, plus its processors' last checkpoint
# and flush (the sink writes what it buffered): seconds, not minutes.
_JOIN_TIMEOUT_S = 60.0
_KILL_WAIT_S = 5.0
_SPAWN = multiprocessing.get_context("spawn")
_FAILOVER_S = 120.0


@dataclass
class RunningApp:
    app: kcl.App
    name: str  # the KCL application (its lease table)
    processes: list[Any]  # multiprocessing.Process, one per worker
    counter: Any  # a shared integer: records handed to the app's processors, all workers
    failures: Any  # a queue: a child's error, one line
    error: str | None = None

    @property
    def records(self) -> int:
        """Records the app's processors have been handed so far (read while it runs)."""
        return int(self.counter.value)

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def check(self) -> None:
        """ConsumerError if one of the app's processes failed or exited early."""
        if self.error is None:
            with contextlib.suppress(Exception):
                if not self.failures.empty():
                    self.error = self.failures.get()
        for process in self.processes:
            if self.error is None and process.exitcode not in (None, 0):
                self.error = f"a worker process exited with code {process.exitcode}"
        if self.error is not None:
            raise ConsumerError(f"the {self.app} driver failed: {self.error}")


@contextlib.contextmanager
def consuming(settings: Settings, workers: Mapping[kcl.App, int], *, lake: str | None = None,
              worker_id: str = "ottlake-demo", poll_s: float = 0.1) -> Iterator[dict[kcl.App, RunningApp]]:
    """Run each app with its number of workers until the block ends; ConsumerError
    after a clean exit if one failed."""
    if "sink" in workers:
        kcl.processor_factory(settings, "sink", lake=lake)  # a bad lake fails here, in the caller
    stop = _SPAWN.Event()
    running: dict[kcl.App, RunningApp] = {}
    try:
        for app, count in workers.items():
            names = [f"{worker_id}-{app}-{n}" for n in range(count)]
            if count > 1:
                assign_leases(settings, kcl.app_name(settings, app), names)
            counter, failures = _SPAWN.Value("q", 0), _SPAWN.SimpleQueue()
            running[app] = RunningApp(app, kcl.app_name(settings, app), [], counter, failures)
            for name in names:
                process = _SPAWN.Process(
                    target=_drive, name=f"ottlake-{name}", daemon=True,
                    args=(settings, app, lake if app == "sink" else None, name, poll_s, stop, counter, failures),
                )
                process.start()
                running[app].processes.append(process)
        yield running
    finally:
        stop.set()
        for app in running.values():
            for process in app.processes:
                _join(process)
    for app in running.values():
        app.check()


def assign_leases(settings: Settings, app_name: str, worker_ids: Sequence[str]) -> dict[str, str]:
    """Give the app's shards' leases to the workers round-robin (shard -> worker), before
    any runs: a driver takes the leases it owns at once and watches the others' (whose
    owners renew them), so each worker reads its own shards."""
    dynamodb = settings.aws().client("dynamodb")
    driver.seed_leases(settings.aws().client("kinesis"), dynamodb, stream_name=settings.stream_name, table=app_name)
    leases = LeaseTable(dynamodb, app_name, worker_id="").scan()
    owners = {}
    for index, (shard_id, lease) in enumerate(sorted(leases.items())):
        owner = worker_ids[index % len(worker_ids)]
        LeaseTable(dynamodb, app_name, owner).take(lease)
        owners[shard_id] = owner
    return owners


def _join(process: Any) -> None:
    process.join(_JOIN_TIMEOUT_S)
    if process.is_alive():
        process.terminate()
        process.join(_KILL_WAIT_S)
    if process.is_alive():
        process.kill()
        process.join(_KILL_WAIT_S)


class _Counted:
    """A record processor, counting the records it is handed into a shared integer."""

    def __init__(self, processor: Any, counter: Any) -> None:
        self.processor = processor
        self.counter = counter

    def initialize(self, initialize_input: Any) -> None:
        self.processor.initialize(initialize_input)

    def process_records(self, process_records_input: Any) -> None:
        try:
            self.processor.process_records(process_records_input)
        finally:
            with self.counter.get_lock():
                self.counter.value += len(process_records_input.records)

    def lease_lost(self, lease_lost_input: Any) -> None:
        self.processor.lease_lost(lease_lost_input)

    def shard_ended(self, shard_ended_input: Any) -> None:
        self.processor.shard_ended(shard_ended_input)

    def shutdown_requested(self, shutdown_requested_input: Any) -> None:
        self.processor.shutdown_requested(shutdown_requested_input)


def _drive(settings: Settings, app: kcl.App, lake: str | None, worker_id: str, poll_s: float, stop: Any,
           counter: Any, failures: Any) -> None:
    """The child: the driver until `stop` is set (or the parent is gone)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    parent = os.getppid()

    def watch_parent() -> None:
        while not stop.wait(1.0):
            if os.getppid() != parent:
                stop.set()

    threading.Thread(target=watch_parent, name="ottlake-parent-watch", daemon=True).start()
    try:
        factory = kcl.processor_factory(settings, app, lake=lake)
        # A lease another worker was given is taken over only if it stops renewing it for
        # this long: longer than a loaded machine takes to spawn and import a worker.
        driver.run(settings, kcl.app_name(settings, app), lambda: _Counted(factory(), counter), stop=stop,
                   worker_id=worker_id, poll_s=poll_s, failover_s=_FAILOVER_S)
    except BaseException as exc:
        failures.put(f"{type(exc).__name__}: {exc}")
        raise SystemExit(1) from None
