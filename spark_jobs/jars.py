"""The session's jars, made at set-up time, never at run time: Delta Lake's, fetched
from Maven Central, and ottlake's own (the play-session fold), compiled here.

`python -m spark_jobs.jars fetch` resolves the pinned Delta artifact and its
runtime dependencies with Maven into `.cache/jars/<artifact>-<version>/` inside the
repository (git-ignored), and writes a manifest last. A second call finds the
manifest and every jar it lists and does nothing. The local SparkSession reads the
manifest (`jar_paths`) and passes the files as `spark.jars`; it never sets
`spark.jars.packages`, so nothing is downloaded when a job or a test starts.

`python -m spark_jobs.jars build` compiles `spark_jobs/java/` with the JDK's javac
against the installed pyspark's jars into `.cache/jars/ottlake-spark/`, with a
manifest naming a digest of the sources: a session refuses a jar older than its
sources (`session_jars`), so a test never runs yesterday's Java.

Dependencies that the installed pyspark already ships (same artifactId, in
`pyspark/jars`) are left out: `spark.jars` go to a child class loader that asks
Spark's own class path first, so a second copy could never be loaded anyway (Delta
4.4 declares Hadoop, Parquet, Jackson, Scala and log4j as compile dependencies,
about 60 MB that Spark already has).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ottlake.errors import JobError
from ottlake.platform import DELTA_ARTIFACT, DELTA_VERSION

# Delta's jars for the platform's Spark line and Scala (ottlake.platform: the EMR
# release's own versions), the same version as the delta-spark Python package.
DELTA_GROUP = "io.delta"
# Pinned too, so that the resolution does not depend on Maven's bundled default.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

FETCH_COMMAND = "python -m spark_jobs.jars fetch"
MANIFEST = "manifest.json"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = REPO_ROOT / ".cache" / "jars"

Runner = Callable[..., Any]  # subprocess.run's shape, replaceable in tests


@dataclass(frozen=True)
class Coordinates:
    group: str = DELTA_GROUP
    artifact: str = DELTA_ARTIFACT
    version: str = DELTA_VERSION

    def __str__(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}"

    @property
    def folder(self) -> str:
        return f"{self.artifact}-{self.version}"


DELTA = Coordinates()
# JUnit's console launcher, for the Java code's own tests (tests/java, `junit` below).
JUNIT = Coordinates("org.junit.platform", "junit-platform-console-standalone", "6.1.3")
JAVA_TESTS = REPO_ROOT / "tests" / "java"


def jars_dir(cache: Path = DEFAULT_CACHE, coords: Coordinates = DELTA) -> Path:
    """The folder that holds one resolved artifact's jars and manifest."""
    return cache / coords.folder


def jar_paths(cache: Path = DEFAULT_CACHE, coords: Coordinates = DELTA) -> list[Path]:
    """The fetched jars, in manifest order; JobError naming the fetch command if any
    is missing (a job must not fall back to a download)."""
    folder = jars_dir(cache, coords)
    paths = _complete(folder, coords)
    if paths is None:
        raise JobError(
            f"Delta jars {coords} are not in {folder}: run `{FETCH_COMMAND}` "
            "(part of the install step) once, with Maven Central reachable"
        )
    return paths


JAVA_SOURCES = REPO_ROOT / "spark_jobs" / "java"
BUILD_COMMAND = "python -m spark_jobs.jars build"
OWN_FOLDER = "ottlake-spark"
OWN_JAR = "ottlake-spark.jar"
# The bytecode level: Spark 4 runs on Java 17 or later.
JAVA_RELEASE = "17"


def _java_sources(sources: Path) -> list[Path]:
    return sorted(sources.rglob("*.java"))


