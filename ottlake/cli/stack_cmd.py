"""`ottlake stack up|down|status` and `ottlake infra apply`: thin over ottlake.services.stack and ottlake.services.infra."""

from __future__ import annotations

import click
from rich.table import Table
from rich.text import Text

from ottlake.cli.common import console, settings_from
from ottlake.services import infra, stack
from ottlake.settings import Settings

_OUTCOME_STYLE = {"created": "green", "changed": "yellow", "present": "dim", "skipped": "dim"}


def _say(message: str) -> None:
    # Names and paths are user data: never let rich read them as markup.
    console.print(message, markup=False, soft_wrap=True)


def _where(settings: Settings) -> str:
    return "LocalStack" if settings.aws_endpoint == "localstack" else "the emulator"


@click.group("stack")
def stack_group() -> None:
    """The local AWS stack (Kinesis, S3, DynamoDB, Firehose on 127.0.0.1).

    Embedded by default: moto served over HTTP/1.1 and HTTP/2 on the port in
    OTTLAKE_EMBEDDED_PORT, with its pid and log under --state-dir. With
    OTTLAKE_AWS_ENDPOINT=localstack nothing is started: these commands find
    the LocalStack you run.
    """


@stack_group.command("up")
@click.option("--timeout", "timeout_s", type=float, default=30.0, show_default=True,
              help="Seconds to wait until the stack answers an API call.")
@click.pass_context
def up_command(ctx: click.Context, timeout_s: float) -> None:
    """Start the embedded stack in the background (a no-op if it runs), or check LocalStack."""
    settings = settings_from(ctx)
    was_running = settings.aws_endpoint == "embedded" and stack.status(settings).running
    running = stack.up(settings, timeout_s=timeout_s)
    if settings.aws_endpoint != "embedded":
        _say(f"{_where(settings)} answers at {running.endpoint_url}; nothing to start")
    elif was_running:
        _say(f"already running: pid {running.pid} at {running.endpoint_url} (log {running.log_path})")
    else:
        _say(f"started: pid {running.pid} at {running.endpoint_url} (log {running.log_path})")


@stack_group.command("down")
@click.option("--timeout", "timeout_s", type=float, default=10.0, show_default=True,
              help="Seconds to wait after SIGTERM before SIGKILL.")
@click.pass_context
def down_command(ctx: click.Context, timeout_s: float) -> None:
    """Stop the embedded stack (its data is in memory and goes with it)."""
    settings = settings_from(ctx)
    if settings.aws_endpoint != "embedded":
        _say(f"nothing to stop: aws_endpoint is {settings.aws_endpoint}, which ottlake does not run")
        return
    if stack.down(settings, timeout_s=timeout_s):
        _say(f"stopped the stack at {settings.embedded_url}")
    else:
        _say(f"not running (no live stack recorded in {stack.pid_path(settings)})")


@stack_group.command("status")
@click.pass_context
def status_command(ctx: click.Context) -> None:
    """Say whether the stack runs, where, and where its log is."""
    settings = settings_from(ctx)
    if settings.aws_endpoint == "aws":
        _say(f"aws_endpoint is aws: no local stack; boto3 talks to AWS in {settings.region}")
        return
    found = stack.status(settings)
    if settings.aws_endpoint != "embedded":
        state = "answers" if found.running else "does not answer"
        _say(f"{_where(settings)} {state} at {found.endpoint_url}")
    elif found.running:
        _say(f"running: pid {found.pid} at {found.endpoint_url} (log {found.log_path})")
    else:
        _say(f"not running (would listen at {found.endpoint_url}; start it with `ottlake stack up`)")


@click.group("infra")
def infra_group() -> None:
    """Provision the streams, bucket and tables the pipeline needs."""


@infra_group.command("apply")
@click.option("--schedule", is_flag=True,
              help="Also the batch's hourly and daily EventBridge Scheduler schedules on EMR "
                   "(OTTLAKE_EMR_CLUSTER_ID or OTTLAKE_EMR_APPLICATION_ID, OTTLAKE_EMR_ARTIFACTS, "
                   "OTTLAKE_SCHEDULER_ROLE_ARN, OTTLAKE_LAKE on S3).")
@click.pass_context
def apply_command(ctx: click.Context, schedule: bool) -> None:
    """Create what is missing and reshard what differs; safe to run again.

    The same for the emulator and AWS; the Firehose delivery stream only on AWS
    (it needs OTTLAKE_FIREHOSE_ROLE_ARN there). With the lake on S3
    (OTTLAKE_LAKE=s3://bucket/prefix), the lake's tables are registered in the
    Glue Data Catalog (database OTTLAKE_GLUE_DATABASE) for Athena and EMR.
    """
    settings = settings_from(ctx)
    schedules = _schedule_requests(settings) if schedule else []  # refused before anything is created
    actions = infra.apply(settings)
    if schedule:
        from emr import schedule as emr_schedule

        actions += [infra.Action(resource, name, outcome) for resource, name, outcome in
                    emr_schedule.apply(settings.aws().client("scheduler"), schedules)]
    table = Table(title=f"infra apply ({settings.aws_endpoint})")
    # Names are what a user copies into other commands: never truncate them.
    table.add_column("resource", no_wrap=True)
    table.add_column("name", no_wrap=True)
    table.add_column("outcome", no_wrap=True)
    table.add_column("detail")
    for action in actions:
        table.add_row(
            Text(action.resource), Text(action.name),
            Text(action.outcome, style=_OUTCOME_STYLE[action.outcome]), Text(action.detail),
        )
    console.print(table)
    counts = {outcome: sum(a.outcome == outcome for a in actions) for outcome in _OUTCOME_STYLE}
    _say(", ".join(f"{count} {outcome}" for outcome, count in counts.items()))


def _schedule_requests(settings: Settings) -> list[dict]:
    from emr import schedule as emr_schedule
    from emr.aws_calls import Artifacts
    from ottlake.errors import ConfigError

    if not settings.lake.startswith("s3://"):
        raise ConfigError(f"the schedules run the batch on EMR, which reads the lake from S3: OTTLAKE_LAKE "
                          f"{settings.lake} is not an s3://bucket/prefix")
    if not settings.emr_artifacts or not settings.scheduler_role_arn:
        raise ConfigError("--schedule needs OTTLAKE_EMR_ARTIFACTS (where `ottlake emr package --upload` put the "
                          "artifacts) and OTTLAKE_SCHEDULER_ROLE_ARN (the role the scheduler starts EMR as)")
    return emr_schedule.schedule_requests(
        settings.lake, Artifacts(settings.emr_artifacts), role_arn=settings.scheduler_role_arn,
        cluster_id=settings.emr_cluster_id, application_id=settings.emr_application_id,
        job_role_arn=settings.emr_job_role_arn)


COMMANDS = [stack_group, infra_group]
