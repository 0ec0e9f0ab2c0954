"""Scheduled incidents: the QoE problems an on-call engineer should be able to find.

An incident changes the generative model's rates for some sessions over a time
window of the simulation, so the demo's dashboards and the batch tables show a
known, dated anomaly. The truth file names the sessions each incident touched.

Spec strings (the CLI's `--incident`), minutes counted from the window's start:

    cdn-stall:<cdn>:<start_min>-<end_min>[:factor]        stall hazard x factor (default 8)
    cdn-error:<cdn>:<start_min>-<end_min>[:factor]        fatal playback-error hazard x factor (default 20)
    player-start-failure:<player_version>:<start_min>-<end_min>[:probability]
                                                          play requests fail to start (default 0.8)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ottlake.errors import ConfigError
from producers.simulator.catalog import CDNS, PLAYER_VERSIONS, PLATFORMS

IncidentKind = Literal["cdn-stall", "cdn-error", "player-start-failure"]
_DEFAULT_FACTOR: dict[str, float] = {"cdn-stall": 8.0, "cdn-error": 20.0, "player-start-failure": 0.8}
MINUTE_MS = 60_000


@dataclass(frozen=True)
class Incident:
    kind: IncidentKind
    target: str  # a CDN name, or a player_version
    start_min: float
    end_min: float
    factor: float  # a rate multiplier, or for player-start-failure a probability

    @property
    def name(self) -> str:
        """The spec string it parses from (normalised), used as its id in the truth."""
        return f"{self.kind}:{self.target}:{_num(self.start_min)}-{_num(self.end_min)}:{_num(self.factor)}"

    def bounds_ms(self, window_start_ms: int) -> tuple[int, int]:
        """[start, end) in epoch ms; whole ms so that every comparison is exact."""
        return (
            window_start_ms + round(self.start_min * MINUTE_MS),
            window_start_ms + round(self.end_min * MINUTE_MS),
        )


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def parse_incident(spec: str, *, minutes: int) -> Incident:
    """Parse one `--incident` string; a ConfigError says what is wrong with it."""
    parts = spec.split(":")
    if len(parts) not in (3, 4):
        raise ConfigError(f"incident {spec!r}: expected kind:target:start-end[:factor]")
    kind, target, window = parts[0], parts[1], parts[2]
    if kind not in _DEFAULT_FACTOR:
        raise ConfigError(f"incident {spec!r}: unknown kind {kind!r} (known: {', '.join(_DEFAULT_FACTOR)})")
    if kind.startswith("cdn-") and target not in CDNS:
        raise ConfigError(f"incident {spec!r}: unknown CDN {target!r} (known: {', '.join(CDNS)})")
    if kind == "player-start-failure" and target not in PLAYER_VERSIONS:
        raise ConfigError(
            f"incident {spec!r}: unknown player_version {target!r} (known: {', '.join(sorted(PLAYER_VERSIONS))})"
        )
    try:
        start_text, end_text = window.split("-")
        start_min, end_min = float(start_text), float(end_text)
        factor = float(parts[3]) if len(parts) == 4 else _DEFAULT_FACTOR[kind]
    except ValueError:
        raise ConfigError(f"incident {spec!r}: the window is <start_min>-<end_min> and the factor a number") from None
    if not 0 <= start_min < end_min <= minutes:
        raise ConfigError(f"incident {spec!r}: need 0 <= start < end <= {minutes} (the window's minutes)")
    if kind == "player-start-failure" and not 0 < factor <= 1:
        raise ConfigError(f"incident {spec!r}: the probability must be in (0, 1]")
    if kind != "player-start-failure" and not factor > 0:
        raise ConfigError(f"incident {spec!r}: the factor must be > 0")
    return Incident(kind, target, start_min, end_min, factor)  # type: ignore[arg-type]


SCENARIOS = ("default", "calm")


def scenario_incidents(name: str, *, minutes: int) -> tuple[Incident, ...]:
    """Named incident sets. `default` is the demo's: one CDN degrades in the middle
    of the window, then a freshly rolled-out player version stops starting."""
    if name == "calm":
        return ()
    if name != "default":
        raise ConfigError(f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})")
    newest_shaka = next(p for p in PLATFORMS if p.player_name == "shaka-player").player_versions[-1]
    return (
        Incident("cdn-stall", "fastly", round(minutes * 0.4, 2), round(minutes * 0.65, 2), 8.0),
        Incident("player-start-failure", newest_shaka, round(minutes * 0.55, 2), round(minutes * 0.85, 2), 0.8),
    )


@dataclass(frozen=True)
class IncidentSchedule:
    """The incidents of one run, resolved to epoch ms, asked by the model for rates."""

    incidents: tuple[Incident, ...]
    window_start_ms: int

    def _active(self, kind: str, target: str, ts: int) -> list[Incident]:
        out = []
        for incident in self.incidents:
            if incident.kind == kind and incident.target == target:
                start, end = incident.bounds_ms(self.window_start_ms)
                if start <= ts < end:
                    out.append(incident)
        return out

    def cdn_factor(self, kind: Literal["cdn-stall", "cdn-error"], cdn: str, ts: int) -> tuple[float, list[Incident]]:
        """The hazard multiplier at `ts` and the incidents that make it."""
        active = self._active(kind, cdn, ts)
        factor = 1.0
        for incident in active:
            factor *= incident.factor
        return factor, active

    def start_failure(self, player_version: str, ts: int) -> tuple[float, list[Incident]]:
        """Probability that a play request at `ts` fails because of an incident."""
        active = self._active("player-start-failure", player_version, ts)
        survive = 1.0
        for incident in active:
            survive *= 1.0 - incident.factor
        return 1.0 - survive, active

    def next_boundary(self, ts: int) -> int | None:
        """The first incident start or end after `ts`: rates are constant until then."""
        edges = [edge for i in self.incidents for edge in i.bounds_ms(self.window_start_ms) if edge > ts]
        return min(edges) if edges else None
