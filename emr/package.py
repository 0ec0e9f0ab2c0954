"""`ottlake emr package`: what an EMR step needs, built here and uploaded to S3.

- the jobs as a wheel (`pip wheel` of this source tree: every package of ottlake,
  pure Python), on the steps' `--py-files`;
- the jobs' own dependencies as a relocatable Python environment archive
  (venv-pack of a fresh virtual environment): the base requirements and the `jobs`
  extra of pyproject.toml, pinned by constraints.txt; pyspark and Delta are not in
  it, EMR's own are used (`spark.archives`, unpacked as `./environment`);
- ottlake's jar (the Spark extension, compiled at set-up against the pinned Spark);
- the entry script (emr/entry.py as `ottlake_entry.py`);
- `manifest.json`: the versions (ottlake, the EMR release and its Spark, Delta,
  Scala and Python), the platform, and each file's size and SHA-256.

Platforms. EMR runs Amazon Linux 2023 on x86_64 or arm64 (Graviton). The archive's
packages are binary wheels for one of them: for the machine's own platform pip
installs as usual; for the other, pip takes only manylinux wheels of that platform
(`--platform manylinux2014_<arch> --only-binary=:all:`), so nothing is compiled
here for a machine it cannot run on. The archive's `bin/python` links to EMR's own
interpreter (`--python-prefix /usr`, Python 3.11 on emr-spark-8.1.0), not to this
machine's.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from emr.aws_calls import ENTRY_NAME, ENVIRONMENT_NAME, JAR_NAME, MANIFEST_NAME, Artifacts, wheel_name
from ottlake import __version__
from ottlake.errors import ConfigError, OttlakeError
from ottlake.platform import DELTA_VERSION, EMR_RELEASE, PYTHON_VERSION, SCALA_BINARY_VERSION, SPARK_VERSION

SOURCE_ROOT = Path(__file__).resolve().parent.parent
ENTRY_SCRIPT = Path(__file__).with_name("entry.py")
# What EMR provides and the archive must not carry (their versions are EMR's).
PROVIDED_BY_EMR = frozenset({"pyspark", "delta-spark", "py4j"})
JOBS_EXTRA = "jobs"
ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}
EMR_PYTHON_PREFIX = "/usr"


class PackageError(OttlakeError):
    """An artifact could not be built or uploaded."""


@dataclass(frozen=True)
class Package:
    folder: Path
    files: dict[str, Path]  # artifact name -> file
    manifest: dict


def machine_architecture() -> str:
    return ARCHITECTURES.get(platform.machine().lower(), platform.machine().lower())


def job_requirements() -> list[str]:
    """The jobs' own requirements, from the installed metadata of pyproject.toml: the base
    dependencies and the `jobs` extra, less what EMR provides."""
    from packaging.requirements import Requirement

    requirements = []
    for text in metadata.requires("ottlake") or []:
        requirement = Requirement(text)
        marker = requirement.marker
        if marker is not None and not marker.evaluate({"extra": JOBS_EXTRA}):
            continue
        if requirement.name.lower() in PROVIDED_BY_EMR or requirement.name.lower() == "ottlake":
            continue
        requirement.marker = None
        requirements.append(str(requirement))
    return sorted(set(requirements))


def _run(command: Sequence[str], what: str, cwd: Path | None = None) -> None:
    done = subprocess.run(list(command), cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = " ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise PackageError(f"{what} failed: {tail[:600]}")


def build_wheel(out: Path, source: Path = SOURCE_ROOT) -> Path:
    """The jobs as a wheel, under its fixed artifact name."""
    if not (source / "pyproject.toml").is_file():
        raise ConfigError(f"ottlake emr package builds from a source checkout; no pyproject.toml in {source}")
    with tempfile.TemporaryDirectory() as scratch:
        _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", scratch, str(source)],
             "building the wheel")
        built = next(Path(scratch).glob("ottlake-*.whl"))
        target = out / wheel_name()
        shutil.move(built, target)
    return target


def build_environment(out: Path, *, architecture: str, constraints: Path | None = None,
                      python_prefix: str = EMR_PYTHON_PREFIX) -> Path:
    """The jobs' dependencies in a fresh virtual environment, packed by venv-pack."""
    constraints = constraints or SOURCE_ROOT / "constraints.txt"
    target = out / ENVIRONMENT_NAME
    with tempfile.TemporaryDirectory() as scratch:
        venv = Path(scratch) / "environment"
        _run([sys.executable, "-m", "venv", str(venv)], "creating the environment")
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile"]
        if constraints.is_file():
            pip += ["-c", str(constraints)]
        if architecture != machine_architecture():
            site = venv / "lib" / f"python{PYTHON_VERSION}" / "site-packages"
            pip += ["--platform", f"manylinux2014_{architecture}", "--only-binary=:all:",
                    "--python-version", PYTHON_VERSION, "--implementation", "cp", "--target", str(site), "--upgrade"]
        _run([*pip, *job_requirements()], f"installing the jobs' dependencies ({architecture})")
        _link_interpreter_plainly(venv)
        _run([sys.executable, "-m", "venv_pack", "-p", str(venv), "-o", str(target), "--python-prefix", python_prefix,
              "-q"], "venv-pack")
    return target