def _sources_digest(sources: Path) -> str:
    digest = hashlib.sha256()
    for path in _java_sources(sources):
        digest.update(str(path.relative_to(sources)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def own_jar(cache: Path = DEFAULT_CACHE, sources: Path = JAVA_SOURCES) -> Path:
    """ottlake's jar, built from the current sources; JobError naming the build
    command when it is missing or older than them."""
    folder = cache / OWN_FOLDER
    manifest = _read_manifest(folder)
    jar = folder / OWN_JAR
    if manifest.get("sources") != _sources_digest(sources) or not jar.is_file():
        raise JobError(f"{jar} is missing or older than {sources}: run `{BUILD_COMMAND}` (part of the install step)")
    if manifest.get("spark") != compiled_against()["spark.version"]:
        raise JobError(f"{jar} was compiled for Spark {manifest.get('spark')}, and pyspark here is "
                       f"{compiled_against()['spark.version']}: run `{BUILD_COMMAND}`")
    return jar


# Written into the jar beside OttlakeExtensions.class, which compares it with the
# session's Spark and Scala (and refuses another Spark in one line).
BUILD_INFO = "io/ottlake/spark/build.properties"


def spark_jars_dir() -> Path:
    """The installed Spark's jars: under SPARK_HOME when spark-submit set it (its
    pyspark is then imported from `python/lib/pyspark.zip`), else beside pyspark."""
    import pyspark

    home = os.environ.get("SPARK_HOME")
    if home and (Path(home) / "jars").is_dir():
        return Path(home) / "jars"
    return Path(pyspark.__file__).parent / "jars"


def compiled_against() -> dict[str, str]:
    """The Spark and Scala the jar is compiled against: the installed pyspark's
    (its version, and the binary version of its scala-library jar)."""
    import pyspark

    scala = next(spark_jars_dir().glob("scala-library-*.jar"))
    full = scala.name.removeprefix("scala-library-").removesuffix(".jar")
    return {"spark.version": pyspark.__version__, "scala.binary.version": ".".join(full.split(".")[:2])}


def session_jars(cache: Path = DEFAULT_CACHE) -> list[Path]:
    """Every jar a local session loads: Delta's, then ottlake's."""
    return [*jar_paths(cache), own_jar(cache)]


def build(cache: Path = DEFAULT_CACHE, sources: Path = JAVA_SOURCES, *, run: Runner = subprocess.run) -> Path:
    """Compile `sources` into ottlake's jar unless it is current; the jar.

    Against the jars of the installed pyspark (the Spark it runs in); the jar and
    its manifest move into place whole, the manifest last."""
    import zipfile

    try:
        return own_jar(cache, sources)
    except JobError:
        pass
    java_home = os.environ.get("JAVA_HOME")
    javac = str(Path(java_home) / "bin" / "javac") if java_home else shutil.which("javac")
    if not javac or not Path(javac).exists():
        raise JobError(f"javac (a JDK {JAVA_RELEASE} or later) is not installed; `{BUILD_COMMAND}` needs it once")
    classpath = str(spark_jars_dir() / "*")
    folder = cache / OWN_FOLDER
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".build-") as tmp:
        classes = Path(tmp) / "classes"
        command = [javac, "--release", JAVA_RELEASE, "-nowarn", "-d", str(classes), "-cp", classpath,
                   *(str(path) for path in _java_sources(sources))]
        result = run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            raise JobError(f"javac could not compile {sources}:\n{tail}")
        out = Path(tmp) / OWN_FOLDER
        out.mkdir()
        with zipfile.ZipFile(out / OWN_JAR, "w", zipfile.ZIP_DEFLATED) as jar:
            jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nCreated-By: ottlake\n")
            built = compiled_against()
            jar.writestr(BUILD_INFO, "".join(f"{key}={value}\n" for key, value in built.items()))
            for path in sorted(classes.rglob("*.class")):
                jar.write(path, str(path.relative_to(classes)))
        _write_manifest(out, {"sources": _sources_digest(sources), "spark": built["spark.version"]})
        if folder.exists():
            shutil.rmtree(folder)
        out.rename(folder)
    return folder / OWN_JAR


def junit(cache: Path = DEFAULT_CACHE, tests: Path = JAVA_TESTS, *, run: Runner = subprocess.run) -> int:
    """Compile the Java tests against ottlake's jar, Spark's and JUnit's, and run them
    with JUnit's console launcher; its exit code (0 when every test passed)."""
    java_home = os.environ.get("JAVA_HOME")
    bin_dir = Path(java_home) / "bin" if java_home else None
    javac = str(bin_dir / "javac") if bin_dir else shutil.which("javac") or "javac"
    java = str(bin_dir / "java") if bin_dir else shutil.which("java") or "java"
    (launcher,) = jar_paths(cache, JUNIT)
    spark_jars = sorted(spark_jars_dir().glob("*.jar"))
    classpath = [own_jar(cache), *spark_jars]
    with tempfile.TemporaryDirectory(prefix="ottlake-junit-") as tmp:
        classes = Path(tmp) / "classes"
        compiled = run([javac, "--release", JAVA_RELEASE, "-nowarn", "-d", str(classes), "-cp",
                        os.pathsep.join(map(str, [launcher, *classpath])), *map(str, _java_sources(tests))],
                       capture_output=True, text=True, check=False)
        if compiled.returncode != 0:
            raise JobError(f"javac could not compile {tests}:\n{(compiled.stdout + compiled.stderr).strip()}")
        result = run([java, "-jar", str(launcher), "execute", "--disable-banner", "--details=tree",
                      "--class-path", os.pathsep.join(map(str, [classes, *classpath])), "--scan-class-path",
                      str(classes)], check=False)
    return int(result.returncode)


def shipped_artifact_ids(spark_jars: Path | None = None) -> list[str]:
    """artifactIds of the jars the installed pyspark ships (`name-1.2.3.jar`)."""
    if spark_jars is None:
        spark_jars = spark_jars_dir()
    ids = set()
    for jar in spark_jars.glob("*.jar"):
        # The artifactId ends at the first '-' followed by a digit: the version.
        match = re.match(r"^(?P<artifact>.+?)-\d[^/]*\.jar$", jar.name)
        if match:
            ids.add(match.group("artifact"))
    return sorted(ids)


def pom(coords: Coordinates = DELTA) -> str:
    """A throw-away project whose only dependency is the artifact to resolve."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.ottlake</groupId>
  <artifactId>ottlake-spark-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>{coords.group}</groupId>
      <artifactId>{coords.artifact}</artifactId>
      <version>{coords.version}</version>
    </dependency>
  </dependencies>
</project>
"""


def fetch(
    cache: Path = DEFAULT_CACHE,
    coords: Coordinates = DELTA,
    *,
    exclude: Sequence[str] | None = None,
    run: Runner = subprocess.run,
) -> list[Path]:
    """Resolve `coords` into the cache unless it is already complete; the jars.

    Maven's local repository is `cache/m2`, so set-up writes nothing outside the
    repository. The jars land in a temporary folder and move into place whole, and
    the manifest is written last: an interrupted fetch leaves no half folder that
    a later session would take for complete.
    """
    folder = jars_dir(cache, coords)
    done = _complete(folder, coords)
    if done is not None:
        return done
    mvn = shutil.which("mvn")
    if mvn is None and run is subprocess.run:
        raise JobError(f"Maven (mvn) is not installed; it is needed once by `{FETCH_COMMAND}`")
    excluded = list(shipped_artifact_ids() if exclude is None else exclude)
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".fetch-") as tmp:
        work = Path(tmp)
        (work / "pom.xml").write_text(pom(coords), encoding="utf-8")
        out = work / "jars"
        command = [
            mvn or "mvn",
            "-B",
            "-q",
            "-f",
            str(work / "pom.xml"),
            f"-Dmaven.repo.local={cache / 'm2'}",
            f"{DEPENDENCY_PLUGIN}:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={out}",
        ]
        if excluded:
            command.append(f"-DexcludeArtifactIds={','.join(excluded)}")
        result = run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            raise JobError(f"Maven could not resolve {coords}:\n{tail}")
        jars = sorted(out.glob("*.jar"))
        main_jar = f"{coords.artifact}-{coords.version}.jar"
        if main_jar not in {jar.name for jar in jars}:
            raise JobError(f"Maven finished but {main_jar} is not among {[j.name for j in jars]}")
        if folder.exists():
            shutil.rmtree(folder)  # incomplete leftovers: no manifest, or a jar missing
        out.rename(folder)
    _write_manifest(folder, {
        "coordinates": str(coords),
        "jars": {jar.name: _sha256(folder / jar.name) for jar in jars},
    })
    return [folder / jar.name for jar in jars]


