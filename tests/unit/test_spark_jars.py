"""The session's jars at set-up time: Delta's fetched (pinned, idempotent), ottlake's compiled; never at run time."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from ottlake.errors import JobError
from spark_jobs import jars
from spark_jobs.jars import DELTA, FETCH_COMMAND, fetch, jar_paths, pom, shipped_artifact_ids


class FakeMaven:
    """Stands in for `mvn`: records each call and 'downloads' the given jars."""

    def __init__(self, names: list[str], returncode: int = 0) -> None:
        self.names, self.returncode, self.calls = names, returncode, []

    def __call__(self, command, **_: object) -> subprocess.CompletedProcess:
        self.calls.append(command)
        out = Path(next(arg for arg in command if arg.startswith("-DoutputDirectory=")).split("=", 1)[1])
        out.mkdir(parents=True)
        for name in self.names:
            (out / name).write_bytes(name.encode())
        return subprocess.CompletedProcess(command, self.returncode, "", "could not resolve" if self.returncode else "")


MAIN_JAR = f"{DELTA.artifact}-{DELTA.version}.jar"


def test_fetch_twice_runs_maven_once(tmp_path):
    maven = FakeMaven([MAIN_JAR, f"delta-storage-{DELTA.version}.jar"])
    first = fetch(tmp_path, exclude=["scala-library"], run=maven)
    second = fetch(tmp_path, exclude=["scala-library"], run=maven)
    assert len(maven.calls) == 1
    assert first == second == jar_paths(tmp_path)
    assert sorted(path.name for path in first) == sorted([MAIN_JAR, f"delta-storage-{DELTA.version}.jar"])
    command = maven.calls[0]
    assert f"{jars.DEPENDENCY_PLUGIN}:copy-dependencies" in command
    assert f"-Dmaven.repo.local={tmp_path / 'm2'}" in command
    assert "-DexcludeArtifactIds=scala-library" in command


def test_a_missing_jar_makes_the_next_fetch_run_again(tmp_path):
    maven = FakeMaven([MAIN_JAR])
    (path,) = fetch(tmp_path, exclude=[], run=maven)
    path.unlink()
    with pytest.raises(JobError, match=FETCH_COMMAND):
        jar_paths(tmp_path)
    fetch(tmp_path, exclude=[], run=maven)
    assert len(maven.calls) == 2 and path.is_file()


def test_a_failed_resolution_leaves_nothing_that_looks_complete(tmp_path):
    with pytest.raises(JobError, match="could not resolve"):
        fetch(tmp_path, exclude=[], run=FakeMaven([MAIN_JAR], returncode=1))
    with pytest.raises(JobError, match=FETCH_COMMAND):
        jar_paths(tmp_path)


def test_the_pom_pins_the_artifact():
    text = pom()
    assert f"<artifactId>{DELTA.artifact}</artifactId>" in text
    assert f"<version>{DELTA.version}</version>" in text


def test_shipped_artifact_ids_strip_versions(tmp_path):
    for name in (
        "scala-library-2.13.17.jar",
        "zstd-jni-1.5.7-6.jar",
        "json4s-jackson_2.13-4.0.7.jar",
        "log4j-slf4j2-impl-2.24.3.jar",
        "README.txt",
    ):
        (tmp_path / name).write_text("")
    assert shipped_artifact_ids(tmp_path) == ["json4s-jackson_2.13", "log4j-slf4j2-impl", "scala-library", "zstd-jni"]


def test_the_installed_pyspark_ships_what_delta_would_duplicate():
    shipped = set(shipped_artifact_ids())
    assert {"scala-library", "hadoop-client-runtime", "parquet-hadoop", "jackson-databind"} <= shipped
    assert not any(name.startswith("delta-") for name in shipped)


def test_cli_path_reports_missing_jars_in_one_line(tmp_path, capsys):
    assert jars.main(["path", "--cache", str(tmp_path)]) == JobError.exit_code
    err = capsys.readouterr().err
    assert err.startswith("error: ") and FETCH_COMMAND in err and err.count("\n") == 1


def test_cli_fetch_when_complete_does_nothing(tmp_path, capsys, monkeypatch):
    """`fetch` resolves Delta's jars and JUnit's; when both are there, Maven is not needed."""
    fetch(tmp_path, exclude=[], run=FakeMaven([MAIN_JAR]))
    fetch(tmp_path, jars.JUNIT, exclude=[], run=FakeMaven([f"{jars.JUNIT.artifact}-{jars.JUNIT.version}.jar"]))
    monkeypatch.setattr(jars.shutil, "which", lambda _: None)  # Maven must not be needed
    assert jars.main(["fetch", "--cache", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("1 jars already present") == 2 and str(jars.JUNIT) in out


def test_own_jar_is_built_from_the_sources_and_refused_once_they_change(tmp_path) -> None:
    """ottlake's jar: compiled by the real javac against pyspark's jars; a second
    build is a no-op; a changed source makes the jar stale until rebuilt."""
    sources = tmp_path / "java"
    shutil.copytree(jars.JAVA_SOURCES, sources)
    cache = tmp_path / "cache"
    with pytest.raises(JobError, match="spark_jobs.jars build"):
        jars.own_jar(cache, sources)

    jar = jars.build(cache, sources)
    assert jars.own_jar(cache, sources) == jar
    with zipfile.ZipFile(jar) as archive:
        assert "io/ottlake/spark/PlaySessionFold.class" in archive.namelist()
    built_at = jar.stat().st_mtime_ns
    assert jars.build(cache, sources) == jar and jar.stat().st_mtime_ns == built_at

    source = next(sources.rglob("PlaySessionFold.java"))
    source.write_text(source.read_text() + "\n// changed\n")
    with pytest.raises(JobError, match="older than"):
        jars.own_jar(cache, sources)


def test_a_source_that_does_not_compile_is_a_clear_error(tmp_path) -> None:
    sources = tmp_path / "java" / "io" / "ottlake"
    sources.mkdir(parents=True)
    (sources / "Broken.java").write_text("package io.ottlake; class Broken { int x = ; }\n")
    with pytest.raises(JobError, match="javac could not compile"):
        jars.build(tmp_path / "cache", tmp_path / "java")
    assert not (tmp_path / "cache" / jars.OWN_FOLDER).exists()
