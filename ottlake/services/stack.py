"""The local AWS stack: the embedded emulator we start, or a LocalStack we only find.

Embedded (the default): moto's WSGI app served by hypercorn on 127.0.0.1, so that
HTTP/1.1 (boto3) and cleartext HTTP/2 with prior knowledge (the Java KCL's Kinesis
client, which insists on HTTP/2) both work; plain `moto_server` speaks only
HTTP/1.1. It runs as a daemon with a pid file and a log under `settings.state_dir`
so that `ottlake stack up` returns and later commands (or other processes) use it.

LocalStack (`aws_endpoint=localstack`) or an explicit URL: someone else runs it;
`up` only checks that it answers. With `aws_endpoint=aws` there is nothing to run.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ottlake.errors import StackError
from ottlake.settings import EMBEDDED_HOST, Settings

# moto keeps every object in memory; hypercorn's WSGI wrapper reads a whole body
# before calling the app, and refuses bodies over this (its default is 16 MiB).
_MAX_BODY_BYTES = 256 * 1024 * 1024
# A stop must be quick (tests, Ctrl-C): hypercorn waits this long for open requests.
_GRACEFUL_TIMEOUT_S = 1.0
# After SIGKILL the kernel frees the process almost at once; this only bounds the wait.
_KILL_WAIT_S = 2.0
_POLL_S = 0.05
# The daemon's command line names this module; it is how a pid is recognised as ours.
_MODULE = "ottlake.services.stack"


@dataclass(frozen=True)
class StackStatus:
    """What `status` found: `pid` and `log_path` only for the embedded stack."""

    running: bool
    pid: int | None
    endpoint_url: str | None
    log_path: Path | None


def pid_path(settings: Settings) -> Path:
    return Path(settings.state_dir) / "stack.pid"


def log_path(settings: Settings) -> Path:
    return Path(settings.state_dir) / "stack.log"


def status(settings: Settings) -> StackStatus:
    """Embedded: is our daemon alive. LocalStack or a URL: does it answer. AWS: nothing runs here."""
    if settings.aws_endpoint == "aws":
        return StackStatus(False, None, None, None)
    if settings.aws_endpoint != "embedded":
        url = _external_url(settings)
        return StackStatus(_probe_error(settings) is None, None, url, None)
    pid = _live_pid(settings)
    return StackStatus(pid is not None, pid, settings.embedded_url, log_path(settings))


def up(settings: Settings, *, timeout_s: float = 30.0) -> StackStatus:
    """Start the embedded stack unless it runs (then: a no-op), and wait until it answers.

    Waiting for a real API call, not only an open port, means the caller can use
    the stack as soon as this returns. Raises StackError naming the log file if
    the server dies or does not answer within `timeout_s`.
    """
    if settings.aws_endpoint == "aws":
        raise StackError(
            "aws_endpoint is aws: there is no local stack to start; "
            "use `ottlake infra apply` to provision AWS itself"
        )
    if settings.aws_endpoint != "embedded":
        return _check_external(settings)
    with _state_lock(settings):
        pid = _live_pid(settings)
        started = pid is None
        if pid is None:
            pid = _start_daemon(settings)
        try:
            _wait_until_ready(settings, pid, timeout_s=timeout_s)
        except StackError:
            if started:  # never leave behind a server that did not come up
                _stop(settings, pid, timeout_s=_KILL_WAIT_S)
            raise
    return StackStatus(True, pid, settings.embedded_url, log_path(settings))


def down(settings: Settings, *, timeout_s: float = 10.0) -> bool:
    """Stop the embedded stack; True if it was running (False for LocalStack, AWS, a URL).

    SIGTERM first (hypercorn drains for a second), SIGKILL after `timeout_s`.
    A stale pid file (its process gone, or the pid reused by another program) is
    removed without signalling anyone.
    """
    if settings.aws_endpoint != "embedded" or not pid_path(settings).exists():
        return False
    with _state_lock(settings):
        pid = _live_pid(settings)
        if pid is None:
            pid_path(settings).unlink(missing_ok=True)
            return False
        _stop(settings, pid, timeout_s=timeout_s)
        return True


@contextlib.contextmanager
def running(settings: Settings, *, timeout_s: float = 30.0) -> Iterator[StackStatus]:
    """The stack for the length of a block; stopped at exit only if this block started it."""
    was_running = status(settings).running
    stack = up(settings, timeout_s=timeout_s)
    try:
        yield stack
    finally:
        if not was_running:
            down(settings)


# --- external endpoints (LocalStack, a URL) ---------------------------------------


def _external_url(settings: Settings) -> str:
    try:
        url = settings.aws().endpoint_url
    except ImportError as exc:  # localstack-client comes with the stack extra
        raise StackError(f"aws_endpoint=localstack needs localstack-client: pip install 'ottlake[stack]' ({exc})") from None
    assert url is not None  # only called for emulators
    return url


def _check_external(settings: Settings) -> StackStatus:
    url = _external_url(settings)
    problem = _probe_error(settings)
    if problem is not None:
        source = (
            "LocalStack (endpoint from localstack-client: LOCALSTACK_HOST or AWS_ENDPOINT_URL)"
            if settings.aws_endpoint == "localstack"
            else "the endpoint in aws_endpoint"
        )
        raise StackError(f"{source} does not answer at {url}: {problem}; start it, or use aws_endpoint=embedded")
    return StackStatus(True, None, url, None)


def _probe_error(settings: Settings, client: Any = None) -> str | None:
    """None if a real Kinesis call (ListStreams) succeeds, else why it did not."""
    from botocore.exceptions import BotoCoreError, ClientError

    kinesis = client or _probe_client(settings)
    try:
        kinesis.list_streams(Limit=1)
    except (BotoCoreError, ClientError) as exc:
        return str(exc)
    return None


def _probe_client(settings: Settings) -> Any:
    # One attempt with short timeouts: the caller's loop does the retrying.
    return settings.aws().client(
        "kinesis", connect_timeout=1, read_timeout=5, retries={"total_max_attempts": 1}
    )


# --- the embedded daemon ------------------------------------------------------------


@contextlib.contextmanager
def _state_lock(settings: Settings) -> Iterator[None]:
    """Serialise up/down between processes sharing a state_dir (two terminals, parallel tests)."""
    state_dir = Path(settings.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / "stack.lock", "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _live_pid(settings: Settings) -> int | None:
    """The pid in the pid file if that process is alive and is our server, else None."""
    try:
        pid = int(pid_path(settings).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    if _alive(pid) and _is_our_server(pid):
        return pid
    return None


def _alive(pid: int) -> bool:
    """True while the process runs; a zombie (exited, not yet reaped) counts as gone.

    The daemon is reparented to init, which may reap it late (or, as pid 1 of some
    containers, never), and a zombie still answers kill(pid, 0).
    """
    with contextlib.suppress(ChildProcessError):  # only if it is our own child after all
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but someone else's
        return True
    try:
        # /proc/<pid>/stat: "pid (comm) state ..."; comm may hold spaces, so split after ')'.
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):  # no /proc (macOS), or it exited just now
        return True
    return state not in ("Z", "X")


def _is_our_server(pid: int) -> bool:
    """Guard against a reused pid: never signal a process that is not our server."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        return _MODULE.encode() in cmdline.read_bytes().split(b"\0")
    except FileNotFoundError:  # no /proc (macOS): trust the pid file
        return not Path("/proc/self").exists()
    except PermissionError:
        return False


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((EMBEDDED_HOST, port)) == 0


