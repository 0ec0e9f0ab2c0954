"""The MWAA DAG file (emr/dags/ottlake_batch.py) imported by Airflow 3 with the Amazon
provider, in a virtual environment of their own (`make test` builds it under
.cache/airflow: Airflow's pins are not the pipeline's), and its task graph checked:
one task a step of the list, in order, with the step list's own requests."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_PYTHON = ROOT / ".cache" / "airflow" / "bin" / "python"
DAG_FILE = ROOT / "emr" / "dags" / "ottlake_batch.py"
LAKE = "s3://ottlake-lake/prod"
ARTIFACTS = "s3://ottlake-artifacts/r1"

# Run by Airflow's Python: import the DAG file as Airflow's DagBag does, print each DAG's graph.
PROBE = r"""
import json, sys
from airflow.models.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1], include_examples=False)
if bag.import_errors:
    print(json.dumps({"errors": {k: str(v)[-400:] for k, v in bag.import_errors.items()}})); sys.exit(0)
out = {}
for dag_id, dag in bag.dags.items():
    tasks = {}
    for task in dag.topological_sort():
        tasks[task.task_id] = {"type": type(task).__name__, "upstream": sorted(task.upstream_task_ids),
                               "job_driver": getattr(task, "job_driver", None), "steps": getattr(task, "steps", None),
                               "step_id": getattr(task, "step_id", None)}
    out[dag_id] = {"schedule": str(dag.timetable.summary), "order": [t.task_id for t in dag.topological_sort()],
                   "tasks": tasks}
print(json.dumps(out))
"""


def _graph(**env: str) -> dict:
    if not AIRFLOW_PYTHON.exists():
        pytest.fail(f"{AIRFLOW_PYTHON} is missing: `make test` builds it (make airflow)")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTTLAKE_", "AIRFLOW"))}
    done = subprocess.run([str(AIRFLOW_PYTHON), "-c", PROBE, str(DAG_FILE)], capture_output=True, text=True,
                          timeout=300, env={**clean, "OTTLAKE_LAKE": LAKE, "OTTLAKE_EMR_ARTIFACTS": ARTIFACTS,
                                            "AIRFLOW_HOME": str(ROOT / ".cache" / "airflow" / "home"), **env})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_serverless_dags_chain_one_job_run_a_step() -> None:
    graph = _graph(OTTLAKE_EMR_APPLICATION_ID="00abc", OTTLAKE_EMR_JOB_ROLE_ARN="arn:aws:iam::1:role/jobs")
    assert set(graph) == {"ottlake-batch-hourly", "ottlake-batch-daily"}, graph
    for dag in graph.values():
        assert dag["order"] == ["bronze", "sessions", "viewer_sessions", "aggregates"]
        tasks = dag["tasks"]
        assert [tasks[name]["upstream"] for name in dag["order"]] == [[], ["bronze"], ["sessions"],
                                                                      ["viewer_sessions"]]
        assert {task["type"] for task in tasks.values()} == {"EmrServerlessStartJobOperator"}
    assert graph["ottlake-batch-hourly"]["schedule"] == "10 * * * *"
    assert graph["ottlake-batch-daily"]["schedule"] == "30 1 * * *"
    bronze = graph["ottlake-batch-daily"]["tasks"]["bronze"]["job_driver"]["sparkSubmit"]
    assert bronze["entryPointArguments"] == ["spark_jobs.jobs.bronze", "--lake", LAKE, "--mode", "emr", "--window",
                                             "PT26H/{{ data_interval_end.isoformat() }}"]
    assert bronze["entryPoint"] == f"{ARTIFACTS}/ottlake_entry.py"


def test_ec2_dags_add_the_steps_and_wait_for_each() -> None:
    graph = _graph(OTTLAKE_EMR_CLUSTER_ID="j-ABC")
    dag = graph["ottlake-batch-hourly"]
    assert dag["order"] == ["add_steps", "bronze", "sessions", "viewer_sessions", "aggregates"]
    tasks = dag["tasks"]
    assert tasks["add_steps"]["type"] == "EmrAddStepsOperator"
    assert [step["Name"] for step in tasks["add_steps"]["steps"]] == [
        "ottlake bronze", "ottlake sessions", "ottlake viewer_sessions", "ottlake aggregates"]
    assert tasks["sessions"]["type"] == "EmrStepSensor" and tasks["sessions"]["upstream"] == ["bronze"]
    assert tasks["sessions"]["step_id"] == "{{ task_instance.xcom_pull(task_ids='add_steps')[1] }}"


def test_a_dag_without_its_settings_says_which_in_the_import_error() -> None:
    graph = _graph()
    assert "set OTTLAKE_EMR_CLUSTER_ID or OTTLAKE_EMR_APPLICATION_ID" in json.dumps(graph["errors"])
