"""The floors of the architecture hold, and the SDK stays light (README, 'Architecture').

import-linter checks the contracts of pyproject.toml; these tests run it on the
tree as it is and on a copy with one arrow that breaks a floor, so a contract that
could never fail would show here.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("schemas", "ottlake", "producers", "consumers", "spark_jobs", "quality", "emr")
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT), "--no-cache"], cwd=tree, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin", "COLUMNS": "200"})


def _copy(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_floors_hold() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("module", "arrow", "contract"), [
    ("quality/docs.py", "import spark_jobs.raw", "The gates never import the jobs"),
    ("schemas/layout.py", "import ottlake.errors", "The contract imports nothing else of the project"),
    ("ottlake/settings.py", "import producers.sdk", "Floors"),
    ("consumers/monitor/store.py", "import ottlake.services.infra", "Floors"),
    ("producers/simulator/landing.py", "import consumers.raw_zone", "Floors"),
    ("spark_jobs/transforms/bronze.py", "import quality.suites", "Only the jobs' entry points call the gate"),
])
def test_a_wrong_import_breaks_a_contract(tmp_path, module, arrow, contract) -> None:
    tree = _copy(tmp_path)
    with open(tree / module, "a", encoding="utf-8") as source:
        source.write(f"\n{arrow}  # a deliberately wrong arrow\n")
    result = _lint(tree)
    assert result.returncode == 1, result.stdout
    broken = [line for line in result.stdout.splitlines() if " BROKEN" in line]
    assert any(line.startswith(contract) for line in broken), result.stdout


def test_the_sdk_loads_nothing_heavy() -> None:
    """player apps embed the SDK: with validation off it loads no Spark, GX, Delta,
    DuckDB, validator or KCL (DESIGN.md, 'Components')."""
    heavy = ("pyspark", "great_expectations", "deltalake", "duckdb", "jsonschema", "amazon_kclpy", "pyarrow")
    code = ("import sys\n"
            "from producers.events import PlaySession\n"
            "from producers.sdk import MemorySink, SdkConfig, Tracker\n"
            "sink = MemorySink()\n"
            "with Tracker(sink, config=SdkConfig(validate=False)) as tracker:\n"
            "    tracker.track(PlaySession('viewer-1', 'title-1', 'vod').view_start())\n"
            "assert len(sink.events()) == 1, sink.calls\n"
            f"print(sorted(name for name in {heavy!r} if name in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            check=True)
    assert result.stdout.strip() == "[]"
