"""What every command shares: building the settings once, and printing."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console

from ottlake.settings import Settings

# Human output goes to stderr-free stdout; errors always to stderr.
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def settings_from(ctx: click.Context, **command_flags: Any) -> Settings:
    """The entry point's one Settings: environment, then the group's flags, then the command's."""
    root = ctx.find_root()
    group_flags: dict[str, Any] = dict(root.obj or {})
    return Settings.load(**group_flags, **command_flags)


def lake_to_read(settings: Settings) -> Any:
    """The settings' lake (schemas.layout.Lake), checked to be there with its raw zone
    (LakeNotFound otherwise, before anything is created): every command that reads
    a lake starts here."""
    from ottlake.lakes import require, s3_probe

    lake = settings.lake_layout()
    require(lake, None if lake.is_local else s3_probe(settings.aws().client("s3")))
    return lake