def _start_daemon(settings: Settings) -> int:
    """Launch the server detached from this process; returns its pid."""
    missing = [name for name in ("moto", "hypercorn") if importlib.util.find_spec(name) is None]
    if missing:
        raise StackError(f"the embedded stack needs {' and '.join(missing)}: pip install 'ottlake[stack]'")
    port = settings.embedded_port
    if _port_taken(port):
        raise StackError(
            f"port {port} on {EMBEDDED_HOST} is already in use by another program "
            f"(no ottlake stack of {settings.state_dir} runs there); "
            "stop it or choose another port with OTTLAKE_EMBEDDED_PORT"
        )
    pid_file, log_file = pid_path(settings).resolve(), log_path(settings).resolve()
    pid_file.unlink(missing_ok=True)
    if log_file.exists():  # keep the previous run's log: it may say why it died
        log_file.replace(log_file.with_suffix(".log.1"))
    argv = [sys.executable, "-u", "-m", _MODULE, "--port", str(port), "--pid-file", str(pid_file)]
    with open(log_file, "ab") as log:
        # The launcher forks the server and exits at once (see _main): the server
        # then belongs to no one here, and nothing is left to reap or to warn about.
        launcher = subprocess.run(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, check=False, timeout=30,
        )
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        raise StackError(
            f"the stack launcher failed (exit code {launcher.returncode}); see {log_file}"
        ) from None


def _wait_until_ready(settings: Settings, pid: int, *, timeout_s: float) -> None:
    client = _probe_client(settings)
    deadline = time.monotonic() + timeout_s
    while True:
        problem = _probe_error(settings, client)
        if problem is None:
            return
        if not _alive(pid):
            pid_path(settings).unlink(missing_ok=True)
            raise StackError(f"the stack exited while starting; see {log_path(settings)}")
        if time.monotonic() >= deadline:
            raise StackError(
                f"the stack (pid {pid}) did not answer on {settings.embedded_url} within "
                f"{timeout_s:g} s ({problem}); see {log_path(settings)}"
            )
        time.sleep(_POLL_S * 4)


