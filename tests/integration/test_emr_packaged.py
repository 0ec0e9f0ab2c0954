"""The packaged artifacts run the way EMR runs them (issue 24): `ottlake emr package`
builds them; the archive unpacks and imports the jobs in a clean folder; and the EMR
on EC2 steps' own `spark-submit` command lines, with only the artifacts' S3 locations
read as the local files and EMR's Delta as the pinned one, build the same tables
from the same raw zone as `ottlake batch` does."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from consumers.raw_zone import LocalRawZone
from emr import aws_calls, package
from emr.local import run_spark_submit
from emr.steps import plan
from ottlake.cli.main import main
from producers.simulator import FaultRates, SimConfig, simulate
from producers.simulator.landing import land
from schemas.layout import Lake
from spark_jobs import jars

pytestmark = [pytest.mark.integration, pytest.mark.slow]

START_MS = 1_772_406_000_000  # 2026-03-01T23:00:00Z
ARTIFACTS = aws_calls.Artifacts("s3://ottlake-artifacts/release-1")
TABLES = ("player_events", "quarantine", "play_sessions", "viewer_sessions", "qoe_hourly", "qoe_daily")
WRITTEN_AT = {"ingest_ts"}  # when a row was written: differs between any two runs
SOURCE_OBJECT = "source_object"  # the raw object's URI, under each lake's own root


@pytest.fixture(scope="module")
def packaged(tmp_path_factory) -> package.Package:
    # The archive's interpreter links to this machine's Python here (EMR's is /usr).
    return package.build(tmp_path_factory.mktemp("dist"), python_prefix=sys.base_prefix)


@pytest.fixture(scope="module")
def unpacked(packaged, tmp_path_factory) -> Path:
    """A clean folder holding the environment as spark.archives unpacks it (`./environment`)."""
    folder = tmp_path_factory.mktemp("step")
    with tarfile.open(packaged.files[aws_calls.ENVIRONMENT_NAME]) as archive:
        archive.extractall(folder / aws_calls.ENVIRONMENT, filter="tar")
    return folder


def _pyspark_paths() -> list[str]:
    """What spark-submit puts on the Python path of a step: Spark's own Python."""
    import pyspark

    lib = Path(pyspark.__file__).parent / "python" / "lib"
    return [str(path) for path in sorted(lib.glob("*.zip"))]


def test_the_manifest_names_the_release_and_every_file_with_its_digest(packaged) -> None:
    manifest = packaged.manifest
    assert manifest["emr_release"] == "emr-spark-8.1.0"
    assert (manifest["spark"], manifest["delta"], manifest["python"]) == ("4.1.1", "4.2.0", "3.11")
    assert set(manifest["files"]) == {aws_calls.wheel_name(), aws_calls.ENVIRONMENT_NAME, aws_calls.JAR_NAME,
                                      aws_calls.ENTRY_NAME}
    import hashlib

    for name, facts in manifest["files"].items():
        assert hashlib.sha256(packaged.files[name].read_bytes()).hexdigest() == facts["sha256"]
    # pyspark and Delta are EMR's: not in the archive.
    assert not any(r.split("==")[0] in ("pyspark", "delta-spark") for r in manifest["requirements"])
    with tarfile.open(packaged.files[aws_calls.ENVIRONMENT_NAME]) as archive:
        names = archive.getnames()
    assert not any(name.startswith("lib/python3.11/site-packages/pyspark/") for name in names)
    assert any(name.startswith("lib/python3.11/site-packages/great_expectations/") for name in names)


