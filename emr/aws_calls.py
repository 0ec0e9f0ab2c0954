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
from ottlake import __version__
from ottlake.errors import ConfigError
from ottlake.platform import EMR_RELEASE
from spark_jobs.spark import COMMON_CONF

# What a session needs beside EMR's defaults (UTC, Delta's extension and catalog,
# ottlake's functions): the settings the local session has, from their one home.
SESSION_CONF: dict[str, str] = dict(COMMON_CONF)
# EMR Serverless has Delta's jars on its image, not on the class path (EMR Serverless
# user guide, "Using Delta Lake"); EMR on EC2 puts them there with delta-defaults.
SERVERLESS_DELTA_JARS = ("/usr/share/aws/delta/lib/delta-spark.jar", "/usr/share/aws/delta/lib/delta-storage.jar")
# Delta's Python API (`delta.tables`) is inside its jar: on the Python path as a py-file,
# on both kinds of EMR (the jar is on every node of a release with Delta).
DELTA_PYTHON = SERVERLESS_DELTA_JARS[0]
ENVIRONMENT = "environment"  # where spark.archives unpacks the Python environment

# The artifacts' names under the prefix (emr.package builds them, these requests read them).
ENVIRONMENT_NAME = "ottlake-environment.tar.gz"
JAR_NAME = "ottlake-spark.jar"
ENTRY_NAME = "ottlake_entry.py"
MANIFEST_NAME = "manifest.json"
RUNS_FOLDER = "runs/"  # one JSON record a submitted run (emr.submit), read by `ottlake emr status`


def wheel_name(version: str = __version__) -> str:
    """The jobs' wheel, named as pip names it (a valid wheel name, installable as it is)."""
    return f"ottlake-{version}-py3-none-any.whl"


@dataclass(frozen=True)
class Artifacts:
    """What `ottlake emr package --upload` writes under one S3 prefix, and the steps read."""

    prefix: str  # s3://bucket/path

    def __post_init__(self) -> None:
        if not self.prefix.startswith("s3://") or len(self.prefix.rstrip("/")) <= len("s3://"):
            raise ConfigError(f"EMR artifacts {self.prefix!r}: an s3://bucket/prefix (OTTLAKE_EMR_ARTIFACTS)")

    def key(self, name: str) -> str:
        return f"{self.prefix.rstrip('/')}/{name}"

    def bucket_and_key(self, name: str) -> tuple[str, str]:
        """(bucket, key) of `name` under the prefix."""
        bucket, _, path = self.key(name)[len("s3://"):].partition("/")
        return bucket, path

    @property
    def wheel(self) -> str:
        return self.key(wheel_name())

    @property
    def environment(self) -> str:
        return self.key(ENVIRONMENT_NAME)

    @property
    def jar(self) -> str:
        return self.key(JAR_NAME)

    @property
    def entry(self) -> str:
        return self.key(ENTRY_NAME)

    @property
    def manifest(self) -> str:
        return self.key(MANIFEST_NAME)

    def required(self) -> dict[str, str]:
        """Every artifact a step reads, by name."""
        return {wheel_name(): self.wheel, ENVIRONMENT_NAME: self.environment, JAR_NAME: self.jar,
                ENTRY_NAME: self.entry, MANIFEST_NAME: self.manifest}

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


def _job_conf(artifacts: Artifacts, driver_env_prefix: str, step_conf: Mapping[str, str], **extra: str
              ) -> dict[str, str]:
    """A job's Spark settings: the session's, the Python environment archive and its
    interpreter (the driver's set under `driver_env_prefix`), `extra`, the step's own."""
    return {**SESSION_CONF, "spark.archives": f"{artifacts.environment}#{ENVIRONMENT}",
            **_python_conf(driver_env_prefix), **extra, **step_conf}


def _py_files(artifacts: Artifacts) -> str:
    return f"{artifacts.wheel},{DELTA_PYTHON}"


def conf_args(conf: Mapping[str, str]) -> list[str]:
    return [part for key, value in conf.items() for part in ("--conf", f"{key}={value}")]


def ec2_steps(runs: Sequence[StepRun], artifacts: Artifacts, *, action_on_failure: str = "CANCEL_AND_WAIT"
              ) -> list[dict[str, Any]]:
    """The `Steps` of add_job_flow_steps: `spark-submit` through command-runner.jar."""
    steps = []
    for run in runs:
        conf = _job_conf(artifacts, "spark.yarn.appMasterEnv.", run.step.spark_conf)
        args = ["spark-submit", "--deploy-mode", "cluster", *conf_args(conf), "--jars", artifacts.jar,
                "--py-files", _py_files(artifacts), artifacts.entry, run.step.module, *run.arguments]
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
    return [_serverless_run(f"ottlake {run.step.name}", [run.step.module, *run.arguments], run.step.spark_conf,
                            artifacts, application_id, role_arn) for run in runs]


def serverless_batch_run(entry_arguments: Sequence[str], artifacts: Artifacts, *, application_id: str,
                         role_arn: str) -> dict[str, Any]:
    """One start_job_run request that runs the whole list in one job (the entry script's
    `batch`, with emr.steps.batch_arguments): for a schedule that starts one job only."""
    from emr.entry import BATCH
    from emr.steps import STEPS

    conf = {key: value for step in STEPS for key, value in step.spark_conf.items()}
    return _serverless_run("ottlake batch", [BATCH, *entry_arguments], conf, artifacts, application_id, role_arn)


def _serverless_run(name: str, entry_arguments: Sequence[str], step_conf: Mapping[str, str], artifacts: Artifacts,
                    application_id: str, role_arn: str) -> dict[str, Any]:
    conf = _job_conf(artifacts, "spark.emr-serverless.driverEnv.", step_conf, **{
        "spark.jars": ",".join([*SERVERLESS_DELTA_JARS, artifacts.jar]), "spark.submit.pyFiles": _py_files(artifacts)})
    return {
        "applicationId": application_id,
        "executionRoleArn": role_arn,
        "name": name,
        "jobDriver": {"sparkSubmit": {
            "entryPoint": artifacts.entry,
            "entryPointArguments": list(entry_arguments),
            "sparkSubmitParameters": " ".join(conf_args(conf)),
        }},
        "configurationOverrides": {"monitoringConfiguration": {
            "s3MonitoringConfiguration": {"logUri": artifacts.logs}}},
    }


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
