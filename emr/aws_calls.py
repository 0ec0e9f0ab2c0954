"""The AWS requests of a batch run, built from the one step list (emr.steps).

- EMR on EC2: `add_job_flow_steps` (each step `command-runner.jar` running
  `spark-submit`; a failed step cancels the ones after it) and the configurations a
  new cluster needs (Delta through the `delta-defaults` classification, the Glue Data
  Catalog as the metastore, ottlake's Spark extension).
- EMR Serverless: one `start_job_run` a step (the entry script, its arguments, and
  `sparkSubmitParameters` with Delta's jars from EMR's own `/usr/share/aws/delta/lib/`,
  ottlake's jar and the Python environment archive).

Every request is checked against botocore's own model of the service (`validated`):
a request the service would refuse for its shape fails here, in one line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from emr.steps import StepRun
from ottlake.errors import ConfigError
from ottlake.platform import EMR_RELEASE
from spark_jobs.spark import COMMON_CONF

# What a session needs beside EMR's defaults (UTC, Delta's extension and catalog,
# ottlake's functions): the settings the local session has, from their one home.
SESSION_CONF: dict[str, str] = dict(COMMON_CONF)
# EMR Serverless has Delta's jars on its image, not on the class path (EMR Serverless
# user guide, "Using Delta Lake"); EMR on EC2 puts them there with delta-defaults.
SERVERLESS_DELTA_JARS = ("/usr/share/aws/delta/lib/delta-spark.jar", "/usr/share/aws/delta/lib/delta-storage.jar")
ENVIRONMENT = "environment"  # where spark.archives unpacks the Python environment


@dataclass(frozen=True)
class Artifacts:
    """What `ottlake emr package --upload` writes under one S3 prefix, and the steps read."""

    prefix: str  # s3://bucket/path

    def __post_init__(self) -> None:
        if not self.prefix.startswith("s3://") or len(self.prefix.rstrip("/")) <= len("s3://"):
            raise ConfigError(f"EMR artifacts {self.prefix!r}: an s3://bucket/prefix (OTTLAKE_EMR_ARTIFACTS)")

    def key(self, name: str) -> str:
        return f"{self.prefix.rstrip('/')}/{name}"

    @property
    def wheel(self) -> str:
        return self.key("ottlake-jobs.whl")

    @property
    def environment(self) -> str:
        return self.key("ottlake-environment.tar.gz")

    @property
    def jar(self) -> str:
        return self.key("ottlake-spark.jar")

    @property
    def entry(self) -> str:
        return self.key("ottlake_entry.py")

    @property
    def logs(self) -> str:
        return self.key("logs/")


def _python_conf(driver_env_prefix: str) -> dict[str, str]:
    python = f"./{ENVIRONMENT}/bin/python"
    return {
        f"{driver_env_prefix}PYSPARK_PYTHON": python,
        f"{driver_env_prefix}PYSPARK_DRIVER_PYTHON": python,
        "spark.executorEnv.PYSPARK_PYTHON": python,
    }


def _job_conf(artifacts: Artifacts, driver_env_prefix: str, run: StepRun, **extra: str) -> dict[str, str]:
    """A step's Spark settings: the session's, the Python environment archive and its
    interpreter (the driver's set under `driver_env_prefix`), `extra`, the step's own."""
    return {**SESSION_CONF, "spark.archives": f"{artifacts.environment}#{ENVIRONMENT}",
            **_python_conf(driver_env_prefix), **extra, **run.step.spark_conf}


def _conf_args(conf: Mapping[str, str]) -> list[str]:
    return [part for key, value in conf.items() for part in ("--conf", f"{key}={value}")]


def ec2_steps(runs: Sequence[StepRun], artifacts: Artifacts, *, action_on_failure: str = "CANCEL_AND_WAIT"
              ) -> list[dict[str, Any]]:
    """The `Steps` of add_job_flow_steps: `spark-submit` through command-runner.jar."""
    steps = []
    for run in runs:
        conf = _job_conf(artifacts, "spark.yarn.appMasterEnv.", run)
        args = ["spark-submit", "--deploy-mode", "cluster", *_conf_args(conf), "--jars", artifacts.jar,
                "--py-files", artifacts.wheel, artifacts.entry, run.step.module, *run.arguments]
        steps.append({"Name": f"ottlake {run.step.name}", "ActionOnFailure": action_on_failure,
                      "HadoopJarStep": {"Jar": "command-runner.jar", "Args": args}})
    return steps


def cluster_configurations() -> list[dict[str, Any]]:
    """The `Configurations` of a new cluster (run_job_flow) that runs the steps."""
    return [
        {"Classification": "delta-defaults", "Properties": {"delta.enabled": "true"}},
        {"Classification": "spark-hive-site", "Properties": {
            "hive.metastore.client.factory.class":
                "com.amazonaws.glue.catalog.metastore.AWSGlueDataCatalogHiveClientFactory"}},
        {"Classification": "spark-defaults", "Properties": dict(SESSION_CONF)},
    ]


def serverless_job_runs(runs: Sequence[StepRun], artifacts: Artifacts, *, application_id: str,
                        role_arn: str) -> list[dict[str, Any]]:
    """One start_job_run request a step."""
    requests = []
    for run in runs:
        conf = _job_conf(artifacts, "spark.emr-serverless.driverEnv.", run, **{
            "spark.jars": ",".join([*SERVERLESS_DELTA_JARS, artifacts.jar]), "spark.submit.pyFiles": artifacts.wheel})
        requests.append({
            "applicationId": application_id,
            "executionRoleArn": role_arn,
            "name": f"ottlake {run.step.name}",
            "jobDriver": {"sparkSubmit": {
                "entryPoint": artifacts.entry,
                "entryPointArguments": [run.step.module, *run.arguments],
                "sparkSubmitParameters": " ".join(_conf_args(conf)),
            }},
            "configurationOverrides": {"monitoringConfiguration": {
                "s3MonitoringConfiguration": {"logUri": artifacts.logs}}},
        })
    return requests


def release_label(release: str = EMR_RELEASE) -> str:
    """The ReleaseLabel of a cluster or application (emr-spark-8.1.0)."""
    return release


def validated(service: str, operation: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """`params` checked against botocore's model of `service`'s `operation` (what the
    SDK itself checks before it sends); ConfigError with botocore's report otherwise."""
    import botocore.session
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model(service).operation_model(operation)
    # The SDK fills idempotency tokens (clientToken) itself before it validates.
    tokens = {name: "token" for name, shape in model.input_shape.members.items()
              if shape.metadata.get("idempotencyToken") and name not in params}
    report = ParamValidator().validate({**params, **tokens}, model.input_shape)
    if report.has_errors():
        raise ConfigError(f"{service} {operation}: " + " ".join(report.generate_report().split()))
    return params
