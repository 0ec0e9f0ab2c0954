"""Where each table of the lake lives (DESIGN.md, 'Lake layout').

One lake root, a local folder or `s3://bucket/prefix`; every path under it is
named here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ottlake.errors import ConfigError

_REMOTE_SCHEMES = ("s3://", "s3a://", "s3n://", "file:/")


@dataclass(frozen=True)
class Lake:
    root: str

    @classmethod
    def at(cls, root: str | Path) -> Lake:
        """A lake at `root`; a local folder is made absolute so that Spark, delta-rs
        and DuckDB all find the same place whatever their working directory."""
        text = str(root).strip()
        if not text:
            raise ConfigError("the lake root is empty")
        if text.startswith(_REMOTE_SCHEMES):
            return cls(text.rstrip("/"))
        if "://" in text:
            raise ConfigError(f"unsupported lake root {text!r}: a folder or s3://bucket/prefix")
        return cls(str(Path(text).expanduser().resolve()))

    @property
    def is_local(self) -> bool:
        return not self.root.startswith(_REMOTE_SCHEMES) or self.root.startswith("file:")

    def path(self, *parts: str) -> str:
        return "/".join((self.root, *parts))

    @property
    def raw(self) -> str:
        return self.path("raw", "player_events")

    @property
    def bronze(self) -> str:
        return self.path("bronze", "player_events")

    @property
    def quarantine(self) -> str:
        return self.path("quarantine", "player_events")

    @property
    def play_sessions(self) -> str:
        return self.path("silver", "play_sessions")

    @property
    def viewer_sessions(self) -> str:
        return self.path("silver", "viewer_sessions")

    @property
    def qoe_hourly(self) -> str:
        return self.path("gold", "qoe_hourly")

    @property
    def qoe_daily(self) -> str:
        return self.path("gold", "qoe_daily")

    @property
    def quality(self) -> str:
        return self.path("_quality")

    @property
    def quality_results(self) -> str:
        return self.path("_quality", "results")

    @property
    def quality_docs(self) -> str:
        return self.path("_quality", "docs")

    def state(self, name: str) -> str:
        return self.path("_state", name)
