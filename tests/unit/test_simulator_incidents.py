"""Scheduled incidents: parsing, and their effect inside their window only."""

from __future__ import annotations

import pytest

from ottlake.errors import ConfigError
from producers.simulator import Incident, SimConfig, Simulation, parse_incident, scenario_incidents, simulate
from producers.simulator.catalog import CDNS, PLAYER_VERSIONS

START_MS = 1_750_000_000_000
MINUTE = 60_000


def test_parse_incident_specs() -> None:
    stall = parse_incident("cdn-stall:akamai:20-40:8", minutes=60)
    assert stall == Incident("cdn-stall", "akamai", 20.0, 40.0, 8.0)
    assert stall.bounds_ms(START_MS) == (START_MS + 20 * MINUTE, START_MS + 40 * MINUTE)
    assert parse_incident(stall.name, minutes=60) == stall
    assert parse_incident("player-start-failure:4.9.2:1.5-3", minutes=5).factor == 0.8  # the default
    assert parse_incident("cdn-error:fastly:0-5", minutes=5).factor == 20.0


@pytest.mark.parametrize("spec, reason", [
    ("cdn-stall:akamai", "expected kind:target"),
    ("cdn-melt:akamai:1-2", "unknown kind"),
    ("cdn-stall:nocdn:1-2", "unknown CDN"),
    ("player-start-failure:0.0.0:1-2", "unknown player_version"),
    ("cdn-stall:akamai:5-2", "need 0 <= start < end"),
    ("cdn-stall:akamai:1-99", "need 0 <= start < end"),
    ("cdn-stall:akamai:x-2", "the window is"),
    ("cdn-stall:akamai:1-2:0", "factor must be > 0"),
    ("player-start-failure:4.9.2:1-2:1.5", "probability"),
])
def test_bad_incident_specs_say_why(spec: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        parse_incident(spec, minutes=60)


@pytest.mark.parametrize("minutes", [1, 7, 30, 240])
def test_default_scenario_fits_any_window(minutes: int) -> None:
    incidents = scenario_incidents("default", minutes=minutes)
    assert {i.kind for i in incidents} == {"cdn-stall", "player-start-failure"}
    for incident in incidents:
        assert parse_incident(incident.name, minutes=minutes) == incident
        assert incident.target in CDNS or incident.target in PLAYER_VERSIONS
    assert scenario_incidents("calm", minutes=minutes) == ()
    with pytest.raises(ConfigError, match="unknown scenario"):
        scenario_incidents("stormy", minutes=minutes)


def _run(*specs: str, viewers: int = 180, minutes: int = 60) -> Simulation:
    incidents = tuple(parse_incident(spec, minutes=minutes) for spec in specs)
    return simulate(SimConfig(viewers=viewers, minutes=minutes, seed=17, start_ms=START_MS, incidents=incidents))


def test_cdn_stall_incident_raises_that_cdns_stall_rate_inside_its_window_only() -> None:
    sim = _run("cdn-stall:akamai:20-40:8")
    lo, hi = START_MS + 20 * MINUTE, START_MS + 40 * MINUTE
    counts = {(cdn, inside): 0 for cdn in ("akamai", "other") for inside in (True, False)}
    for session in sim.sessions:
        t = session.truth
        for stall in t["stalls"]:
            inside = lo <= stall["start_ts"] < hi
            counts["akamai" if t["cdn"] == "akamai" else "other", inside] += 1
            assert (stall["incident_factor"] == 8.0) == (t["cdn"] == "akamai" and inside)
        if t["incidents"]:
            assert t["cdn"] == "akamai" and t["incidents"] == ["cdn-stall:akamai:20-40:8"]
            assert t["start_time_ms"] < hi and t["end_time_ms"] >= lo
    # Per minute inside (20 min) against outside (40 min), for akamai and the rest. The
    # hazard is x8 per minute of play; fewer play minutes survive it (viewers leave
    # during long stalls), so the count per wall minute rises less than 8 times.
    akamai = (counts["akamai", True] / 20) / (counts["akamai", False] / 40)
    other = (counts["other", True] / 20) / (counts["other", False] / 40)
    assert 0.6 < other < 1.8
    assert akamai / other > 2.5
    touched = sum(bool(s.truth["incidents"]) for s in sim.sessions)
    assert touched > 20


def test_player_start_failure_incident_fails_that_version_inside_its_window_only() -> None:
    sim = _run("player-start-failure:4.9.2:10-30:1")
    lo, hi = START_MS + 10 * MINUTE, START_MS + 30 * MINUTE
    affected = 0
    for session in sim.sessions:
        t = session.truth
        failed_by_incident = [e for e in t["errors"] if e["code"] == "PLAYER_INIT_FAILED"]
        request = t["startup"].get("request_ts")
        exposed = t["player_version"] == "4.9.2" and request is not None and lo <= request < hi
        business_first = any(e["category"] == "business" for e in t["errors"])
        if exposed and not business_first:
            affected += 1
            assert t["start_outcome"] == "start_failure" and t["fatal_error_code"] == "PLAYER_INIT_FAILED"
            assert failed_by_incident[0]["cause"] == "incident:player-start-failure:4.9.2:10-30:1"
            assert t["incidents"] == ["player-start-failure:4.9.2:10-30:1"]
        else:
            assert failed_by_incident == [] and t["incidents"] == []
    assert affected >= 5


def test_cdn_error_incident_causes_playback_failures_on_that_cdn() -> None:
    sim = _run("cdn-error:fastly:0-60:200", viewers=120, minutes=60)
    caused = [s.truth for s in sim.sessions
              if any((e["cause"] or "").startswith("incident:cdn-error") for e in s.truth["errors"])]
    assert len(caused) >= 5
    assert all(t["cdn"] == "fastly" and t["playback_failure"] for t in caused)
