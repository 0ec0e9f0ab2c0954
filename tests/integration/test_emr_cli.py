"""The README's "On AWS" commands against the embedded emulator (issue 24): `emr package
--upload`, `emr submit` to EMR Serverless and to EMR on EC2, `emr status`, `infra apply
--schedule`, and their one-line refusals. moto serves EMR, EMR Serverless, S3 and
EventBridge Scheduler; it runs no Spark: a Serverless job run succeeds at once, an EC2
step stays running, and a cancelled job run is how a step fails here."""

from __future__ import annotations

import json

import pytest

from emr import aws_calls
from ottlake.cli.main import main

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LAKE = "s3://ottlake-lake/prod"
ARTIFACTS = "s3://ottlake-lake/artifacts/r1"
JOB_ROLE = "arn:aws:iam::123456789012:role/ottlake-jobs"
SCHEDULER_ROLE = "arn:aws:iam::123456789012:role/ottlake-scheduler"


@pytest.fixture
def env(ottlake_env, embedded_settings):
    ottlake_env.setenv("OTTLAKE_EMBEDDED_PORT", str(embedded_settings.embedded_port))
    ottlake_env.setenv("OTTLAKE_STATE_DIR", str(embedded_settings.state_dir))
    ottlake_env.setenv("OTTLAKE_LAKE", LAKE)
    ottlake_env.setenv("OTTLAKE_EMR_ARTIFACTS", ARTIFACTS)
    ottlake_env.setenv("OTTLAKE_EMR_JOB_ROLE_ARN", JOB_ROLE)
    return ottlake_env