def _stop(settings: Settings, pid: int, *, timeout_s: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        if not _wait_for_exit(pid, timeout_s):
            os.kill(pid, signal.SIGKILL)
            if not _wait_for_exit(pid, _KILL_WAIT_S):
                raise StackError(f"the stack (pid {pid}) did not stop even after SIGKILL")
    pid_path(settings).unlink(missing_ok=True)


def _wait_for_exit(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while _alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_S)
    return True


# --- inside the daemon --------------------------------------------------------------


def _serve(port: int) -> None:
    """Serve moto until SIGTERM; hypercorn installs the signal handlers itself.

    `serve()` runs hypercorn's worker in this process, the same as its CLI with
    `--workers 0`. One worker also keeps SO_REUSEPORT off, so a second server can
    never share the port.
    """
    import asyncio

    from hypercorn.asyncio import serve
    from hypercorn.config import Config
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    _index_kinesis_shards()
    config = Config()
    config.bind = [f"{EMBEDDED_HOST}:{port}"]
    config.graceful_timeout = _GRACEFUL_TIMEOUT_S
    config.wsgi_max_body_size = _MAX_BODY_BYTES
    app = _bridge_hypercorn_wsgi(DomainDispatcherApplication(create_backend_app))
    asyncio.run(serve(app, config, mode="wsgi"))


def _index_kinesis_shards() -> None:
    """Make moto's shard reads and writes cost what the records involved cost, not the shard's size.

    moto 5's Shard finds its newest sequence number with `list(self.records)[-1]` on
    every record put, and GetRecords walks the shard from its first record: a stream
    of N records costs O(N^2) to fill and to read, and the demo's hour (600,000
    records) slowed to a few hundred records a second. A shard's sequence numbers are
    consecutive integers (put_record numbers each record max + 1; resharding moves
    records by putting them again), so the ends of the ordered dict and direct
    lookups give the same answers. Where numbers are not consecutive after all,
    moto's own walk answers.

    A put is made atomic too: moto numbers a record "newest + 1" and then stores it,
    and the server answers requests on several threads, so two writers putting to
    one shard at once (the SDK and the collector, in the demo) could both take the
    same number, the second record replacing the first: lost, where Kinesis never
    loses an acknowledged record."""
    import threading

    from moto.kinesis.models import Shard

    walk = Shard.get_records
    put = Shard.put_record
    put_lock = threading.Lock()

    def put_record(self: Any, *args: Any, **kwargs: Any) -> str:
        with put_lock:
            return put(self, *args, **kwargs)

    def newest(self: Any) -> int:
        return next(reversed(self.records)) if self.records else 0

    def oldest(self: Any) -> int:
        return next(iter(self.records)) if self.records else 0

    def get_records(self: Any, last_sequence_id: str, limit: int | None) -> tuple[list[Any], int, int]:
        records = self.records
        last = int(last_sequence_id)
        if not records:
            return [], last, 0
        first, final = oldest(self), newest(self)
        if final - first + 1 != len(records):
            return walk(self, last_sequence_id, limit)
        start = max(last + 1, first)
        stop = final if limit is None else min(final, start + limit - 1)
        results = [records[number] for number in range(start, stop + 1)]
        if not results:
            return [], last, 0
        behind_s = records[final].created_at - results[-1].created_at
        return results, results[-1].sequence_number, int(behind_s * 1000)

    Shard.put_record = put_record
    Shard.get_max_sequence_number = newest
    Shard.get_min_sequence_number = oldest
    Shard.get_records = get_records


def _bridge_hypercorn_wsgi(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterator[bytes]]:
    """Close two gaps between hypercorn 0.18's WSGI wrapper and moto's werkzeug app.

    - A request without Content-Length (normal in HTTP/2, and in chunked HTTP/1.1)
      reaches werkzeug as an empty body: hypercorn has read the whole body into
      `wsgi.input` but neither sets CONTENT_LENGTH nor `wsgi.input_terminated`.
    - hypercorn sends the status line with the first body chunk, so a response with
      none (HEAD, S3 PutObject, a 204) never gets a status and the client sees a
      reset (pgjones/hypercorn#331, open). Every response yields at least b"".
    """

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        body_in = environ.get("wsgi.input")
        if "CONTENT_LENGTH" not in environ and hasattr(body_in, "getbuffer"):
            environ["CONTENT_LENGTH"] = str(body_in.getbuffer().nbytes)
        body = app(environ, start_response)
        try:
            sent_any = False
            for chunk in body:
                sent_any = True
                yield chunk
            if not sent_any:
                yield b""
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    return wrapped


def _main(argv: list[str]) -> None:
    """`python -m ottlake.services.stack --port N --pid-file F`: fork the server, record its pid, exit."""
    import argparse

    parser = argparse.ArgumentParser(prog="ottlake.services.stack")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid-file", type=Path, required=True)
    args = parser.parse_args(argv)
    child = os.fork()  # a fresh interpreter with no threads yet: fork is safe here
    if child:
        tmp = args.pid_file.with_suffix(".tmp")
        tmp.write_text(f"{child}\n")
        tmp.replace(args.pid_file)  # readers never see half a pid
        os._exit(0)
    print(f"ottlake stack: pid {os.getpid()}, serving on {EMBEDDED_HOST}:{args.port}", flush=True)
    _serve(args.port)


if __name__ == "__main__":
    _main(sys.argv[1:])
