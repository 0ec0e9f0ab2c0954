"""The model's probabilities, hazards and error codes, and its two draw helpers.

Kept in one place so that a scenario's realism can be tuned without reading the
model's control flow; the numbers are plausible orders of magnitude for a
consumer OTT service (a few percent of attempts fail or are abandoned, a stall
every few tens of minutes on a good line, a pause every twenty).
"""

from __future__ import annotations

import math
from random import Random

MINUTE = 60_000
# qoe-metrics.md §1: a gap of MORE than 30 minutes belongs to no state. A normal
# pause stays well under it; a viewer who went away stays away longer than it.
AWAY_MIN_MS = 30 * MINUTE + 1_000
AWAY_MAX_MS = 55 * MINUTE
PAUSE_MAX_MS = 20 * MINUTE

# Per play session.
P_NO_ATTEMPT = 0.04
P_ENTITLEMENT_ERROR = 0.005
P_START_FAILURE = 0.015
P_EARLY_EXIT = 0.015
P_PREROLL = 0.7
P_AD_EXIT = 0.04
# Per pause.
P_AWAY = 0.04
P_EXIT_WHILE_PAUSED = 0.1
P_PAUSED_SEEK = 0.15

# Hazards per minute of content play.
SEEKS_PER_MIN_VOD = 0.07
PAUSES_PER_MIN = {"vod": 0.05, "live": 0.02}
ABR_CHECKS_PER_MIN = 1.5
WARNINGS_PER_MIN = 0.01
FATALS_PER_MIN = 0.0015

START_FAILURES = (
    ("MANIFEST_LOAD_TIMEOUT", "manifest request timed out"),
    ("DRM_LICENSE_ERROR", "license request failed: HTTP 403"),
    ("MEDIA_ERR_SRC_NOT_SUPPORTED", "no supported source was found"),
)
PLAYBACK_FAILURES = (
    ("DECODER_ERROR", "video decoder error"),
    ("SEGMENT_HTTP_5XX", "segment requests failing: HTTP 503"),
    ("DRM_LICENSE_EXPIRED", "license expired during playback"),
)
WARNINGS = (
    ("FRAGMENT_LOAD_RETRY", "segment request failed, retrying"),
    ("SUBTITLE_LOAD_ERROR", "subtitle track could not be loaded"),
    ("AUDIO_TRACK_SWITCH_FAILED", "audio track switch failed"),
)


def lognormal_ms(rng: Random, median: float, sigma: float, low: int, high: int) -> int:
    """Durations in integer ms: right-skewed like real startup, stall and pause times."""
    return min(high, max(low, int(median * math.exp(rng.gauss(0.0, sigma)))))


def uniform_ms(rng: Random, low: int, high: int) -> int:
    return rng.randint(low, high)