@pytest.fixture(scope="module")
def uploaded(tmp_path_factory, embedded_settings):
    """`ottlake emr package --upload` once for the module, with the emulator's S3."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OTTLAKE_EMBEDDED_PORT", str(embedded_settings.embedded_port))
        patch.setenv("OTTLAKE_STATE_DIR", str(embedded_settings.state_dir))
        rc = main(["emr", "package", "--out", str(tmp_path_factory.mktemp("dist")), "--upload", ARTIFACTS])
    assert rc == 0
    return ARTIFACTS


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def _run_id(out: str) -> str:
    return out.split("submitted run ", 1)[1].split(":", 1)[0]


def _application(settings) -> str:
    # moto 5.2.5 takes release labels emr-X.Y.0 only (test_emr_emulator.py says why).
    return settings.aws().client("emr-serverless").create_application(
        name="ottlake", releaseLabel="emr-7.0.0", type="SPARK")["applicationId"]


def test_package_upload_writes_every_artifact_and_the_manifest(uploaded, embedded_settings) -> None:
    s3 = embedded_settings.aws().client("s3")
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket="ottlake-lake", Prefix="artifacts/r1/")["Contents"]}
    assert {f"artifacts/r1/{name}" for name in aws_calls.Artifacts(ARTIFACTS).required()} <= keys
    manifest = json.loads(s3.get_object(Bucket="ottlake-lake", Key="artifacts/r1/manifest.json")["Body"].read())
    assert manifest["emr_release"] == "emr-spark-8.1.0" and aws_calls.ENVIRONMENT_NAME in manifest["files"]


def test_serverless_submit_then_status_runs_every_step_in_order(uploaded, env, embedded_settings, capsys) -> None:
    app = _application(embedded_settings)
    rc, out, err = _cli(capsys, "emr", "submit", "--application-id", app)
    assert rc == 0, err
    run_id = _run_id(out)
    serverless = embedded_settings.aws().client("emr-serverless")
    assert [run["name"] for run in serverless.list_job_runs(applicationId=app)["jobRuns"]] == ["ottlake bronze"]

    rc, out, err = _cli(capsys, "emr", "status", run_id, "--interval", "0.1")
    assert rc == 0, err
    assert f"run {run_id} succeeded: bronze, sessions, viewer_sessions, aggregates" in out
    runs = serverless.list_job_runs(applicationId=app)["jobRuns"]
    assert sorted(run["name"] for run in runs) == sorted(
        ["ottlake bronze", "ottlake sessions", "ottlake viewer_sessions", "ottlake aggregates"])
    first = serverless.get_job_run(applicationId=app, jobRunId=next(
        run["id"] for run in runs if run["name"] == "ottlake sessions"))["jobRun"]
    assert first["jobDriver"]["sparkSubmit"]["entryPointArguments"] == [
        "spark_jobs.jobs.sessions", "--lake", LAKE, "--mode", "emr"]
    assert first["tags"] == {"ottlake-run": run_id, "ottlake-step": "sessions"}


def test_status_names_the_failed_step_and_its_logs(uploaded, env, embedded_settings, capsys) -> None:
    app = _application(embedded_settings)
    rc, out, _ = _cli(capsys, "emr", "submit", "--application-id", app, "--window", "2026-03-01T00/2026-03-02T00")
    run_id = _run_id(out)
    serverless = embedded_settings.aws().client("emr-serverless")
    bronze = serverless.list_job_runs(applicationId=app)["jobRuns"][0]["id"]
    serverless.cancel_job_run(applicationId=app, jobRunId=bronze)

    rc, out, err = _cli(capsys, "emr", "status", run_id, "--interval", "0.1")
    assert rc == 1
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "step bronze CANCELLED" in err
    assert f"logs: {ARTIFACTS}/logs/applications/{app}/jobs/{bronze}/SPARK_DRIVER/" in err
    assert len(serverless.list_job_runs(applicationId=app)["jobRuns"]) == 1  # nothing after the failed step


def test_ec2_submit_adds_the_steps_and_status_follows_them(uploaded, env, embedded_settings, capsys) -> None:
    emr = embedded_settings.aws().client("emr")
    cluster = emr.run_job_flow(Name="ottlake", ReleaseLabel="emr-spark-8.1.0", Applications=[{"Name": "Spark"}],
                               Instances={"InstanceCount": 1, "MasterInstanceType": "m7g.xlarge",
                                          "KeepJobFlowAliveWhenNoSteps": True},
                               JobFlowRole="EMR_EC2_DefaultRole", ServiceRole="EMR_DefaultRole",
                               LogUri="s3://ottlake-lake/emr-logs/")["JobFlowId"]
    rc, out, err = _cli(capsys, "emr", "submit", "--cluster-id", cluster)
    assert rc == 0, err
    listed = emr.list_steps(ClusterId=cluster)["Steps"]
    assert [step["Name"] for step in reversed(listed)] == [
        "ottlake bronze", "ottlake sessions", "ottlake viewer_sessions", "ottlake aggregates"]
    # moto runs no Spark: the first step stays RUNNING, so the follower stops at its timeout.
    rc, out, err = _cli(capsys, "emr", "status", _run_id(out), "--interval", "0.1", "--timeout", "0.3")
    assert rc == 1 and "still running after" in err
    assert "bronze" in out and "running (RUNNING)" in out and "pending (PENDING)" in out


@pytest.mark.parametrize(("args", "expected"), [
    (["emr", "submit", "--cluster-id", "j-NOSUCHCLUSTER"], "cluster j-NOSUCHCLUSTER: "),
    (["emr", "submit", "--cluster-id", "j-X", "--application-id", "00x"], "give one of --cluster-id"),
    (["emr", "submit", "--application-id", "00x", "--artifacts", "s3://ottlake-lake/nothing-here"],
     "missing in S3: s3://ottlake-lake/nothing-here/"),
    (["emr", "submit", "--application-id", "00x", "--window", "yesterday"], "window 'yesterday'"),
    (["emr", "submit", "--application-id", "00x", "--lake", "/local/lake"], "EMR reads the lake from S3"),
    (["emr", "status", "20260101T000000Z-abcdef"], "no run 20260101T000000Z-abcdef under"),
    (["emr", "submit", "--application-id", "00NOSUCHAPP"], "application 00NOSUCHAPP: "),
])
def test_bad_input_is_one_clear_line(uploaded, env, capsys, args, expected) -> None:
    rc, _, err = _cli(capsys, *args)
    assert rc != 0
    assert expected in err and err.count("\n") == 1 and "Traceback" not in err


def test_infra_apply_schedule_creates_the_hourly_and_daily_schedules(uploaded, env, embedded_settings,
                                                                     capsys) -> None:
    app = _application(embedded_settings)
    env.setenv("OTTLAKE_EMR_APPLICATION_ID", app)
    env.setenv("OTTLAKE_SCHEDULER_ROLE_ARN", SCHEDULER_ROLE)
    rc, out, err = _cli(capsys, "infra", "apply", "--schedule")
    assert rc == 0, err
    scheduler = embedded_settings.aws().client("scheduler")
    hourly = scheduler.get_schedule(Name="ottlake-batch-hourly", GroupName="ottlake")
    daily = scheduler.get_schedule(Name="ottlake-batch-daily", GroupName="ottlake")
    assert hourly["ScheduleExpression"] == "cron(10 * * * ? *)" and daily["ScheduleExpression"] == "cron(30 1 * * ? *)"
    assert daily["Target"]["Arn"] == "arn:aws:scheduler:::aws-sdk:emrserverless:startJobRun"
    assert daily["Target"]["RoleArn"] == SCHEDULER_ROLE
    request = json.loads(daily["Target"]["Input"])
    assert request["applicationId"] == app and request["executionRoleArn"] == JOB_ROLE
    assert request["jobDriver"]["sparkSubmit"]["entryPointArguments"] == [
        "batch", "--lake", LAKE, "--mode", "emr", "--window", "PT26H/<aws.scheduler.scheduled-time>"]
    hourly_request = json.loads(hourly["Target"]["Input"])
    assert hourly_request["jobDriver"]["sparkSubmit"]["entryPointArguments"] == ["batch", "--lake", LAKE, "--mode",
                                                                                  "emr"]
    # The scheduler's request is one EMR Serverless takes.
    serverless = embedded_settings.aws().client("emr-serverless")
    assert serverless.start_job_run(**request)["jobRunId"]

    rc, out, _ = _cli(capsys, "infra", "apply", "--schedule")
    assert rc == 0 and "ottlake-batch-daily" in out and "0 created" in out


def test_infra_apply_schedule_without_what_it_needs_is_refused(env, capsys) -> None:
    rc, _, err = _cli(capsys, "infra", "apply", "--schedule")
    assert rc != 0 and "--schedule needs OTTLAKE_EMR_ARTIFACTS" in err and err.count("\n") == 1
