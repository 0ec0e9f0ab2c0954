"""Submitting the step list to EMR and following a run to its end.

A run is recorded as JSON under the artifacts' prefix (`runs/<run id>.json`), so
`ottlake emr status RUN` follows it from any machine that reaches the prefix.

- EMR on EC2: every step is added at once (`add_job_flow_steps`); the cluster runs
  them in order and a failed one cancels the rest (CANCEL_AND_WAIT).
- EMR Serverless has no step queue: `submit` starts the first step's job run and the
  follower (`status`, or `submit --wait`) starts each next one when the one before
  it has succeeded, as the schedule's Airflow DAG chains them. An interrupted
  follower loses nothing: `status RUN` picks the run up where the record says.

What a follower sees each poll is a `Progress`: every step with its state, and the
verdict (running, succeeded, or failed naming the step and where its logs are).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from emr import aws_calls
from emr.aws_calls import RUNS_FOLDER, Artifacts
from emr.steps import StepRun
from ottlake.errors import ConfigError, OttlakeError

Kind = Literal["ec2", "serverless"]
# States as each service names them, read as one of four.
PENDING, RUNNING, SUCCEEDED, FAILED = "pending", "running", "succeeded", "failed"
EC2_STATES = {"PENDING": PENDING, "CANCEL_PENDING": RUNNING, "RUNNING": RUNNING, "COMPLETED": SUCCEEDED,
              "CANCELLED": FAILED, "FAILED": FAILED, "INTERRUPTED": FAILED}
SERVERLESS_STATES = {"SUBMITTED": PENDING, "PENDING": PENDING, "SCHEDULED": PENDING, "QUEUED": PENDING,
                     "RUNNING": RUNNING, "SUCCESS": SUCCEEDED, "FAILED": FAILED, "CANCELLING": RUNNING,
                     "CANCELLED": FAILED}


class EmrRunError(OttlakeError):
    """A run on EMR failed, or cannot be submitted or found."""


@dataclass
class StepRecord:
    name: str
    id: str | None = None  # step id (EC2) or job run id (Serverless); None until started
    request: dict[str, Any] | None = None  # Serverless: the start_job_run request, sent when its turn comes


@dataclass
class RunRecord:
    run_id: str
    kind: Kind
    target: str  # cluster id or application id
    artifacts: str
    submitted: str
    steps: list[StepRecord] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> RunRecord:
        data = json.loads(text)
        return cls(**{**data, "steps": [StepRecord(**step) for step in data["steps"]]})


@dataclass(frozen=True)
class StepState:
    name: str
    state: str  # PENDING .. FAILED above
    service_state: str  # as EMR says it ("not started" before a Serverless step starts)
    detail: str = ""  # why it failed, as EMR says
    logs: str = ""  # where its logs are
    seconds: float | None = None


@dataclass(frozen=True)
class Progress:
    run_id: str
    steps: list[StepState]

    @property
    def failed(self) -> StepState | None:
        return next((step for step in self.steps if step.state == FAILED), None)

    @property
    def done(self) -> bool:
        return self.failed is not None or all(step.state == SUCCEEDED for step in self.steps)


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def _error_code(exc: Exception) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)


def _error_message(exc: Exception) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Message", str(exc))


class RunStore:
    """Run records under the artifacts' prefix."""

    def __init__(self, s3, artifacts: Artifacts) -> None:
        self.s3, self.artifacts = s3, artifacts

    def put(self, record: RunRecord) -> None:
        bucket, key = self.artifacts.bucket_and_key(f"{RUNS_FOLDER}{record.run_id}.json")
        self.s3.put_object(Bucket=bucket, Key=key, Body=record.to_json().encode(), ContentType="application/json")

    def get(self, run_id: str) -> RunRecord:
        bucket, key = self.artifacts.bucket_and_key(f"{RUNS_FOLDER}{run_id}.json")
        try:
            body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:
            if _error_code(exc) in ("NoSuchKey", "404", "NoSuchBucket"):
                raise EmrRunError(f"no run {run_id} under {self.artifacts.key(RUNS_FOLDER)}") from None
            raise EmrRunError(f"reading run {run_id}: {_error_message(exc)}") from None
        return RunRecord.from_json(body.decode())


def check_artifacts(s3, artifacts: Artifacts, release: str) -> dict[str, Any]:
    """Every artifact a step reads is under the prefix, built for `release`; the manifest."""
    missing = []
    for name, url in artifacts.required().items():
        bucket, key = artifacts.bucket_and_key(name)
        try:
            s3.head_object(Bucket=bucket, Key=key)
        except Exception as exc:
            if _error_code(exc) in ("404", "NoSuchKey", "NotFound", "NoSuchBucket", "403"):
                missing.append(url)
                continue
            raise EmrRunError(f"checking {url}: {_error_message(exc)}") from None
    if missing:
        raise EmrRunError(f"missing in S3: {', '.join(missing)}: run `ottlake emr package --upload "
                          f"{artifacts.prefix}` first")
    bucket, key = artifacts.bucket_and_key(aws_calls.MANIFEST_NAME)
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    if manifest.get("emr_release") != release:
        raise EmrRunError(f"the artifacts under {artifacts.prefix} were built for {manifest.get('emr_release')}, "
                          f"not {release} (OTTLAKE_EMR_RELEASE): package them again")
    return manifest


