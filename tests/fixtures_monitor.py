"""Fixtures for the live monitor: a real incoming-webhook receiver on 127.0.0.1, a
live table of a test's own, and the CDN stall scenario the integration tests share.

kclpy records, inputs and a checkpointer come from tests.fixtures_consumers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from consumers.monitor.store import LiveStore
from consumers.monitor.windows import WINDOW_MS
from ottlake.services.infra import live_table_request
from ottlake.services.webhook import WebhookReceiver, receiving
from ottlake.settings import Settings
from producers.simulator import SimConfig, Simulation, parse_incident, simulate

# The scenario: 500 viewers for 25 minutes, fastly's stall hazard x20 in minutes 8-13.
INCIDENT_MINUTES = 25
INCIDENT = "cdn-stall:fastly:8-13:20"
INCIDENT_WINDOWS = range(8, 13)


def quiet_windows(minutes: int = INCIDENT_MINUTES) -> list[int]:
    """Minutes of the scenario without the incident: before it, and from 6 minutes
    after its end (stalls begun in the incident run on a little)."""
    return [*range(0, INCIDENT_WINDOWS[0]), *range(INCIDENT_WINDOWS[-1] + 7, minutes)]


def incident_simulation(start_ms: int, *, minutes: int = INCIDENT_MINUTES) -> Simulation:
    """The scenario from `start_ms` (a window start), `minutes` long (more: a longer quiet
    tail); seeded, so the same sessions every run."""
    return simulate(SimConfig(viewers=500, minutes=minutes, seed=7, start_ms=start_ms,
                              incidents=(parse_incident(INCIDENT, minutes=minutes),)))


def rebuffer_ratios(store: LiveStore, series: str, *, start_ms: int,
                    minutes: int = INCIDENT_MINUTES) -> dict[int, float | None]:
    """The rebuffer ratio of each window of `series` in the live table, by the scenario's minute."""
    rows = store.rows(series, since_ms=start_ms, until_ms=start_ms + minutes * WINDOW_MS)
    return {(row.window_start_ms - start_ms) // WINDOW_MS: row.rebuffer_ratio for row in rows}


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    with receiving() as receiver:  # the demo's receiver: a real http.server on 127.0.0.1
        yield receiver


def live_table_settings(settings: Settings) -> Settings:
    """`settings` with a live table of its own, created on settings' stack."""
    named = settings.model_copy(update={"live_table": f"it-live-{uuid.uuid4().hex[:8]}"})
    dynamodb = named.aws().client("dynamodb")
    dynamodb.create_table(**live_table_request(named.live_table))
    dynamodb.get_waiter("table_exists").wait(TableName=named.live_table)
    return named


@pytest.fixture
def live_settings(embedded_settings: Settings) -> Settings:
    return live_table_settings(embedded_settings)