def test_the_archive_unpacks_and_imports_the_jobs_in_a_clean_folder(packaged, unpacked) -> None:
    python = unpacked / aws_calls.ENVIRONMENT / "bin" / "python"
    path = [str(packaged.files[aws_calls.wheel_name()]), _delta_spark_jar(), *_pyspark_paths()]
    code = ("import spark_jobs.jobs.bronze, spark_jobs.jobs.sessions, spark_jobs.jobs.viewers, "
            "spark_jobs.jobs.aggregates, quality.gate, emr.entry, delta.tables, great_expectations, schemas.contract; "
            "import spark_jobs; print(spark_jobs.__file__); print(len(schemas.contract.event_schema()['properties']))")
    done = subprocess.run([str(python), "-I", "-c", f"import sys; sys.path[:0] = {path!r}; {code}"], cwd=unpacked,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    where, fields = done.stdout.split()
    assert where.startswith(str(packaged.files[aws_calls.wheel_name()]))  # from the wheel, not this checkout
    assert int(fields) > 10


def _delta_jars() -> list[str]:
    return [str(path) for path in jars.session_jars() if "ottlake" not in path.name]


def _delta_spark_jar() -> str:
    return next(path for path in _delta_jars() if Path(path).name.startswith("delta-spark_"))


def _local_command(args: list[str], packaged: package.Package) -> list[str]:
    """An EMR on EC2 step's spark-submit, run here: the artifacts' S3 keys read as the
    packaged files, EMR's Delta jar as the pinned one, the local master instead of YARN."""
    local = {ARTIFACTS.key(name): str(path) for name, path in packaged.files.items()}
    delta, delta_spark = _delta_jars(), _delta_spark_jar()
    command = [str(Path(__import__("pyspark").__file__).parent / "bin" / "spark-submit"), "--master", "local[2]",
               "--conf", "spark.sql.shuffle.partitions=4", "--conf", "spark.ui.enabled=false"]
    skip = 0
    for index, arg in enumerate(args[1:], start=1):
        if skip:
            skip -= 1
            continue
        if arg == "--deploy-mode":
            skip = 1
            continue
        if arg == "--conf" and args[index + 1].startswith(("spark.archives=", "spark.yarn.")):
            skip = 1  # unpacked already as ./environment; YARN's settings
            continue
        if arg == "--jars":
            command += ["--jars", ",".join([local[args[index + 1]], *delta])]
            skip = 1
            continue
        if arg == "--py-files":
            files = [local.get(part, part) for part in args[index + 1].split(",")]
            command += ["--py-files", ",".join(delta_spark if f == aws_calls.DELTA_PYTHON else f for f in files)]
            skip = 1
            continue
        command.append(local.get(arg, arg))
    return command


def _rows(lake: Path, table: str) -> list[tuple]:
    from deltalake import DeltaTable

    frame = DeltaTable(str(Lake.at(lake).table(table))).to_pyarrow_table()
    frame = frame.drop_columns([name for name in frame.column_names if name in WRITTEN_AT])
    rows = frame.to_pylist()
    for row in rows:
        if row.get(SOURCE_OBJECT):
            row[SOURCE_OBJECT] = row[SOURCE_OBJECT].split(str(lake), 1)[-1]
    return sorted(tuple(map(str, row.values())) for row in rows)


def test_the_emr_steps_spark_submit_builds_the_tables_ottlake_batch_builds(packaged, unpacked, tmp_path,
                                                                            spark) -> None:
    simulation = simulate(SimConfig(viewers=6, minutes=60, seed=11, start_ms=START_MS,
                                    faults=FaultRates(duplicate=0.03, out_of_order=0.05, late=0.0, skew=0.1)))
    by_batch, by_emr = tmp_path / "batch", tmp_path / "emr"
    land(simulation.deliveries, LocalRawZone(by_batch), stream_name="ottlake-player-events")
    shutil.copytree(by_batch, by_emr)

    assert main(["batch", "--lake", str(by_batch)]) == 0

    runs = plan(str(by_emr), mode="emr")
    commands = [_local_command(step["HadoopJarStep"]["Args"], packaged)
                for step in aws_calls.ec2_steps(runs, ARTIFACTS)]
    seconds = run_spark_submit(commands, runs, python=f"./{aws_calls.ENVIRONMENT}/bin/python", cwd=unpacked,
                               timeout_s=600)
    assert list(seconds) == ["bronze", "sessions", "viewer_sessions", "aggregates"]

    for table in TABLES:
        expected = _rows(by_batch, table)
        assert _rows(by_emr, table) == expected, table
    assert _rows(by_batch, "play_sessions") and _rows(by_batch, "qoe_daily")
