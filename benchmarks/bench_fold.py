"""Fold or windows? Times both ways of running the section 1 state machine.

    python -m benchmarks.bench_fold [--events 1500000] [--runs 3]

Writes synthetic bronze-shaped events to Parquet (random event types, so every
transition, out-of-order `seq`, gaps over 30 minutes, ads, errors and closes
occur), then times, on the local session (`local[2]`, 4g, 8 shuffle partitions),
reading them and computing every play_sessions column into Spark's `noop` sink:

- fold: `spark_jobs.transforms.sessions.play_sessions` (one shuffle; the events
  of a session collected, sorted, and walked by the compiled PlaySessionFold);
- windows: the same state machine as running window functions over
  (`event_ts`, `seq`, `event_id`), five dependent window passes over one
  partitioning, then a group-by on it.

It also checks that both give identical rows: two independent implementations of
the state machine agreeing on every session of random traffic.

Measured on the 2-core, 24 GiB machine, `--events 1500000 --runs 3` (1,516,050
events, 13,636 sessions), while other sessions' jobs shared the two cores (load
average 3-6), so each figure is best / median of 3 runs (the first includes JIT
warm-up):

    run 1: fold  14.6 s / 18.6 s    windows 24.7 s / 29.2 s    identical rows: yes
    run 2: fold   8.5 s / 11.4 s    windows 15.2 s / 17.6 s    identical rows: yes

Runs 1 and 2 folded with SQL's higher-order `aggregate()`: about 5 s of the
fold's time was the read, the shuffle and the sort (measured by replacing the
fold with `size(events)`), the rest the interpreted lambda, about 5 microseconds
per event. The fold is now the Java function; the same command on 2026-11-24, on
an otherwise idle machine:

    run 3: fold   4.7 s /  6.7 s    windows 10.7 s / 18.7 s    identical rows: yes

so the walk itself went from ~3.5 s to almost nothing beside the shuffle and sort.
Then the dimensions moved into the fold too (they had been 14 `min(struct)`
aggregates beside the array):

    run 4: fold   2.6 s /  3.1 s    windows  7.7 s /  8.3 s    identical rows: yes

The fold was 1.6-1.8x as fast as the windows with the lambda, 2.3-3x with Java: it sorts each session's events in memory
after one shuffle, while the windows sort the whole input and stream it through
five window operators, each materialising running aggregates per row. The fold
also states the machine once, as the spec's table reads; the windows need a
re-formulation (anchor events that set the state whatever it was, then
segment-local running values), which is harder to check against the spec. The
fold's limit: a session's events must fit in one task's memory (a session of
heartbeats every 10 s is 360 events an hour, a few tens of KB).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from schemas.contract import E, EventType
from schemas.sessions import State
from schemas.tables import EVENT_TIME, SESSION_DIMENSIONS, spark_event_schema
from spark_jobs.columns import PLAY_SESSIONS_SCHEMA, conform
from spark_jobs.spark import build_session

# The fold's own pieces, reused so that the windows compute the same columns from
# the same per-session sums: what is compared is the state machine.
from spark_jobs.transforms.sessions import (
    ACC,
    ACC_TYPE,
    FOLD_INPUT_COLUMNS,
    outputs,
    play_sessions,
)

ORIGIN_MS = 1_772_366_400_000
MINUTE_MS = 60_000
# Cumulative weights (out of 10,000) of the random event types.
_WEIGHTS: list[tuple[str, int]] = [
    (EventType.heartbeat, 2900),
    (EventType.playing, 1000),
    (EventType.play_request, 800),
    (EventType.pause, 700),
    (EventType.seek_start, 600),
    (EventType.seek_end, 600),
    (EventType.buffer_start, 800),
    (EventType.buffer_end, 800),
    (EventType.rendition_change, 600),
    (EventType.ad_break_start, 200),
    (EventType.ad_break_end, 200),
    (EventType.ad_start, 100),
    (EventType.ad_end, 100),
    (EventType.error, 250),
    (EventType.view_start, 150),
    (EventType.player_ready, 150),
    (EventType.ended, 25),
    (EventType.view_end, 25),
]
assert sum(weight for _, weight in _WEIGHTS) == 10_000


def synthetic_events(spark: SparkSession, events: int) -> DataFrame:
    """About `events` bronze-shaped events, deterministic (hash-based, no RNG)."""
    sessions = max(1, events // 110)

    def uniform(*parts: Column | str, modulo: int) -> Column:
        return F.pmod(F.xxhash64(*parts), F.lit(modulo))

    sid = F.col("sid")
    per_session = spark.range(sessions).select(
        F.col("id").alias("sid"),
        (F.lit(20) + uniform(F.col("id"), F.lit("len"), modulo=181)).alias("length"),
    )
    exploded = per_session.select("sid", F.explode(F.sequence(F.lit(0), F.col("length") - 1)).alias("n"))
    seq = F.col("n").cast(T.LongType())
    draw = uniform(sid, seq, F.lit("type"), modulo=10_000)
    cumulative, event_type = 0, None
    for name, weight in _WEIGHTS:
        cumulative += weight
        event_type = (
            F.when(draw < cumulative, F.lit(str(name)))
            if event_type is None
            else event_type.when(draw < cumulative, F.lit(str(name)))
        )
    first_types = F.when(seq == 0, F.lit(str(EventType.view_start))).when(seq == 1, F.lit(str(EventType.play_request)))
    event_type = F.coalesce(first_types, event_type)
    # 10 s apart with up to 15 s of jitter (so event_ts order and seq order differ
    # now and then); a fifth of the sessions have a 40-minute pause in the middle.
    gap_after = uniform(sid, F.lit("gap"), modulo=200)
    has_gap = uniform(sid, F.lit("has_gap"), modulo=5) == 0
    event_ts = (
        F.lit(ORIGIN_MS)
        + sid * 7_000
        + seq * 10_000
        + uniform(sid, seq, F.lit("jitter"), modulo=15_000)
        + F.when(has_gap & (seq >= gap_after), F.lit(40 * MINUTE_MS)).otherwise(F.lit(0))
    )
    bitrates = F.array(*(F.lit(v) for v in (800, 1500, 3000, 4500, 6000, 8000)))
    carries_bitrate = F.col(E.event_type).isin(EventType.playing, EventType.heartbeat, EventType.rendition_change)
    columns = {
        E.schema_version: F.lit(1),
        E.event_id: F.concat_ws("-", F.lit("e"), sid.cast("string"), seq.cast("string")),
        E.event_type: event_type,
        E.event_ts: event_ts,
        E.seq: seq,
        E.viewer_id: F.concat(F.lit("v"), (sid % max(1, sessions // 3)).cast("string")),
        E.play_session_id: F.concat(F.lit("s"), sid.cast("string")),
        E.content_id: F.concat(F.lit("c"), (sid % 97).cast("string")),
        E.content_type: F.when(sid % 4 == 0, F.lit("live")).otherwise(F.lit("vod")),
        E.content_duration_ms: F.when(sid % 4 != 0, F.lit(1_800_000)),
        E.device_type: F.element_at(
            F.array(*(F.lit(v) for v in ("tv", "mobile", "desktop"))), (sid % 3 + 1).cast("int")
        ),
        # null on the first few events of some sessions: the first non-null counts
        E.cdn: F.when(seq >= uniform(sid, F.lit("cdn"), modulo=4), F.concat(F.lit("cdn-"), (seq % 2).cast("string"))),
        E.country: F.lit("DE"),
        E.playhead_ms: F.when(uniform(sid, seq, F.lit("ph"), modulo=3) == 0, seq * 9_000),
        E.error_fatal: F.when(F.col(E.event_type) == EventType.error, uniform(sid, seq, F.lit("fatal"), modulo=8) == 0),
        E.error_code: F.when(F.col(E.event_type) == EventType.error, F.concat(F.lit("E"), (seq % 5).cast("string"))),
        E.ad_break_id: F.when(F.col(E.event_type).startswith("ad_"), F.lit("b")),
        E.received_ts: event_ts + 1_000,
        E.sent_ts: event_ts + 200,
    }
    frame = exploded
    for name in (E.event_type, E.event_ts):  # needed by later expressions
        frame = frame.withColumn(name, columns[name])
    frame = frame.withColumn(
        E.bitrate_kbps,
        F.when(carries_bitrate, F.element_at(bitrates, (uniform(sid, seq, F.lit("br"), modulo=6) + 1).cast("int"))),
    )
    schema = spark_event_schema()
    selected = [
        (
            F.col(field.name)
            if field.name in (E.event_type, E.event_ts, E.bitrate_kbps)
            else columns.get(field.name, F.lit(None))
        )
        .cast(field.dataType)
        .alias(field.name)
        for field in schema.fields
    ]
    derived = F.timestamp_millis(F.col(E.received_ts) - (F.col(E.sent_ts) - F.col(E.event_ts)))
    return frame.select(*selected).withColumn(EVENT_TIME, derived)


def play_sessions_windowed(
    events: DataFrame, *, watermark_ms: int, gap: timedelta = timedelta(minutes=30)
) -> DataFrame:
    """The same columns as `play_sessions`, with window functions instead of a fold.

    Re-formulation of section 1: `playing`, a `pause` after any play intent, the
    first `play_request` before any intent, and the closing events set the state
    whatever it was ("anchors"); between two anchors the state follows from
    running values local to that segment (seek started, last effective buffer
    event, a play_request while paused before the first frame).
    """
    gap_ms = gap // timedelta(milliseconds=1)
    sid, kind = F.col(E.play_session_id), F.col(E.event_type)
    ordered = Window.partitionBy(E.play_session_id).orderBy(E.event_ts, E.seq, E.event_id)
    before = ordered.rowsBetween(Window.unboundedPreceding, -1)
    upto = ordered.rowsBetween(Window.unboundedPreceding, Window.currentRow)

    def seen(condition: Column, frame: Window) -> Column:
        return F.coalesce(F.max(condition).over(frame), F.lit(False))

    def last_in_segment(condition: Column, value: Column, frame: Window) -> Column:
        """The latest `value` among events meeting `condition` in this segment."""
        latest = F.last(
            F.when(condition, F.struct(F.col("seg").alias("seg"), value.alias("v"))), ignorenulls=True
        ).over(frame)
        return F.when(latest["seg"] == F.col("seg"), latest["v"])

    fatal = (kind == EventType.error) & F.coalesce(F.col(E.error_fatal), F.lit(False))
    closes = kind.isin(EventType.ended, EventType.view_end) | fatal
    ad_flag = F.when(kind == EventType.ad_break_start, True).when(kind == EventType.ad_break_end, False)
    pass_a = events.select(
        *FOLD_INPUT_COLUMNS,
        fatal.alias("fatal"),
        closes.alias("closes"),
        (~seen(closes, before)).alias("live"),
        seen(kind.isin(EventType.play_request, EventType.playing), before).alias("intent_before"),
        seen(kind == EventType.playing, before).alias("ff_before"),
        seen(kind == EventType.play_request, before).alias("requested_before"),
        F.coalesce(F.last(ad_flag, ignorenulls=True).over(before), F.lit(False)).alias("in_ad_before"),
        F.coalesce(F.last(ad_flag, ignorenulls=True).over(upto), F.lit(False)).alias("in_ad"),
        F.last(E.bitrate_kbps, ignorenulls=True).over(before).alias("bitrate_before"),
        F.last(E.bitrate_kbps, ignorenulls=True).over(upto).alias("bitrate"),
        F.lead(E.event_ts).over(ordered).alias("next_ts"),
    )
    anchor = (
        F.when(F.col("closes"), State.closed.number)
        .when(kind == EventType.playing, State.playing.number)
        .when((kind == EventType.pause) & F.col("intent_before"), State.paused.number)
        .when((kind == EventType.play_request) & ~F.col("intent_before"), State.starting.number)
    )
    pass_b = pass_a.withColumn("anchor", anchor).withColumn("seg", F.count("anchor").over(upto))
    seek_event = kind.isin(EventType.seek_start, EventType.seek_end)
    buffer_event = ((kind == EventType.buffer_start) & ~F.col("in_ad_before")) | (kind == EventType.buffer_end)
    pass_c = pass_b.select(
        "*",
        F.last("anchor", ignorenulls=True).over(upto).alias("seg_anchor"),
        F.coalesce(last_in_segment(kind == EventType.seek_start, F.lit(True), upto), F.lit(False)).alias("seek_in_seg"),
        F.coalesce(last_in_segment(seek_event, kind == EventType.seek_start, upto), F.lit(False)).alias("seeking_now"),
        F.coalesce(last_in_segment(seek_event, kind == EventType.seek_start, before), F.lit(False)).alias(
            "seeking_before"
        ),
        F.coalesce(last_in_segment(buffer_event, kind == EventType.buffer_start, upto), F.lit(False)).alias(
            "rebuffering_now"
        ),
    )
    restarts = (kind == EventType.play_request) & ~F.col("ff_before") & ~F.col("seeking_before")
    pass_d = pass_c.withColumn("restarted", F.coalesce(last_in_segment(restarts, F.lit(True), upto), F.lit(False)))
    seg_anchor = F.col("seg_anchor")
    state = (
        F.when(F.col("closes") | ~F.col("live"), State.closed.number)
        .when(seg_anchor.isNull(), State.idle.number)
        .when(seg_anchor == State.starting.number, State.starting.number)
        .when(
            seg_anchor == State.playing.number,
            F.when(F.col("seek_in_seg"), State.seeking.number)
            .when(F.col("rebuffering_now"), State.rebuffering.number)
            .otherwise(State.playing.number),
        )
        .when(~F.col("ff_before") & F.col("restarted"), State.starting.number)
        .when(F.col("seeking_now"), State.seeking.number)
        .otherwise(State.paused.number)
    )
    pass_e = pass_d.withColumn("state", state).withColumn(
        "prev_state", F.lag("state", 1, State.idle.number).over(ordered)
    )

    since = F.col("next_ts") - F.col(E.event_ts)
    elapsed = F.when(since.isNull() | (since > gap_ms), F.lit(0)).otherwise(since)
    live, st = F.col("live"), F.col("state")

    def total(condition: Column, value: Column = elapsed) -> Column:
        return F.coalesce(F.sum(F.when(live & condition, value)), F.lit(0)).cast(T.LongType())

    def count(condition: Column) -> Column:
        return F.count(F.when(live & condition, F.lit(1))).cast(T.LongType())

    def anyone(condition: Column) -> Column:
        return F.coalesce(F.max(live & condition), F.lit(False))

    content_play = (st == State.playing.number) & ~F.col("in_ad")
    bitrate, bitrate_before = F.col(E.bitrate_kbps), F.col("bitrate_before")
    rendition = (kind == EventType.rendition_change) & bitrate.isNotNull() & bitrate_before.isNotNull()
    key = F.struct(F.col(E.event_ts).alias("ts"), F.col(E.seq).alias("seq"), F.col(E.event_id).alias("id"))
    sums = {
        "first_frame": anyone(kind == EventType.playing),
        "requested": anyone(kind == EventType.play_request),
        "requested_before_frame": anyone((kind == EventType.playing) & ~F.col("ff_before") & F.col("requested_before")),
        "startup_ms": total(st == State.starting.number),
        "play_ms": total(content_play),
        "ad_ms": total((st == State.playing.number) & F.col("in_ad")),
        "rebuffer_ms": total(st == State.rebuffering.number),
        "seek_ms": total(st == State.seeking.number),
        "pause_ms": total(st == State.paused.number),
        "kbps_ms": total(content_play & F.col("bitrate").isNotNull(), F.col("bitrate") * elapsed),
        "bitrate_play_ms": total(content_play & F.col("bitrate").isNotNull()),
        "rebuffer_count": count((st == State.rebuffering.number) & (F.col("prev_state") != State.rebuffering.number)),
        "seek_count": count((st == State.seeking.number) & (F.col("prev_state") != State.seeking.number)),
        "error_count": count(kind == EventType.error),
        "upshift_count": count(rendition & (bitrate > bitrate_before)),
        "downshift_count": count(rendition & (bitrate < bitrate_before)),
        "event_count": F.count(F.lit(1)).cast(T.LongType()),
        "fatal": anyone(F.col("fatal")),
        "fatal_code": F.max(F.when(live & F.col("fatal"), F.col(E.error_code))),
        "playback_failure": anyone(F.col("fatal") & F.col("ff_before")),
        "completed": anyone(kind == EventType.ended),
        "max_playhead": F.max(F.when(live, F.col(E.playhead_ms))),
        "end_time": F.max(F.when(live, F.struct(key.alias("k"), F.col(EVENT_TIME).alias("t"))))["t"],
        "closed_at": F.max(F.when(live & F.col("closes"), key)),
    }
    # Each dimension's first non-null value, by (event_ts, seq, event_id); one that
    # first appears after the closing event does not count (section 1).
    firsts = {name: F.min(F.when(F.col(name).isNotNull(), F.struct(key.alias("k"), F.col(name).alias("v"))))
              for name in SESSION_DIMENSIONS}
    grouped = pass_e.groupBy(sid).agg(
        F.min(F.struct(key.alias("k"), F.col(EVENT_TIME).alias("t")))["t"].alias("start_time"),
        F.struct(*(column.alias(name) for name, column in sums.items())).alias("sums"),
        F.struct(*(first.alias(name) for name, first in firsts.items())).alias("firsts"),
    )
    sums_col, firsts_col = F.col("sums"), F.col("firsts")
    closed_at = sums_col["closed_at"]
    dimensions = {
        name: F.when(closed_at.isNull() | (firsts_col[name]["k"] <= closed_at), firsts_col[name]["v"])
        for name in SESSION_DIMENSIONS
    }
    columns = {**{name: sums_col[name] for name in sums}, **dimensions}
    acc = F.struct(*(columns[name].cast(ACC_TYPE[name].dataType).alias(name) for name in columns))
    folded = grouped.select(sid, "start_time", acc.alias(ACC))
    return conform(folded.select(*outputs(watermark_ms, gap_ms)), PLAY_SESSIONS_SCHEMA)


def _seconds_to_compute(build: Callable[[], DataFrame]) -> float:
    """Wall time to compute every row and column of `build()` (Spark's noop sink)."""
    start = time.perf_counter()
    build().write.format("noop").mode("overwrite").save()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_fold", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_500_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=("fold", "windows"), default=None)
    args = parser.parse_args(argv)

    spark = build_session("local", app_name="ottlake-bench-fold")
    spark.sparkContext.setLogLevel("ERROR")
    try:
        return _compare(spark, events=args.events, runs=args.runs, only=args.only)
    finally:
        spark.stop()


def _compare(spark: SparkSession, *, events: int, runs: int, only: str | None) -> int:
    watermark_ms = ORIGIN_MS + 7 * 24 * 3_600_000
    with tempfile.TemporaryDirectory(prefix="ottlake-bench-") as tmp:
        path = str(Path(tmp) / "events")
        synthetic_events(spark, events).write.parquet(path)
        counts = spark.read.parquet(path).agg(F.count(F.lit(1)), F.count_distinct(E.play_session_id)).first()
        print(f"{counts[0]:,} events, {counts[1]:,} sessions")
        approaches = {
            "fold": lambda: play_sessions(spark.read.parquet(path), watermark_ms=watermark_ms),
            "windows": lambda: play_sessions_windowed(spark.read.parquet(path), watermark_ms=watermark_ms),
        }
        for name, build in approaches.items():
            if only not in (None, name):
                continue
            seconds = [_seconds_to_compute(build) for _ in range(runs)]
            print(
                f"{name:8} best {min(seconds):.1f} s, median {statistics.median(seconds):.1f} s "
                f"({', '.join(f'{s:.1f}' for s in seconds)})"
            )
        if only is not None:
            return 0
        fold, windows = approaches["fold"](), approaches["windows"]()
        differing = fold.exceptAll(windows).count() + windows.exceptAll(fold).count()
        print(f"identical rows: {'yes' if differing == 0 else f'NO, {differing} differ'}")
        return 0 if differing == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