def _link_interpreter_plainly(venv: Path) -> None:
    """venv-pack's `--python-prefix` rewrites links that start with `<home>/python`, by
    prefix: a link to `<home>/python3.11` would become `/usr/bin/python3.113.11`
    (venv-pack 0.2.0). Each `bin/python*` is made to link to `<home>/python`, which the
    rewrite turns into the prefix's `bin/python3.11`."""
    home = next(line.split("=", 1)[1].strip() for line in (venv / "pyvenv.cfg").read_text().splitlines()
                if line.split("=", 1)[0].strip() == "home")
    for link in (venv / "bin").glob("python*"):
        if link.is_symlink() and Path(os.readlink(link)).is_absolute():
            link.unlink()
            link.symlink_to(Path(home) / "python")


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def build(out: Path, *, architecture: str | None = None, jar: Path | None = None,
          python_prefix: str = EMR_PYTHON_PREFIX, on_step: Callable[[str], None] = lambda _name: None) -> Package:
    """Every artifact of a step in `out`, and the manifest that names them."""
    from spark_jobs import jars

    architecture = ARCHITECTURES.get((architecture or machine_architecture()).lower())
    if architecture is None:
        raise ConfigError(f"architecture must be one of {', '.join(sorted(ARCHITECTURES))}")
    jar = jar or jars.own_jar()  # JobError when it is not built, or built for another Spark
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    on_step("wheel")
    files[wheel_name()] = build_wheel(out)
    on_step("environment")
    files[ENVIRONMENT_NAME] = build_environment(out, architecture=architecture, python_prefix=python_prefix)
    on_step("jar")
    files[JAR_NAME] = Path(shutil.copyfile(jar, out / JAR_NAME))
    files[ENTRY_NAME] = Path(shutil.copyfile(ENTRY_SCRIPT, out / ENTRY_NAME))
    manifest = {
        "ottlake": __version__,
        "emr_release": EMR_RELEASE,
        "spark": SPARK_VERSION,
        "delta": DELTA_VERSION,
        "scala": SCALA_BINARY_VERSION,
        "python": PYTHON_VERSION,
        "architecture": architecture,
        "requirements": job_requirements(),
        "files": {name: {"bytes": path.stat().st_size, "sha256": _digest(path)}
                  for name, path in sorted(files.items())},
    }
    (out / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    files[MANIFEST_NAME] = out / MANIFEST_NAME
    return Package(out, files, manifest)


def upload(package: Package, artifacts: Artifacts, s3) -> list[str]:
    """Each artifact under the prefix (the manifest last, so a manifest names files that are there)."""
    bucket, prefix = artifacts.bucket_and_key("")
    written = []
    names = [name for name in package.files if name != MANIFEST_NAME] + [MANIFEST_NAME]
    for name in names:
        try:
            s3.upload_file(str(package.files[name]), bucket, f"{prefix}{name}")
        except Exception as exc:  # boto3's S3UploadFailedError, ClientError, endpoint errors
            raise PackageError(f"upload of {name} to {artifacts.key(name)} failed: {exc}") from None
        written.append(artifacts.key(name))
    return written
