"""The local pins are the platform's versions (ottlake/platform.py): what passes
here is what runs on the EMR release it names."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from ottlake import platform
from spark_jobs import jars

ROOT = Path(__file__).resolve().parents[2]


def _pins(lines: list[str]) -> dict[str, str]:
    pins = {}
    for line in lines:
        match = re.match(r"^\s*([A-Za-z0-9_.\-\[\]]+)==([^\s;#]+)", line)
        if match:
            pins[re.sub(r"\[.*\]", "", match.group(1)).lower().replace("_", "-")] = match.group(2)
    return pins


def test_pyproject_and_constraints_pin_the_platforms_spark_and_delta() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = _pins(project["project"]["optional-dependencies"]["pipeline"])
    constrained = _pins((ROOT / "constraints.txt").read_text().splitlines())
    expected = {"pyspark": platform.SPARK_VERSION, "delta-spark": platform.DELTA_VERSION}
    assert {name: declared[name] for name in expected} == expected
    assert {name: constrained[name] for name in expected} == expected


def test_the_installed_packages_and_jars_are_the_platforms() -> None:
    import pyspark

    assert metadata.version("pyspark") == pyspark.__version__ == platform.SPARK_VERSION
    assert metadata.version("delta-spark") == platform.DELTA_VERSION
    assert str(jars.DELTA) == f"io.delta:delta-spark_4.1_2.13:{platform.DELTA_VERSION}"
    assert jars.DELTA.artifact == platform.DELTA_ARTIFACT
    names = {path.name for path in jars.jar_paths()}
    assert f"delta-spark_4.1_2.13-{platform.DELTA_VERSION}.jar" in names
    assert f"delta-storage-{platform.DELTA_VERSION}.jar" in names


def test_the_platform_is_emr_spark_8_1_0() -> None:
    assert (platform.EMR_RELEASE, platform.SPARK_VERSION, platform.DELTA_VERSION, platform.SCALA_BINARY_VERSION,
            platform.PYTHON_VERSION) == ("emr-spark-8.1.0", "4.1.1", "4.2.0", "2.13", "3.11")
