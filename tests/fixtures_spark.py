"""Fixtures for the spark area (filled in by that area)."""
