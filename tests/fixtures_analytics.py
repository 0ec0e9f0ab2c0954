"""The analysts' lake: simulated hours with one scheduled incident, landed in the raw
zone and built by `ottlake batch` (every gate), once for the whole suite; the SQL,
report and docs tests read it and never write it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

# 2026-03-01T09:00:00Z: three hours, all on one UTC date.
ANALYST_START_MS = 1_772_355_600_000
ANALYST_DATE = "2026-03-01"
ANALYST_MINUTES = 180
# From minute 70 to minute 110 (10:10 to 10:50 UTC) the most common player version
# fails to start, and one CDN stalls.
ANALYST_INCIDENTS = ("player-start-failure:iOS-18.1:70-110:0.9", "cdn-stall:fastly:70-110:30")
# The report replays these rules (sized for the lake's 60 viewers; the shipped ones
# wait for hundreds of sessions).
ANALYST_RULES = """
[[rule]]
name = "start-failure-rate"
metric = "start_failure_rate"
op = ">"
threshold = 0.2
windows = 10
by = "all"
min_attempts = 10
"""


@pytest.fixture(scope="session")
def analyst_lake(tmp_path_factory, spark):
    """(lake folder, the Simulation) after one batch run over the landed hours."""
    from consumers.raw_zone import LocalRawZone
    from ottlake.cli.main import main
    from producers.simulator import SimConfig, simulate
    from producers.simulator.incidents import parse_incident
    from producers.simulator.landing import land

    assert datetime.fromtimestamp(ANALYST_START_MS / 1000, tz=UTC).date().isoformat() == ANALYST_DATE
    lake_dir = tmp_path_factory.mktemp("analyst-lake")
    incidents = tuple(parse_incident(spec, minutes=ANALYST_MINUTES) for spec in ANALYST_INCIDENTS)
    simulation = simulate(SimConfig(viewers=60, minutes=ANALYST_MINUTES, seed=26, start_ms=ANALYST_START_MS,
                                    incidents=incidents))
    land(simulation.deliveries, LocalRawZone(lake_dir), stream_name="ottlake-player-events")
    assert main(["batch", "--lake", str(lake_dir)]) == 0
    return lake_dir, simulation
