"""`ottlake emr package|submit|status`: thin over emr.package and emr.runs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ottlake.cli.common import console, settings_from
from ottlake.errors import ConfigError
from ottlake.settings import Settings

_STATE_STYLE = {"pending": "dim", "running": "yellow", "succeeded": "green", "failed": "bold red"}


def _say(message: str) -> None:
    console.print(message, markup=False, soft_wrap=True)


def _artifacts(settings: Settings):
    from emr.aws_calls import Artifacts

    if not settings.emr_artifacts:
        raise ConfigError("where are the artifacts? set OTTLAKE_EMR_ARTIFACTS or --artifacts s3://bucket/prefix")
    return Artifacts(settings.emr_artifacts)


@click.group("emr")
def emr_group() -> None:
    """Ship the batch to Amazon EMR (EC2 or Serverless) and follow its runs."""


@emr_group.command("package")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("dist/emr"),
              show_default=True, help="Folder for the artifacts.")
@click.option("--upload", "upload_to", default=None, metavar="S3_PREFIX",
              help="Upload them under this s3://bucket/prefix (the steps read OTTLAKE_EMR_ARTIFACTS: the same).")
@click.option("--architecture", type=click.Choice(["x86_64", "arm64"]), default=None,
              help="EMR's instances: x86_64, or arm64 (Graviton). Default: this machine's.")
@click.option("--release", "emr_release", default=None, help="EMR release. Env: OTTLAKE_EMR_RELEASE.")
@click.pass_context
def package_command(ctx: click.Context, out: Path, upload_to: str | None, architecture: str | None,
                    emr_release: str | None) -> None:
    """Build the wheel, the Python environment archive, the jar, the entry script and a manifest."""
    from emr import aws_calls, package

    settings = settings_from(ctx, emr_release=emr_release, emr_artifacts=upload_to)
    if settings.emr_release != aws_calls.release_label():
        raise ConfigError(f"this ottlake targets {aws_calls.release_label()} (ottlake/platform.py), not "
                          f"{settings.emr_release}")
    with console.status("packaging") as status:
        built = package.build(out, architecture=architecture, on_step=lambda name: status.update(f"building {name}"))
        configurations = out / "cluster-configurations.json"
        configurations.write_text(json.dumps(aws_calls.cluster_configurations(), indent=2) + "\n", encoding="utf-8")
        uploaded = []
        if upload_to:
            status.update(f"uploading to {upload_to}")
            uploaded = package.upload(built, aws_calls.Artifacts(upload_to), settings.aws().client("s3"))
    table = Table(title=f"ottlake emr package ({built.manifest['emr_release']}, {built.manifest['architecture']})",
                  title_justify="left")
    table.add_column("artifact", no_wrap=True)
    table.add_column("bytes", justify="right")
    table.add_column("sha256", no_wrap=True)
    for name, facts in built.manifest["files"].items():
        table.add_row(Text(name), f"{facts['bytes']:,}", facts["sha256"][:16])
    console.print(table)
    _say(f"written to {out}")
    for url in uploaded:
        _say(f"uploaded {url}")
    arch = "ARM64" if built.manifest["architecture"] == "aarch64" else "X86_64"
    _say("EMR Serverless: aws emr-serverless create-application --type SPARK "
         f"--release-label {built.manifest['emr_release']} --architecture {arch} --name ottlake")
    _say(f"EMR on EC2: aws emr create-cluster --release-label {built.manifest['emr_release']} --applications "
         f"Name=Spark --configurations file://{configurations} --use-default-roles ...")


@emr_group.command("submit")
@click.option("--cluster-id", default=None, help="An EMR on EC2 cluster. Env: OTTLAKE_EMR_CLUSTER_ID.")
@click.option("--application-id", default=None, help="An EMR Serverless application. Env: OTTLAKE_EMR_APPLICATION_ID.")
@click.option("--lake", "lake_root", default=None, help="Lake root (s3://bucket/prefix). Env: OTTLAKE_LAKE.")
@click.option("--window", default=None, metavar="START/END", help="Only raw objects that arrived in these UTC hours.")
@click.option("--recompute", default=None, metavar="FROM/TO", help="Rebuild the derived tables of these session dates.")
@click.option("--artifacts", default=None, help="Where `emr package --upload` put the artifacts. Env: "
                                                "OTTLAKE_EMR_ARTIFACTS.")
@click.option("--job-role-arn", default=None, help="EMR Serverless's job role. Env: OTTLAKE_EMR_JOB_ROLE_ARN.")
@click.option("--release", "emr_release", default=None, help="EMR release. Env: OTTLAKE_EMR_RELEASE.")
@click.option("--wait/--no-wait", default=False, help="Follow the run to its end (as `emr status` does).")
@click.pass_context
def submit_command(ctx: click.Context, cluster_id: str | None, application_id: str | None, lake_root: str | None,
                   window: str | None, recompute: str | None, artifacts: str | None, job_role_arn: str | None,
                   emr_release: str | None, wait: bool) -> None:
    """Submit the step list (bronze, sessions, viewer sessions, aggregates) to EMR; prints the run's id."""
    from emr import runs
    from emr.steps import plan
    from spark_jobs.jobs.common import DateRange, Window

    settings = settings_from(ctx, emr_cluster_id=cluster_id, emr_application_id=application_id, lake=lake_root,
                             emr_artifacts=artifacts, emr_job_role_arn=job_role_arn, emr_release=emr_release)
    if bool(settings.emr_cluster_id) == bool(settings.emr_application_id):
        raise ConfigError("give one of --cluster-id (EMR on EC2) and --application-id (EMR Serverless)")
    if window and recompute:
        raise ConfigError("--window selects raw objects and --recompute session dates: give one of them")
    Window.parse(window), DateRange.parse(recompute)  # refused here, in one line, not on the cluster
    if not settings.lake.startswith("s3://"):
        raise ConfigError(f"EMR reads the lake from S3: --lake {settings.lake} is not an s3://bucket/prefix")
    where = _artifacts(settings)
    s3 = settings.aws().client("s3")
    runs.check_artifacts(s3, where, settings.emr_release)
    steps = plan(settings.lake, window=window, recompute=recompute)
    if settings.emr_cluster_id:
        record = runs.submit_ec2(settings.aws().client("emr"), s3, steps, where, settings.emr_cluster_id)
    else:
        record = runs.submit_serverless(settings.aws().client("emr-serverless"), s3, steps, where,
                                        settings.emr_application_id, settings.emr_job_role_arn)
    _say(f"submitted run {record.run_id}: {len(record.steps)} steps on {record.target}")
    if wait:
        _follow(settings, record.run_id, interval=15.0, timeout=None)
    else:
        _say(f"follow it with: ottlake emr status {record.run_id}")


