"""The traffic simulator: realistic viewers, titles, networks and QoE problems.

Seeded and deterministic. `simulate(SimConfig(...))` makes the play sessions, their
events and the ground truth of every session (what the model decided, for
checking the batch jobs), plus the delivery plan with duplicates, reordering,
late events and skewed device clocks; `emit()` sends that plan through the SDK's
Tracker, as fast as possible or paced against the clock.
"""

from __future__ import annotations

from producers.simulator.emitter import EmitReport, Pacer, emit
from producers.simulator.faults import Delivery, FaultRates
from producers.simulator.incidents import Incident, parse_incident, scenario_incidents
from producers.simulator.run import SimConfig, Simulation, SimSession, simulate
from producers.simulator.truth import TRUTH_FIELDS

__all__ = [
    "TRUTH_FIELDS",
    "Delivery",
    "EmitReport",
    "FaultRates",
    "Incident",
    "Pacer",
    "SimConfig",
    "SimSession",
    "Simulation",
    "emit",
    "parse_incident",
    "scenario_incidents",
    "simulate",
]
