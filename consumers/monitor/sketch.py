"""Startup-time percentiles as a mergeable log-bucket sketch (DDSketch's buckets).

Why a sketch and not the exact values: one window's row is written by every
shard's processor separately and merged by the reader (and by the alert rules
over several windows), so percentiles must merge. DDSketch (Masson, Rim, Lee,
VLDB 2019) puts a value x >= 1 in bucket ceil(log_gamma(x)), gamma = (1+a)/(1-a),
and answers any quantile within relative error a of the exact one. With a = 1%
a startup time between 1 ms and 10 minutes lands in one of about 660 buckets
(typically a few dozen are used), small enough for a DynamoDB map.
qoe-metrics.md §4 allows "an approximate percentile within 1% rank error";
this one is within 1% value error instead, which is what an on-call reads.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping

RELATIVE_ACCURACY = 0.01
_GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(_GAMMA)
ZERO_BUCKET = -1  # values below 1 ms (a first frame in the same ms as its play_request)

Sketch = Counter  # bucket index -> count


def bucket_of(value_ms: float) -> int:
    if value_ms < 1:
        return ZERO_BUCKET
    return math.ceil(math.log(value_ms) / _LOG_GAMMA)


def bucket_value(bucket: int) -> float:
    """The value a bucket stands for: within RELATIVE_ACCURACY of all it holds."""
    if bucket == ZERO_BUCKET:
        return 0.0
    return 2 * _GAMMA**bucket / (_GAMMA + 1)


def add(sketch: Sketch, value_ms: float) -> None:
    sketch[bucket_of(value_ms)] += 1


def merge(sketches: Iterable[Mapping[int, int]]) -> Sketch:
    total: Sketch = Counter()
    for sketch in sketches:
        total.update(sketch)
    return total


def quantile(sketch: Mapping[int, int], q: float) -> int | None:
    """The q-quantile (0..1) in whole ms, None for an empty sketch.

    The value of rank floor(q * (n - 1)) among the n values, as numpy's 'lower'."""
    count = sum(sketch.values())
    if count == 0:
        return None
    rank = math.floor(q * (count - 1))
    seen = 0
    for bucket in sorted(sketch):
        seen += sketch[bucket]
        if seen > rank:
            return round(bucket_value(bucket))
    raise AssertionError("unreachable: the ranks cover every value")  # pragma: no cover