def _render(progress, elapsed: float) -> Table:
    table = Table(title=f"run {progress.run_id}  {elapsed:,.0f} s", title_justify="left")
    table.add_column("step", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("seconds", justify="right")
    for step in progress.steps:
        table.add_row(Text(step.name), Text(f"{step.state} ({step.service_state})", style=_STATE_STYLE[step.state]),
                      "" if step.seconds is None else f"{step.seconds:,.0f}")
    return table


def _follow(settings: Settings, run_id: str, *, interval: float, timeout: float | None) -> None:
    from emr import runs

    store = runs.RunStore(settings.aws().client("s3"), _artifacts(settings))
    record = store.get(run_id)
    clients = ({"emr": settings.aws().client("emr")} if record.kind == "ec2"
               else {"serverless": settings.aws().client("emr-serverless")})
    began = time.monotonic()
    with Live(console=console, auto_refresh=False, transient=False) as live:
        progress = runs.follow(record, store, interval=interval, timeout=timeout,
                               on_progress=lambda p: live.update(_render(p, time.monotonic() - began), refresh=True),
                               **clients)
    failed = progress.failed
    if failed is not None:
        raise runs.EmrRunError(f"run {run_id}: step {failed.name} {failed.service_state}"
                               f"{': ' + failed.detail if failed.detail else ''}; logs: {failed.logs}")
    if not progress.done:
        raise runs.EmrRunError(f"run {run_id} still running after {timeout:,.0f} s: "
                               f"`ottlake emr status {run_id}` follows it again")
    _say(f"run {run_id} succeeded: {', '.join(step.name for step in progress.steps)}")


@emr_group.command("status")
@click.argument("run_id", metavar="RUN")
@click.option("--artifacts", default=None, help="Where the run is recorded. Env: OTTLAKE_EMR_ARTIFACTS.")
@click.option("--interval", type=float, default=15.0, show_default=True, help="Seconds between polls.")
@click.option("--timeout", type=float, default=None, help="Stop following after this many seconds (exit 1).")
@click.pass_context
def status_command(ctx: click.Context, run_id: str, artifacts: str | None, interval: float,
                   timeout: float | None) -> None:
    """Follow a run to its end: its steps, their states and times; exits non-zero naming the
    step that failed and where its logs are. On EMR Serverless it starts each step when the
    one before it has succeeded."""
    settings = settings_from(ctx, emr_artifacts=artifacts)
    _follow(settings, run_id, interval=interval, timeout=timeout)


COMMANDS: list[click.Command] = [emr_group]
