"""The batch's schedules as EventBridge Scheduler schedules (`ottlake infra apply --schedule`).

Two schedules, in a schedule group of their own:
- hourly (`cron(10 * * * ? *)`, ten minutes past the hour, after the lake sink's and
  Firehose's buffers have flushed the hour's objects): the step list over the new raw
  objects;
- daily (`cron(30 1 * * ? *)`): the same over the 26 arrival hours before it
  (`--window PT26H/<aws.scheduler.scheduled-time>`, the scheduler writing its own time
  in: all of the day before, whatever minute it fires), which takes any object that
  landed further back than the hourly runs look
  (OTTLAKE_RAW_LOOKBACK_HOURS; spark_jobs.jobs.common.Bounds): nothing is left behind.

Each schedule calls an AWS API as a universal target, with the request built from the
step list (emr.aws_calls), so no other place knows the steps:
- EMR on EC2: `emr:addJobFlowSteps`, the four steps on the cluster;
- EMR Serverless: `emrserverless:startJobRun`, one job that runs the list in order
  (the entry script's `batch`), since a schedule starts one call and Serverless has no
  step queue.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from emr import aws_calls
from emr.aws_calls import Artifacts
from emr.steps import batch_arguments, plan
from ottlake.errors import ConfigError

GROUP = "ottlake"
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
DAILY_WINDOW = f"PT26H/{SCHEDULED_TIME}"


@dataclass(frozen=True)
class Cadence:
    name: str
    expression: str
    window: str | None
    description: str


CADENCES = (
    Cadence("ottlake-batch-hourly", "cron(10 * * * ? *)", None,
            "ottlake: the batch over the raw objects that are new (bronze, sessions, viewer sessions, aggregates)"),
    Cadence("ottlake-batch-daily", "cron(30 1 * * ? *)", DAILY_WINDOW,
            "ottlake: the batch over the 26 arrival hours before, for objects that landed late"),
)


def _target_request(cadence: Cadence, lake: str, artifacts: Artifacts, *, cluster_id: str | None,
                    application_id: str | None, job_role_arn: str | None) -> tuple[str, dict[str, Any]]:
    """(universal target ARN, the API request it sends), checked against botocore's model."""
    if bool(cluster_id) == bool(application_id):
        raise ConfigError("a schedule runs the steps on one EMR: set OTTLAKE_EMR_CLUSTER_ID or "
                          "OTTLAKE_EMR_APPLICATION_ID (not both)")
    if cluster_id:
        request = {"JobFlowId": cluster_id,
                   "Steps": aws_calls.ec2_steps(plan(lake, window=cadence.window), artifacts)}
        return "arn:aws:scheduler:::aws-sdk:emr:addJobFlowSteps", dict(
            aws_calls.validated("emr", "AddJobFlowSteps", request))
    if not job_role_arn:
        raise ConfigError("EMR Serverless runs the jobs as a role: set OTTLAKE_EMR_JOB_ROLE_ARN")
    request = aws_calls.serverless_batch_run(batch_arguments(lake, window=cadence.window), artifacts,
                                             application_id=str(application_id), role_arn=job_role_arn)
    return "arn:aws:scheduler:::aws-sdk:emrserverless:startJobRun", dict(
        aws_calls.validated("emr-serverless", "StartJobRun", request))


def schedule_requests(lake: str, artifacts: Artifacts, *, role_arn: str, cluster_id: str | None = None,
                      application_id: str | None = None, job_role_arn: str | None = None
                      ) -> list[dict[str, Any]]:
    """The create_schedule requests of the hourly and daily schedules."""
    requests = []
    for cadence in CADENCES:
        arn, request = _target_request(cadence, lake, artifacts, cluster_id=cluster_id,
                                       application_id=application_id, job_role_arn=job_role_arn)
        requests.append(aws_calls.validated("scheduler", "CreateSchedule", {
            "Name": cadence.name, "GroupName": GROUP, "ScheduleExpression": cadence.expression,
            "ScheduleExpressionTimezone": "UTC", "Description": cadence.description, "State": "ENABLED",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {"Arn": arn, "RoleArn": role_arn, "Input": json.dumps(request),
                       "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600}},
        }))
    return requests


def _update_of(request: Mapping[str, Any]) -> dict[str, Any]:
    # update_schedule takes the whole definition again (no partial update).
    return {key: value for key, value in request.items() if key != "ClientToken"}


def apply(scheduler, requests: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """Create the group and the schedules, or update them to the definitions: (resource,
    name, outcome) each, outcome created / changed / present."""
    outcomes = []
    try:
        scheduler.get_schedule_group(Name=GROUP)
        outcomes.append(("schedule group", GROUP, "present"))
    except scheduler.exceptions.ResourceNotFoundException:
        scheduler.create_schedule_group(Name=GROUP)
        outcomes.append(("schedule group", GROUP, "created"))
    for request in requests:
        try:
            current = scheduler.get_schedule(Name=request["Name"], GroupName=GROUP)
        except scheduler.exceptions.ResourceNotFoundException:
            scheduler.create_schedule(**request)
            outcomes.append(("schedule", request["Name"], "created"))
            continue
        same = (current.get("ScheduleExpression") == request["ScheduleExpression"]
                and current.get("Target", {}).get("Input") == request["Target"]["Input"]
                and current.get("Target", {}).get("Arn") == request["Target"]["Arn"]
                and current.get("State") == request["State"])
        if same:
            outcomes.append(("schedule", request["Name"], "present"))
        else:
            scheduler.update_schedule(**_update_of(request))
            outcomes.append(("schedule", request["Name"], "changed"))
    return outcomes
