"""The EMR requests built from the step list, sent to the embedded emulator (moto),
which accepts EMR's and EMR Serverless's calls: the cluster, its steps in order,
the application and one job run a step."""

from __future__ import annotations

import pytest

from emr import aws_calls
from emr.steps import plan
from ottlake.platform import EMR_RELEASE

pytestmark = pytest.mark.integration

ARTIFACTS = aws_calls.Artifacts("s3://ottlake-artifacts/release-1")


def test_ec2_steps_are_accepted_in_order(embedded_settings) -> None:
    emr = embedded_settings.aws().client("emr")
    cluster = aws_calls.validated("emr", "RunJobFlow", {
        "Name": "ottlake", "ReleaseLabel": EMR_RELEASE, "Applications": [{"Name": "Spark"}],
        "Instances": {"InstanceCount": 1, "MasterInstanceType": "m7g.xlarge", "KeepJobFlowAliveWhenNoSteps": True},
        "Configurations": aws_calls.cluster_configurations(), "JobFlowRole": "EMR_EC2_DefaultRole",
        "ServiceRole": "EMR_DefaultRole"})
    cluster_id = emr.run_job_flow(**cluster)["JobFlowId"]
    lake = "s3://ottlake-lake/prod"
    request = aws_calls.validated("emr", "AddJobFlowSteps",
                                  {"JobFlowId": cluster_id, "Steps": aws_calls.ec2_steps(plan(lake), ARTIFACTS)})
    step_ids = emr.add_job_flow_steps(**request)["StepIds"]
    assert len(step_ids) == 4
    listed = emr.list_steps(ClusterId=cluster_id)["Steps"]  # newest first
    assert [step["Name"] for step in reversed(listed)] == [
        "ottlake bronze", "ottlake sessions", "ottlake viewer_sessions", "ottlake aggregates"]
    bronze = emr.describe_step(ClusterId=cluster_id, StepId=step_ids[0])["Step"]
    assert bronze["Config"]["Args"][-5:] == ["spark_jobs.jobs.bronze", "--lake", lake, "--mode", "emr"]
    assert bronze["ActionOnFailure"] == "CANCEL_AND_WAIT"
    configurations = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Configurations"]
    assert {"Classification": "delta-defaults", "Properties": {"delta.enabled": "true"}} in configurations


def test_serverless_job_runs_are_accepted(embedded_settings) -> None:
    serverless = embedded_settings.aws().client("emr-serverless")
    # moto 5.2.5 knows release labels of the form emr-X.Y.0 only (its emrserverless
    # models.py); the application's label is the one call the emulator does not take
    # as AWS does, so it gets one it knows. The job runs are the requests under test.
    aws_calls.validated("emr-serverless", "CreateApplication",
                        {"name": "ottlake", "releaseLabel": EMR_RELEASE, "type": "SPARK"})
    app = serverless.create_application(name="ottlake", releaseLabel="emr-7.0.0", type="SPARK")["applicationId"]
    requests = aws_calls.serverless_job_runs(plan("s3://ottlake-lake/prod"), ARTIFACTS, application_id=app,
                                             role_arn="arn:aws:iam::123456789012:role/ottlake-jobs")
    runs = [serverless.start_job_run(**aws_calls.validated("emr-serverless", "StartJobRun", request))["jobRunId"]
            for request in requests]
    assert len(set(runs)) == 4
    first = serverless.get_job_run(applicationId=app, jobRunId=runs[0])["jobRun"]
    assert first["jobDriver"]["sparkSubmit"]["entryPointArguments"][0] == "spark_jobs.jobs.bronze"
    assert first["name"] == "ottlake bronze"
