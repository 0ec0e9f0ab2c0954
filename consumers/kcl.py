"""The consumer applications and the real KCL MultiLangDaemon that runs them in production.

An application is a record processor factory (`sink`, `monitor`) plus the KCL
application name its lease table is named after. The daemon is Java 17 with
amazon-kclpy's jars on the classpath and a properties file rendered from the
settings (consumers/kcl.properties, plus kcl-emulator.properties against an
emulator); for every shard lease it starts `python -m consumers.kcl_entry <app>`,
which builds the processor through the same factory as the in-process driver.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any, Literal

from ottlake.errors import ConfigError, ConsumerError
from ottlake.settings import Settings

App = Literal["sink", "monitor"]
APPS: tuple[App, ...] = ("sink", "monitor")
DAEMON_CLASS = "software.amazon.kinesis.multilang.MultiLangDaemon"
# moto cannot read CBOR, and only this system property turns it off in the SDK v2
# the KCL uses (the environment variable does not: DESIGN.md).
_EMULATOR_JVM_FLAGS = ("-Daws.cborEnabled=false",)

ProcessorFactory = Callable[[], Any]


def app_name(settings: Settings, app: App) -> str:
    """The KCL application name, which is also its lease table's name."""
    return settings.lake_sink_app if app == "sink" else settings.qoe_monitor_app


def processor_factory(settings: Settings, app: App, *, lake: str | None = None) -> ProcessorFactory:
    """A zero-argument factory of the app's record processor: one is made per shard."""
    if app == "sink":
        from consumers.sink import make_processor as make_sink

        make_sink(settings, lake=lake)  # fail now, in the caller, on a bad lake
        return lambda: make_sink(settings, lake=lake)
    try:
        from consumers.monitor import make_processor as make_monitor
    except ImportError as exc:
        raise ConsumerError(f"the QoE monitor is not available: {exc}") from None
    return lambda: make_monitor(settings)


def default_worker_id(app: App) -> str:
    """Stable across restarts on one host, so a restart takes its own leases back at once."""
    return f"{socket.gethostname()}-{app}"


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as OTTLAKE_* variables: how the daemon's child processes get the
    same settings as the command that started the daemon (flags included)."""
    env = {}
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"OTTLAKE_{name.upper()}"] = str(value)
    return env


def _template(name: str) -> Template:
    return Template(resources.files("consumers").joinpath(name).read_text(encoding="utf-8"))


def render_properties(
    settings: Settings,
    app: App,
    *,
    worker_id: str,
    lake: str | None = None,
    python: str = sys.executable,
) -> str:
    """The daemon's properties file for one app, against the settings' endpoint."""
    target = settings.aws()
    executable = [python, "-m", "consumers.kcl_entry", app]
    if lake is not None:
        executable += ["--lake", lake]
    for part in executable:
        if not part or any(ch.isspace() for ch in part):
            # The daemon splits executableName on spaces (MultiLangRecordProcessorFactory).
            raise ConfigError(f"the KCL daemon cannot start a command containing spaces: {part!r}")
    values = {
        "executable": " ".join(executable),
        "stream_name": settings.stream_name,
        "app_name": app_name(settings, app),
        "region": settings.region,
        "worker_id": worker_id,
        "endpoint_url": target.endpoint_url or "",
    }
    text = _template("kcl.properties").substitute(values)
    if target.is_emulator:
        text += "\n" + _template("kcl-emulator.properties").substitute(values)
    return text


def jars_dir() -> Path:
    import amazon_kclpy

    return Path(amazon_kclpy.__file__).parent / "jars"


def daemon_command(properties: Path, *, emulator: bool, java: str | None = None) -> list[str]:
    """`java ... MultiLangDaemon` with amazon-kclpy's jars; raises ConsumerError if either is missing."""
    java = java or shutil.which("java")
    if java is None:
        raise ConsumerError("the KCL daemon needs Java 17 (`java` is not on PATH)")
    jars = sorted(jars_dir().glob("*.jar"))
    if not jars:
        raise ConsumerError(f"amazon-kclpy's jars are missing from {jars_dir()}: pip install 'ottlake[pipeline]'")
    logback = resources.files("consumers").joinpath("kcl-logback.xml")
    return [
        java,
        *(_EMULATOR_JVM_FLAGS if emulator else ()),
        "-cp", os.pathsep.join(str(jar) for jar in jars),
        DAEMON_CLASS,
        "--properties-file", str(properties),
        "--log-configuration", str(logback),
    ]


def daemon_env(settings: Settings, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The daemon's environment: the settings for its children, and the emulator's
    fake credentials (AWS itself: the usual credential chain, untouched)."""
    env = dict(os.environ if base is None else base)
    env.update(settings_env(settings))
    target = settings.aws()
    if target.is_emulator:
        env["AWS_ACCESS_KEY_ID"] = target.access_key_id or ""
        env["AWS_SECRET_ACCESS_KEY"] = target.secret_access_key or ""
        env["AWS_REGION"] = settings.region
        env.pop("AWS_SESSION_TOKEN", None)  # would pair a real token with the fake key
    # The children must import this project whatever the daemon's working directory.
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def start_daemon(
    settings: Settings,
    app: App,
    *,
    workdir: Path,
    worker_id: str | None = None,
    lake: str | None = None,
    stdout: Any = None,
    stderr: Any = None,
) -> subprocess.Popen[bytes]:
    """Seed the leases, render the properties into `workdir` and start the daemon.

    Seeding the lease table (one TRIM_HORIZON lease per shard, as the KCL itself
    writes them) spares the daemon a hard-coded random 1-30 s wait on its first
    start (DESIGN.md)."""
    from consumers.driver import seed_leases

    name = app_name(settings, app)
    processor_factory(settings, app, lake=lake)  # a bad lake or a missing app fails here, in one line
    from botocore.exceptions import BotoCoreError, ClientError

    target = settings.aws()
    try:
        seed_leases(target.client("kinesis"), target.client("dynamodb"),
                    stream_name=settings.stream_name, table=name)
    except (ClientError, BotoCoreError) as exc:
        where = target.endpoint_url or f"AWS ({settings.region})"
        raise ConsumerError(f"cannot seed the leases of {name} from stream {settings.stream_name} at {where}: {exc}") from None
    workdir.mkdir(parents=True, exist_ok=True)
    properties = workdir / f"{name}.properties"
    properties.write_text(render_properties(
        settings, app, worker_id=worker_id or default_worker_id(app), lake=lake), encoding="utf-8")
    command = daemon_command(properties, emulator=target.is_emulator)
    return subprocess.Popen(command, cwd=workdir, env=daemon_env(settings),
                            stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr)
