"""Producers: the player SDK, typed event builders, and the traffic simulator."""
