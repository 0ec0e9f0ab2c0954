"""The batch on EMR from Amazon MWAA (Airflow 3): an hourly and a daily DAG.

Put this file in the MWAA environment's `dags/` folder and ottlake in its
`requirements.txt` (the wheel that `ottlake emr package` builds, from the artifacts'
prefix); set the settings as environment variables of the environment, as everywhere:
OTTLAKE_LAKE (s3://...), OTTLAKE_EMR_ARTIFACTS, and OTTLAKE_EMR_APPLICATION_ID with
OTTLAKE_EMR_JOB_ROLE_ARN (EMR Serverless) or OTTLAKE_EMR_CLUSTER_ID (EMR on EC2).

The tasks come from the one step list (emr.steps) and the requests built from it
(emr.aws_calls), through the Amazon provider's operators:
- EMR Serverless: one EmrServerlessStartJobOperator a step, each waiting for its job
  run and the next starting after it has succeeded;
- EMR on EC2: EmrAddStepsOperator adds the steps, one EmrStepSensor a step follows them.
The hourly DAG takes the raw objects that are new; the daily one the 26 arrival hours
before its run's end (`--window PT26H/<data interval end>`), as the EventBridge
schedule does (emr.schedule).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.amazon.aws.operators.emr import EmrAddStepsOperator, EmrServerlessStartJobOperator
from airflow.providers.amazon.aws.sensors.emr import EmrStepSensor
from airflow.sdk import DAG

from emr import aws_calls
from emr.schedule import CADENCES, SCHEDULED_TIME
from emr.steps import plan
from ottlake.errors import ConfigError
from ottlake.settings import Settings

# Airflow's name for the schedule's own time, where EventBridge Scheduler writes its own.
DATA_INTERVAL_END = "{{ data_interval_end.isoformat() }}"
START = datetime(2026, 1, 1)


def _cron(expression: str) -> str:
    """An EventBridge `cron(m h dom mon dow year)` as Airflow's five fields."""
    minute, hour, day, month, weekday, _year = expression.removeprefix("cron(").removesuffix(")").split()
    return " ".join([minute, hour, day, month, "*" if weekday == "?" else weekday])


def build(settings: Settings) -> list[DAG]:
    if not settings.emr_artifacts or not settings.lake.startswith("s3://"):
        raise ConfigError("set OTTLAKE_LAKE (s3://...) and OTTLAKE_EMR_ARTIFACTS for the ottlake DAGs")
    if bool(settings.emr_cluster_id) == bool(settings.emr_application_id):
        raise ConfigError("set OTTLAKE_EMR_CLUSTER_ID or OTTLAKE_EMR_APPLICATION_ID (one) for the ottlake DAGs")
    artifacts = aws_calls.Artifacts(settings.emr_artifacts)
    dags = []
    for cadence in CADENCES:
        window = cadence.window.replace(SCHEDULED_TIME, DATA_INTERVAL_END) if cadence.window else None
        runs = plan(settings.lake, window=window)
        with DAG(cadence.name, schedule=_cron(cadence.expression), start_date=START, catchup=False,
                 max_active_runs=1, description=cadence.description, tags=["ottlake"],
                 default_args={"retries": 1, "retry_delay": timedelta(minutes=5)}) as dag:
            if settings.emr_cluster_id:
                add = EmrAddStepsOperator(task_id="add_steps", job_flow_id=settings.emr_cluster_id,
                                          steps=aws_calls.ec2_steps(runs, artifacts))
                previous = add
                for index, run in enumerate(runs):
                    sensor = EmrStepSensor(
                        task_id=run.step.name, job_flow_id=settings.emr_cluster_id,
                        step_id=f"{{{{ task_instance.xcom_pull(task_ids='add_steps')[{index}] }}}}")
                    previous >> sensor
                    previous = sensor
            else:
                if not settings.emr_job_role_arn:
                    raise ConfigError("set OTTLAKE_EMR_JOB_ROLE_ARN for the ottlake DAGs on EMR Serverless")
                previous = None
                requests = aws_calls.serverless_job_runs(runs, artifacts, application_id=settings.emr_application_id,
                                                         role_arn=settings.emr_job_role_arn)
                for run, request in zip(runs, requests, strict=True):
                    task = EmrServerlessStartJobOperator(
                        task_id=run.step.name, application_id=request["applicationId"],
                        execution_role_arn=request["executionRoleArn"], job_driver=request["jobDriver"],
                        configuration_overrides=request["configurationOverrides"], name=request["name"],
                        wait_for_completion=True)
                    if previous is not None:
                        previous >> task
                    previous = task
        dags.append(dag)
    return dags


for _dag in build(Settings.load()):
    globals()[_dag.dag_id] = _dag
