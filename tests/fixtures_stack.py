"""Fixtures for the stack area: the real embedded stack, and settings free of the developer's env.

`embedded_settings` (session): one stack on a free port with a temporary state_dir,
provisioned by `infra.apply`, shared by every integration test that only reads
or adds resources. Tests that stop a stack use `fresh_stack_settings`, their own.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from ottlake.services import infra, stack
from ottlake.settings import Settings


def free_port() -> int:
    """A port nothing listens on now (the kernel's pick; racy only in theory)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_answers(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def _without_ottlake_env() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("OTTLAKE_"):
                patch.delenv(name)
        yield patch


def stack_settings(state_dir: Path, **fields: object) -> Settings:
    """Settings as the defaults plus `fields`, whatever OTTLAKE_* the developer exported."""
    with _without_ottlake_env():
        return Settings.load(state_dir=state_dir, **fields)


@pytest.fixture
def ottlake_env() -> Iterator[pytest.MonkeyPatch]:
    """A monkeypatch with every OTTLAKE_* removed: set what the test needs on it."""
    with _without_ottlake_env() as patch:
        yield patch


@pytest.fixture(scope="session")
def embedded_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """The running, provisioned embedded stack for the whole session."""
    settings = stack_settings(tmp_path_factory.mktemp("stack"), embedded_port=free_port())
    stack.up(settings)
    try:
        infra.apply(settings)
        yield settings
    finally:
        stack.down(settings)


@pytest.fixture
def fresh_stack_settings(tmp_path: Path) -> Iterator[Settings]:
    """Settings for a stack of the test's own (not started); stopped at the end if left up."""
    settings = stack_settings(tmp_path / "state", embedded_port=free_port())
    try:
        yield settings
    finally:
        stack.down(settings)
