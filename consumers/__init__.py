"""Kinesis consumers: readers of the player-event stream (see ../shared/DESIGN.md)."""