def submit_ec2(emr, s3, runs: Sequence[StepRun], artifacts: Artifacts, cluster_id: str) -> RunRecord:
    try:
        cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
    except Exception as exc:
        raise EmrRunError(f"cluster {cluster_id}: {_error_message(exc)}") from None
    state = cluster["Status"]["State"]
    if state.startswith("TERMINAT"):
        raise EmrRunError(f"cluster {cluster_id} is {state}: create one with the configurations "
                          "`ottlake emr package` writes (cluster-configurations.json)")
    request = aws_calls.validated("emr", "AddJobFlowSteps",
                                  {"JobFlowId": cluster_id, "Steps": aws_calls.ec2_steps(runs, artifacts)})
    try:
        ids = emr.add_job_flow_steps(**request)["StepIds"]
    except Exception as exc:
        raise EmrRunError(f"add_job_flow_steps on {cluster_id}: {_error_message(exc)}") from None
    record = RunRecord(new_run_id(), "ec2", cluster_id, artifacts.prefix, datetime.now(UTC).isoformat(),
                       [StepRecord(run.step.name, step_id) for run, step_id in zip(runs, ids, strict=True)])
    RunStore(s3, artifacts).put(record)
    return record


def submit_serverless(serverless, s3, runs: Sequence[StepRun], artifacts: Artifacts, application_id: str,
                      role_arn: str | None) -> RunRecord:
    if not role_arn:
        raise ConfigError("EMR Serverless runs the jobs as a role: set OTTLAKE_EMR_JOB_ROLE_ARN or --job-role-arn")
    try:
        application = serverless.get_application(applicationId=application_id)["application"]
    except Exception as exc:
        raise EmrRunError(f"application {application_id}: {_error_message(exc)}") from None
    if application["state"] in ("STOPPING", "TERMINATED"):
        raise EmrRunError(f"application {application_id} is {application['state']}")
    requests = [aws_calls.validated("emr-serverless", "StartJobRun", request) for request in
                aws_calls.serverless_job_runs(runs, artifacts, application_id=application_id, role_arn=role_arn)]
    record = RunRecord(new_run_id(), "serverless", application_id, artifacts.prefix, datetime.now(UTC).isoformat(),
                       [StepRecord(run.step.name, None, dict(request)) for run, request in
                        zip(runs, requests, strict=True)])
    _start_next(serverless, record)
    RunStore(s3, artifacts).put(record)
    return record


def _start_next(serverless, record: RunRecord) -> StepRecord | None:
    """Start the first step not yet started (Serverless); None when all are."""
    step = next((step for step in record.steps if step.id is None), None)
    if step is None:
        return None
    request = dict(step.request or {})
    request["tags"] = {"ottlake-run": record.run_id, "ottlake-step": step.name}
    try:
        step.id = serverless.start_job_run(**request)["jobRunId"]
    except Exception as exc:
        raise EmrRunError(f"start_job_run of step {step.name}: {_error_message(exc)}") from None
    return step


def _seconds(start: Any, end: Any) -> float | None:
    if not start:
        return None
    end = end or datetime.now(UTC)
    return max(0.0, (end - start).total_seconds())


def poll(record: RunRecord, emr=None, serverless=None) -> Progress:
    """Every step's state now."""
    states = []
    if record.kind == "ec2":
        cluster = emr.describe_cluster(ClusterId=record.target)["Cluster"]
        log_uri = (cluster.get("LogUri") or "").replace("s3n://", "s3://").rstrip("/")
        for step in record.steps:
            described = emr.describe_step(ClusterId=record.target, StepId=step.id)["Step"]
            status = described["Status"]
            reason = status.get("FailureDetails", {}) or {}
            logs = reason.get("LogFile") or (f"{log_uri}/{record.target}/steps/{step.id}/" if log_uri else
                                             "the cluster has no LogUri: see the step in the EMR console")
            timeline = status.get("Timeline", {})
            states.append(StepState(step.name, EC2_STATES.get(status["State"], RUNNING), status["State"],
                                    reason.get("Message") or reason.get("Reason") or status.get("StateChangeReason",
                                                                                                {}).get("Message", ""),
                                    logs, _seconds(timeline.get("StartDateTime"), timeline.get("EndDateTime"))))
        return Progress(record.run_id, states)
    logs_root = Artifacts(record.artifacts).logs.rstrip("/")
    for step in record.steps:
        if step.id is None:
            states.append(StepState(step.name, PENDING, "not started"))
            continue
        run = serverless.get_job_run(applicationId=record.target, jobRunId=step.id)["jobRun"]
        states.append(StepState(step.name, SERVERLESS_STATES.get(run["state"], RUNNING), run["state"],
                                run.get("stateDetails", ""),
                                f"{logs_root}/applications/{record.target}/jobs/{step.id}/SPARK_DRIVER/",
                                _seconds(run.get("createdAt"), run.get("endedAt") if run["state"] in (
                                    "SUCCESS", "FAILED", "CANCELLED") else None)))
    return Progress(record.run_id, states)


def follow(record: RunRecord, store: RunStore, *, emr=None, serverless=None, interval: float = 15.0,
           timeout: float | None = None, on_progress: Callable[[Progress], None] = lambda _p: None,
           sleep: Callable[[float], None] = time.sleep) -> Progress:
    """Poll until the run ends (or `timeout` seconds pass); on Serverless, start each
    step when the one before it has succeeded, recording it."""
    began = time.monotonic()
    while True:
        progress = poll(record, emr, serverless)
        if record.kind == "serverless" and not progress.failed:
            started = [state for state in progress.steps if state.service_state != "not started"]
            if started and all(state.state == SUCCEEDED for state in started) and len(started) < len(record.steps):
                _start_next(serverless, record)
                store.put(record)
                continue
        on_progress(progress)
        if progress.done or (timeout is not None and time.monotonic() - began >= timeout):
            return progress
        sleep(interval)
