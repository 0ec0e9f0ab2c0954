"""The README's Python snippets ("Querying the lake") run, on a lake built by the batch."""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from analytics.sql import LakeQuery
from ottlake.cli.docs import ROOT
from schemas.layout import Lake

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def snippets() -> list[str]:
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## Querying the lake")[1].split("\n## ")[0]
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)


def test_there_are_three_snippets() -> None:
    assert [snippet.splitlines()[0].split()[1] for snippet in snippets()] == ["pandas,", "DuckDB", "PySpark"]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_a_snippet_runs_and_prints_every_cdn(analyst_lake, spark, index) -> None:
    lake = Lake.at(analyst_lake[0])
    code = snippets()[index]
    assert 'lake = "lake"' in code
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(code.replace('lake = "lake"', f"lake = {lake.root!r}"), {})  # noqa: S102 - the README's own code
    cdns = [row["cdn"] for row in LakeQuery(lake).run("SELECT DISTINCT cdn FROM play_sessions").to_pylist()]
    assert cdns and all(cdn in printed.getvalue() for cdn in cdns)
