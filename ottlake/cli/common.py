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