def _read_manifest(folder: Path) -> dict[str, Any]:
    """The folder's manifest; empty when there is none or it is unreadable."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Written last: a folder with a manifest is complete."""
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _complete(folder: Path, coords: Coordinates) -> list[Path] | None:
    """The jars of a finished fetch of `coords`, or None."""
    manifest = _read_manifest(folder)
    if manifest.get("coordinates") != str(coords):
        return None
    paths = [folder / name for name in manifest.get("jars", {})]
    if not paths or not all(path.is_file() for path in paths):
        return None
    return paths


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spark_jobs.jars", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("fetch", "resolve Delta's jars and JUnit's unless already there"),
                       ("build", "compile ottlake's jar unless it is current"),
                       ("junit", "compile and run the Java code's JUnit tests (tests/java)"),
                       ("path", "print the jars a local session loads")):
        command = sub.add_parser(name, help=text)
        command.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="cache folder")
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            for coords in (DELTA, JUNIT):
                before = _complete(jars_dir(args.cache, coords), coords)
                paths = fetch(args.cache, coords, exclude=None if coords is DELTA else [])
                state = "already present" if before is not None else "fetched"
                print(f"{coords}: {len(paths)} jars {state} in {jars_dir(args.cache, coords)}")
        elif args.command == "build":
            print(f"ottlake's jar: {build(args.cache)}")
        elif args.command == "junit":
            return junit(args.cache)
        else:
            print(",".join(str(path) for path in session_jars(args.cache)))
    except JobError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
