"""The step list and the EMR requests built from it (issue 24): checked against
botocore's own models of `emr` and `emr-serverless`, no AWS call."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from emr import aws_calls as emr_requests
from emr.steps import STEPS, plan
from ottlake.errors import ConfigError
from ottlake.platform import EMR_RELEASE

ARTIFACTS = emr_requests.Artifacts("s3://ottlake-artifacts/release-1")
LAKE = "s3://ottlake-lake/prod"
ROOT = Path(__file__).resolve().parents[2]


def test_the_step_list_in_order_with_each_steps_arguments() -> None:
    runs = plan(LAKE, window="2026-11-24T00/2026-11-24T06")
    assert [(run.step.name, run.step.module) for run in runs] == [
        ("bronze", "spark_jobs.jobs.bronze"), ("sessions", "spark_jobs.jobs.sessions"),
        ("viewer_sessions", "spark_jobs.jobs.viewers"), ("aggregates", "spark_jobs.jobs.aggregates")]
    assert runs[0].arguments == ("--lake", LAKE, "--mode", "emr", "--window", "2026-11-24T00/2026-11-24T06")
    assert all(run.arguments == ("--lake", LAKE, "--mode", "emr") for run in runs[1:])


def test_a_recompute_runs_the_steps_that_rebuild_the_derived_tables() -> None:
    runs = plan(LAKE, recompute="2026-03-01/2026-03-07", mode="local")
    assert [run.step.name for run in runs] == ["sessions", "viewer_sessions", "aggregates"]
    assert {run.arguments for run in runs} == {("--lake", LAKE, "--mode", "local", "--recompute",
                                                "2026-03-01/2026-03-07")}


def test_every_job_module_of_the_list_takes_the_arguments_it_is_given() -> None:
    import importlib
    import inspect

    for step in STEPS:
        run = importlib.import_module(step.module).run
        assert ("recompute" in inspect.signature(run).parameters) == step.takes_recompute, step.name


def test_ec2_steps_are_valid_add_job_flow_steps_requests() -> None:
    steps = emr_requests.ec2_steps(plan(LAKE), ARTIFACTS)
    emr_requests.validated("emr", "AddJobFlowSteps", {"JobFlowId": "j-ABC", "Steps": steps})
    bronze = steps[0]
    assert bronze["Name"] == "ottlake bronze" and bronze["ActionOnFailure"] == "CANCEL_AND_WAIT"
    args = bronze["HadoopJarStep"]["Args"]
    assert bronze["HadoopJarStep"]["Jar"] == "command-runner.jar" and args[:3] == ["spark-submit", "--deploy-mode",
                                                                                     "cluster"]
    tail = args[args.index("--jars"):]
    assert tail == ["--jars", ARTIFACTS.jar, "--py-files", f"{ARTIFACTS.wheel},/usr/share/aws/delta/lib/delta-spark.jar",
                    ARTIFACTS.entry, "spark_jobs.jobs.bronze",
                    "--lake", LAKE, "--mode", "emr"]
    confs = dict(args[i + 1].split("=", 1) for i, arg in enumerate(args) if arg == "--conf")
    assert confs["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension,io.ottlake.spark.OttlakeExtensions"
    assert confs["spark.archives"] == f"{ARTIFACTS.environment}#environment"
    assert confs["spark.executorEnv.PYSPARK_PYTHON"] == "./environment/bin/python"


def test_a_new_clusters_configurations_are_a_valid_run_job_flow() -> None:
    request = {"Name": "ottlake", "ReleaseLabel": EMR_RELEASE, "Applications": [{"Name": "Spark"}],
               "Instances": {"InstanceCount": 3, "MasterInstanceType": "m7g.xlarge",
                             "SlaveInstanceType": "m7g.xlarge", "KeepJobFlowAliveWhenNoSteps": True},
               "Configurations": emr_requests.cluster_configurations(), "JobFlowRole": "EMR_EC2_DefaultRole",
               "ServiceRole": "EMR_DefaultRole"}
    emr_requests.validated("emr", "RunJobFlow", request)
    by_class = {c["Classification"]: c["Properties"] for c in request["Configurations"]}
    assert by_class["delta-defaults"] == {"delta.enabled": "true"}
    assert by_class["spark-hive-site"]["hive.metastore.client.factory.class"].endswith(
        "AWSGlueDataCatalogHiveClientFactory")


def test_serverless_job_runs_are_valid_start_job_run_requests() -> None:
    runs = emr_requests.serverless_job_runs(plan(LAKE), ARTIFACTS, application_id="00abc",
                                            role_arn="arn:aws:iam::123456789012:role/ottlake-jobs")
    for request in runs:
        emr_requests.validated("emr-serverless", "StartJobRun", request)
    driver = runs[0]["jobDriver"]["sparkSubmit"]
    assert driver["entryPoint"] == ARTIFACTS.entry
    assert driver["entryPointArguments"] == ["spark_jobs.jobs.bronze", "--lake", LAKE, "--mode", "emr"]
    params = driver["sparkSubmitParameters"]
    assert "--conf spark.emr-serverless.driverEnv.PYSPARK_PYTHON=./environment/bin/python" in params
    assert ("--conf spark.jars=/usr/share/aws/delta/lib/delta-spark.jar,/usr/share/aws/delta/lib/delta-storage.jar,"
            f"{ARTIFACTS.jar}") in params


def test_a_request_botocore_would_refuse_is_one_clear_line() -> None:
    steps = emr_requests.ec2_steps(plan(LAKE), ARTIFACTS)
    del steps[1]["HadoopJarStep"]
    steps[2]["HadoopJarStep"]["Args"] = "spark-submit"  # a string where a list goes
    with pytest.raises(ConfigError) as refused:
        emr_requests.validated("emr", "AddJobFlowSteps", {"JobFlowId": "j-ABC", "Steps": steps})
    message = str(refused.value)
    assert message.startswith("emr AddJobFlowSteps: ") and "\n" not in message
    assert 'Missing required parameter in Steps[1]: "HadoopJarStep"' in message
    assert "Invalid type for parameter Steps[2].HadoopJarStep.Args" in message
    with pytest.raises(ConfigError, match="an s3://bucket/prefix"):
        emr_requests.Artifacts("/local/folder")


def test_the_entry_script_runs_a_job_of_the_list_and_refuses_any_other_module() -> None:
    entry = ROOT / "emr" / "entry.py"
    listed = subprocess.run([sys.executable, str(entry), "spark_jobs.jobs.bronze", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0 and "--lake" in listed.stdout
    other = subprocess.run([sys.executable, str(entry), "os", "--help"], cwd=ROOT, capture_output=True, text=True,
                           timeout=60)
    assert other.returncode == 2 and "the first argument is batch or one of spark_jobs.jobs.bronze" in other.stderr
