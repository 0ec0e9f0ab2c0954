"""Every command that reads a lake refuses one that is not there, in one line,
with a non-zero exit, and creates nothing (issue 21, part 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ottlake.cli.main import main


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("command", [["batch"], ["batch", "--recompute", "2026-03-01/2026-03-01"], ["quality"]])
def test_a_lake_that_does_not_exist(tmp_path, capsys, command) -> None:
    typo = tmp_path / "typo"
    assert main([*command, "--lake", str(typo)]) != 0
    err = capsys.readouterr().err
    assert err == f"error: lake {typo} does not exist (no such folder): check --lake or OTTLAKE_LAKE\n"
    assert not typo.exists() and _listing(tmp_path) == []


@pytest.mark.parametrize("command", [["batch"], ["quality"], ["consume", "sink"]])
def test_a_lake_that_is_a_file(tmp_path, capsys, command) -> None:
    file = tmp_path / "lake.txt"
    file.write_text("not a lake")
    assert main([*command, "--lake", str(file)]) != 0
    assert capsys.readouterr().err == f"error: lake {file} is a file, not a folder: check --lake or OTTLAKE_LAKE\n"
    assert _listing(tmp_path) == ["lake.txt"]


@pytest.mark.parametrize("command", [["batch"], ["quality"]])
def test_a_folder_without_a_raw_zone(tmp_path, capsys, command) -> None:
    (tmp_path / "raw").mkdir()  # the zone's parent alone is not the zone
    assert main([*command, "--lake", str(tmp_path)]) != 0
    err = capsys.readouterr().err
    assert err.startswith(f"error: lake {tmp_path} has no raw zone (raw/player_events/ is missing)")
    assert err.count("\n") == 1
    assert _listing(tmp_path) == ["raw"]


def test_the_default_lake_is_checked_too(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OTTLAKE_LAKE", raising=False)
    assert main(["batch"]) != 0
    assert f"lake {tmp_path / 'lake'} does not exist" in capsys.readouterr().err
    assert _listing(tmp_path) == []
