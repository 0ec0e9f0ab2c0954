"""Shared fixtures live in plugin modules, one per area, so areas don't collide."""

pytest_plugins = [
    "tests.fixtures_stack",
    "tests.fixtures_spark",
    "tests.fixtures_consumers",
    "tests.fixtures_monitor",
    "tests.fixtures_analytics",
]
