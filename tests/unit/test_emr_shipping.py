"""Packaging, schedules and run records of `emr/` (issue 24), without AWS: what the
artifacts hold, the schedules' requests (checked against botocore's models), the
windows a schedule names, and how a run's states read."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from emr import aws_calls, package, runs, schedule
from emr.steps import batch_arguments, plan, runs_of
from ottlake.errors import ConfigError
from spark_jobs.jobs.common import Window

ARTIFACTS = aws_calls.Artifacts("s3://ottlake-artifacts/release-1")
LAKE = "s3://ottlake-lake/prod"
ROLE = "arn:aws:iam::123456789012:role/ottlake-scheduler"
JOB_ROLE = "arn:aws:iam::123456789012:role/ottlake-jobs"


def test_the_archive_holds_the_jobs_dependencies_not_emrs() -> None:
    names = {requirement.split("==")[0].lower() for requirement in package.job_requirements()}
    assert {"great-expectations", "pyarrow", "pandas", "boto3", "jsonschema", "orjson", "pydantic-settings"} <= names
    # EMR's own, and what only the local pipeline needs (the KCL, delta-rs, DuckDB, the emulator).
    assert not names & {"pyspark", "delta-spark", "amazon-kclpy", "deltalake", "duckdb", "moto", "pytest"}
    assert all("==" in requirement for requirement in package.job_requirements())  # pinned


def test_the_interpreter_links_so_venv_pack_points_them_at_emrs_python(tmp_path) -> None:
    venv = tmp_path / "environment"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /opt/python/bin\nversion = 3.11.7\n")
    (venv / "bin" / "python3.11").symlink_to("/opt/python/bin/python3.11")
    (venv / "bin" / "python").symlink_to("python3.11")
    package._link_interpreter_plainly(venv)
    import os

    assert os.readlink(venv / "bin" / "python3.11") == "/opt/python/bin/python"
    assert os.readlink(venv / "bin" / "python") == "python3.11"  # relative links stay


def test_an_unknown_architecture_is_refused(tmp_path) -> None:
    with pytest.raises(ConfigError, match="architecture must be one of"):
        package.build(tmp_path, architecture="sparc")


def test_the_artifacts_names_and_keys() -> None:
    assert ARTIFACTS.wheel == "s3://ottlake-artifacts/release-1/ottlake-0.1.0-py3-none-any.whl"
    assert ARTIFACTS.bucket_and_key("manifest.json") == ("ottlake-artifacts", "release-1/manifest.json")
    assert set(ARTIFACTS.required()) == {aws_calls.wheel_name(), "ottlake-environment.tar.gz", "ottlake-spark.jar",
                                         "ottlake_entry.py", "manifest.json"}


def test_a_schedule_window_is_a_duration_before_the_schedules_time() -> None:
    assert Window.parse("PT26H/2026-12-07T01:30:00Z") == Window(datetime(2026, 12, 5, 23, 30),
                                                                datetime(2026, 12, 7, 1, 30))
    assert Window.parse("2026-12-06T00/P1D") == Window(datetime(2026, 12, 6), datetime(2026, 12, 7))
    assert Window.parse("P1DT2H/2026-12-07T02:00:00+00:00").start == datetime(2026, 12, 6)
    for bad, reason in [("P1X/2026-12-07T01", "not a duration of days and hours"),
                        ("P1D/PT2H", "a duration needs a date-time on the other side"),
                        ("P/2026-12-07T01", "not a duration")]:
        with pytest.raises(ConfigError, match=reason):
            Window.parse(bad)


def test_the_batch_entry_reads_back_the_plan_it_was_given() -> None:
    arguments = batch_arguments(LAKE, window="PT26H/2026-12-07T01:30:00Z")
    assert runs_of(arguments) == plan(LAKE, window="PT26H/2026-12-07T01:30:00Z")
    assert runs_of(batch_arguments(LAKE, recompute="2026-03-01/2026-03-02")) == plan(
        LAKE, recompute="2026-03-01/2026-03-02")


def test_serverless_schedules_start_one_job_that_runs_the_list() -> None:
    hourly, daily = schedule.schedule_requests(LAKE, ARTIFACTS, role_arn=ROLE, application_id="00abc",
                                               job_role_arn=JOB_ROLE)
    assert (hourly["Name"], daily["Name"]) == ("ottlake-batch-hourly", "ottlake-batch-daily")
    assert hourly["ScheduleExpressionTimezone"] == "UTC" and hourly["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = json.loads(daily["Target"]["Input"])
    aws_calls.validated("emr-serverless", "StartJobRun", target)
    assert target["name"] == "ottlake batch"
    assert target["jobDriver"]["sparkSubmit"]["entryPointArguments"] == [
        "batch", "--lake", LAKE, "--mode", "emr", "--window", "PT26H/<aws.scheduler.scheduled-time>"]


def test_ec2_schedules_add_the_steps_with_the_window_on_bronze_only() -> None:
    _, daily = schedule.schedule_requests(LAKE, ARTIFACTS, role_arn=ROLE, cluster_id="j-ABC")
    assert daily["Target"]["Arn"] == "arn:aws:scheduler:::aws-sdk:emr:addJobFlowSteps"
    steps = json.loads(daily["Target"]["Input"])["Steps"]
    args = [step["HadoopJarStep"]["Args"] for step in steps]
    assert args[0][-2:] == ["--window", "PT26H/<aws.scheduler.scheduled-time>"]
    assert all("--window" not in step_args for step_args in args[1:])


@pytest.mark.parametrize(("options", "reason"), [
    ({"cluster_id": "j-A", "application_id": "00a"}, "not both"),
    ({}, "set OTTLAKE_EMR_CLUSTER_ID or OTTLAKE_EMR_APPLICATION_ID"),
    ({"application_id": "00a"}, "OTTLAKE_EMR_JOB_ROLE_ARN"),
])
def test_a_schedule_without_one_emr_is_refused(options, reason) -> None:
    with pytest.raises(ConfigError, match=reason):
        schedule.schedule_requests(LAKE, ARTIFACTS, role_arn=ROLE, **options)


def _progress(*states: str) -> runs.Progress:
    return runs.Progress("r1", [runs.StepState(f"s{i}", state, state.upper()) for i, state in enumerate(states)])


def test_a_run_is_done_when_every_step_succeeded_or_one_failed() -> None:
    assert _progress("succeeded", "succeeded").done and _progress("succeeded", "succeeded").failed is None
    assert not _progress("succeeded", "running").done
    assert not _progress("pending", "pending").done
    failed = _progress("succeeded", "failed", "pending")
    assert failed.done and failed.failed.name == "s1"


def test_every_state_of_both_services_reads_as_one_of_four() -> None:
    import botocore.session

    session = botocore.session.get_session()
    step_states = session.get_service_model("emr").shape_for("StepState").enum
    job_states = session.get_service_model("emr-serverless").shape_for("JobRunState").enum
    assert set(step_states) == set(runs.EC2_STATES)
    assert set(job_states) == set(runs.SERVERLESS_STATES)


def test_a_run_record_round_trips_as_json() -> None:
    record = runs.RunRecord("20261207T000000Z-abc123", "serverless", "00abc", ARTIFACTS.prefix, "2026-12-07",
                            [runs.StepRecord("bronze", "jr-1", {"name": "ottlake bronze"}),
                             runs.StepRecord("sessions")])
    assert runs.RunRecord.from_json(record.to_json()) == record
