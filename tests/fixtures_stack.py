"""Fixtures for the stack area (filled in by that area)."""
