"""`ottlake batch` on millions of simulated events, beside two floors on the same raw zone.

One case per size (`--events`, default 1,000,000; `--events 1000000,3000000,10000000`
runs each). For a size N:

1. The raw zone: N deliveries of simulated traffic (duplicates, reordering, late
   events, skewed clocks, as `simulate()` plans them), landed as gzip NDJSON in
   Firehose's key layout (`producers.simulator.landing.land`), 2 shards, an object
   per shard and minute. One `simulate()` call is capped (viewers x minutes), so the
   zone is built from chunks of CHUNK_EVENTS deliveries: chunk k is one day-long
   window (day k from START_MS) of a few hundred viewers, seed `seed * 1000 + k`
   (seeded UUIDs: event, session and viewer ids never repeat across chunks), cut
   at exactly its share of deliveries in arrival order, and landed under a stream
   name of its own so no two chunks can write the same key (checked). Chunks are
   cached under benchmarks/out/batch/chunks/ by (seed, index, size), the raw zone of
   a size under benchmarks/out/batch/raw/ by (size, seed) as hard links to them;
   both are reused when present (`python -m benchmarks.batch_bench prepare
   --events N` builds them ahead of a run).
2. Floor 1, Spark: a fresh JVM with the batch's own session settings
   (`spark_jobs.spark.build_session("local")`: local[2], 8 GiB) reads the raw zone
   with `spark.read.text` and parses every line with `from_json` and the contract's
   schema (`schemas.tables.spark_event_schema()`) into the `noop` sink.
3. Floor 2, DuckDB: `read_ndjson` over the same gzip objects with every column
   typed from the contract, 2 threads, `count()` of every column (each value is
   parsed and converted; nothing is kept).
4. The batch: `ottlake batch --lake L` in a subprocess (a fresh JVM), L a fresh
   lake folder whose raw zone is hard links to the prepared one. Stage seconds come
   from the stage table the CLI prints; the whole batch is their sum (Spark time,
   comparable to the floor's), and the subprocess's wall time (with Python and JVM
   start) is in the note.

Memory: the peak RSS (VmHWM from /proc) of each process of a subprocess's tree,
sampled every 0.2 s: the driver JVM (`java`) and the Python process that drives it.
Every subprocess's whole stdout and stderr are kept in benchmarks/out/batch/logs/,
and each size's figures in benchmarks/out/batch/results-<size>-seed<seed>.json (a
failed batch too, with its floors), so a long multi-size run loses nothing.

Rates are raw lines (deliveries, duplicates included) per second. Targets (not
asserted): the whole batch >= 100,000 events/s at 10M on 2 cores, and within 4x of
the Spark parse floor.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import BenchOptions, Measurement

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "out" / "batch"
RAW_SUBDIR = Path("raw") / "player_events"

DEFAULT_EVENTS = 1_000_000
DEFAULT_SEED = 1
CHUNK_EVENTS = 1_000_000
DAY_MINUTES = 24 * 60
DAY_MS = DAY_MINUTES * 60_000
START_MS = int(datetime(2026, 10, 1, tzinfo=UTC).timestamp() * 1000)  # fixed: the same bytes every time
# Deliveries per viewer per simulated day, measured (20 viewers, seed 1: 157,262);
# a chunk simulates 10% more viewers than this predicts and keeps the first N deliveries.
DELIVERIES_PER_VIEWER_DAY = 7_860
SHARDS = 2
STAGES = ("bronze", "sessions", "viewer_sessions", "aggregates")
RUNNER_EVENTS = 200_000  # the local runner benchmark: both ways on a small hour of traffic
RECORD = "quality record"  # the batch's one results commit and Data Docs build (a row of its own)
TARGET_RATE = 100_000
TARGET_FLOOR_RATIO = 4.0


# --- the raw zone -------------------------------------------------------------------------


@dataclass(frozen=True)
class RawZone:
    """A prepared raw zone: `root` holds raw/player_events/..."""

    root: Path
    events: int
    objects: int
    bytes: int
    duplicates: int  # deliveries that repeat an event id (the simulator's duplicates)
    seed: int

    @property
    def objects_root(self) -> Path:
        return self.root / RAW_SUBDIR


def prepare(events: int, seed: int = DEFAULT_SEED, *, log: Any = print) -> RawZone:
    """The raw zone of `events` deliveries for `seed`, from the cache or built now."""
    if events < 1:
        raise ValueError("events must be at least 1")
    root = OUT / "raw" / f"{events}-seed{seed}"
    manifest = root / "manifest.json"
    if not manifest.exists():
        chunks = []
        remaining, index = events, 0
        while remaining > 0:
            size = min(CHUNK_EVENTS, remaining)
            chunks.append(_chunk(seed, index, size, log=log))
            remaining -= size
            index += 1
        _merge_chunks(root, chunks, seed)
    info = json.loads(manifest.read_text())
    if info["events"] != events:
        raise RuntimeError(f"{manifest}: {info['events']} events, expected {events}; delete it to rebuild")
    return RawZone(root, info["events"], info["objects"], info["bytes"], info["duplicates"], seed)


def _chunk(seed: int, index: int, events: int, *, log: Any) -> Path:
    """Chunk `index` of `seed`: the first `events` deliveries of a day of traffic, landed."""
    from producers.simulator import SimConfig, simulate
    from producers.simulator.landing import land
    from producers.simulator.run import MAX_VIEWER_MINUTES

    final = OUT / "chunks" / f"seed{seed}-c{index:03d}-{events}"
    if (final / "manifest.json").exists():
        return final
    began = time.perf_counter()
    chunk_seed = seed * 1000 + index
    start_ms = START_MS + index * DAY_MS
    viewers = max(1, math.ceil(events * 1.1 / DELIVERIES_PER_VIEWER_DAY))
    while True:
        if viewers * DAY_MINUTES > MAX_VIEWER_MINUTES:
            raise RuntimeError(f"chunk of {events:,} deliveries needs more than one simulate() allows")
        sim = simulate(SimConfig(viewers=viewers, minutes=DAY_MINUTES, seed=chunk_seed, start_ms=start_ms))
        if len(sim.deliveries) >= events:
            break
        viewers = math.ceil(viewers * 1.2 * events / max(1, len(sim.deliveries)))
    deliveries = sim.deliveries[:events]  # in sending order: the window cut at one instant
    del sim
    duplicates = sum(1 for d in deliveries if d.copy)
    kinds = Counter(d.kind for d in deliveries)
    tmp = final.with_name(f".tmp-{final.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    landed = land(deliveries, _NewKeysOnly(tmp), stream_name=f"ottlake-bench-{chunk_seed}", shards=SHARDS)
    first_ms, last_ms = deliveries[0].at_ms, deliveries[-1].at_ms
    del deliveries
    size = sum(p.stat().st_size for p in (tmp / RAW_SUBDIR).rglob("*") if p.is_file())
    (tmp / "manifest.json").write_text(json.dumps({
        "seed": seed, "index": index, "simulate_seed": chunk_seed, "viewers": viewers, "start_ms": start_ms,
        "first_send_ms": first_ms, "last_send_ms": last_ms, "events": landed.records, "objects": landed.objects,
        "bytes": size, "duplicates": duplicates, "kinds": dict(kinds),
    }, indent=1))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    log(f"chunk {final.name}: {landed.records:,} events, {viewers} viewers, {landed.objects:,} objects, "
        f"{size / 2**20:,.0f} MiB in {time.perf_counter() - began:.0f} s")
    return final


class _NewKeysOnly:
    """LocalRawZone that refuses to replace an object: two chunks must never share a key."""

    def __init__(self, root: Path) -> None:
        from consumers.raw_zone import LocalRawZone

        self.root = root
        self._store = LocalRawZone(root)

    def put(self, key: str, body: bytes) -> None:
        if (self.root / key).exists():
            raise RuntimeError(f"raw object {key} written twice")
        self._store.put(key, body)


def _link_tree(source: Path, target: Path) -> None:
    """Hard links (copies across file systems) of every object of `source` under `target`."""
    for path in sorted(source.rglob("*")):
        if not path.is_file():
            continue
        dest = target / path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            raise RuntimeError(f"raw object {dest.relative_to(target)} in two chunks")
        try:
            os.link(path, dest)
        except OSError:
            shutil.copy2(path, dest)


def _warm(zone: RawZone) -> None:
    """Read every object once, so each reader below finds them in the page cache."""
    for path in zone.objects_root.rglob("*"):
        if path.is_file():
            with path.open("rb") as src:
                while src.read(1 << 20):
                    pass


# --- running and sampling a subprocess ---------------------------------------------------


@dataclass
class Run:
    wall: float
    stdout: str
    stderr: str
    returncode: int
    peak_rss: dict[str, int] = field(default_factory=dict)  # "java" / "python" / "other" -> bytes


def _status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def _sample(root: int, peaks: dict[str, int]) -> None:
    tree = _children()
    todo = [root]
    while todo:
        pid = todo.pop()
        todo.extend(tree.get(pid, []))
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if pid == root:
            kind = "python"
        else:
            try:
                exe = Path(os.readlink(f"/proc/{pid}/exe")).name
            except OSError:
                exe = comm
            kind = "java" if "java" in (comm, exe) else "other"
        peaks[kind] = max(peaks.get(kind, 0), _status_kb(pid, "VmHWM") * 1024)


def run_sampled(command: Sequence[str], *, env: dict[str, str] | None = None, interval: float = 0.2,
                log: str | None = None) -> Run:
    """Run `command`, sampling the peak RSS of its process tree until it ends; `log`
    names the files (logs/<log>.out, .err) its whole output is kept in."""
    peaks: dict[str, int] = {}
    began = time.perf_counter()
    child = subprocess.Popen(list(command), cwd=REPO, env={**os.environ, **(env or {})},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = threading.Event()

    def sampler() -> None:
        while not done.is_set():
            _sample(child.pid, peaks)
            done.wait(interval)

    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    try:
        stdout, stderr = child.communicate()
    finally:
        done.set()
        thread.join()
    run = Run(time.perf_counter() - began, stdout, stderr, child.returncode, peaks)
    if log:
        logs = OUT / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        (logs / f"{log}.out").write_text(stdout)
        (logs / f"{log}.err").write_text(f"$ {' '.join(command)}\n# exit {child.returncode} after {run.wall:.1f} s\n"
                                         + stderr)
    return run


class BatchFailed(RuntimeError):
    """A subprocess failed; `run` has its wall time and peak memory up to the failure."""

    def __init__(self, message: str, run: Run) -> None:
        super().__init__(message)
        self.run = run


def _failed(what: str, run: Run, log: str) -> BatchFailed:
    lines = (run.stderr or run.stdout).strip().splitlines()
    causes = [line.strip() for line in lines if "Error" in line or "Exception" in line][:5]
    return BatchFailed(f"{what} exited {run.returncode} after {run.wall:.0f} s (output: {OUT / 'logs' / log}.err); "
                       f"first errors: {' | '.join(causes) or lines[-1:]}", run)


# --- the floors ----------------------------------------------------------------------------


def spark_floor(raw_root: str) -> dict[str, Any]:
    """In this process: Spark parses every field of every line into the noop sink."""
    from pyspark.sql import functions as F

    from schemas.tables import spark_event_schema
    from spark_jobs.spark import build_session

    began = time.perf_counter()
    spark = build_session("local", app_name="ottlake-bench-parse-floor")
    started = time.perf_counter()
    lines = spark.read.option("recursiveFileLookup", "true").text(raw_root)
    # The whole struct is the output: every field is parsed and materialised, none pruned.
    parsed = lines.select(F.from_json(F.col("value"), spark_event_schema()).alias("event"))
    parsed.write.format("noop").mode("overwrite").save()
    seconds = time.perf_counter() - started
    spark.stop()
    return {"seconds": seconds, "session_seconds": started - began}


def duckdb_floor(raw_root: str) -> dict[str, Any]:
    """In this process: DuckDB reads every field of every line, typed, into count()s."""
    import duckdb

    from schemas.contract import EVENT_FIELDS, field_kind

    types = {"integer": "BIGINT", "string": "VARCHAR", "boolean": "BOOLEAN", "object": "MAP(VARCHAR, VARCHAR)"}
    columns = "{" + ", ".join(f"'{name}': '{types[field_kind(name)]}'" for name in EVENT_FIELDS) + "}"
    counts = ", ".join(f'count("{name}")' for name in EVENT_FIELDS)
    began = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET threads = 2")
    started = time.perf_counter()
    row = con.execute(
        f"SELECT count(*), {counts} FROM read_ndjson(?, columns = {columns}, compression = 'gzip')",
        [f"{raw_root}/**/*.gz"],
    ).fetchone()
    seconds = time.perf_counter() - started
    assert row is not None
    return {"seconds": seconds, "session_seconds": started - began, "rows": row[0],
            "values": sum(row[1:])}


def _floor(kind: str, zone: RawZone) -> tuple[dict[str, Any], Run]:
    log = f"{kind}-floor-{zone.root.name}"
    run = run_sampled([sys.executable, "-m", "benchmarks.batch_bench", f"{kind}-floor", str(zone.objects_root)],
                      log=log)
    if run.returncode != 0:
        raise _failed(f"the {kind} floor", run, log)
    return json.loads(run.stdout.strip().splitlines()[-1]), run


# --- the batch -----------------------------------------------------------------------------


_ROW = re.compile(r"^\W*(bronze|sessions|viewer_sessions|aggregates|quality record)\s*│\s*([\d.]+)\s*│\s*([\d.]+)\s*│(.*)$")
_COUNT = re.compile(r"([a-z_]+) ([\d,]+)")


@dataclass(frozen=True)
class StageRow:
    seconds: float
    gate_seconds: float  # of `seconds`, the stage's quality gates
    counts: dict[str, int]


def parse_stage_table(text: str) -> dict[str, StageRow]:
    """{stage: its row} from the table `ottlake batch` prints (stage, seconds, gate s, result)."""
    out: dict[str, StageRow] = {}
    for line in text.splitlines():
        match = _ROW.match(line.strip())
        if match:
            counts = {key: int(value.replace(",", "")) for key, value in _COUNT.findall(match.group(4))}
            out[match.group(1)] = StageRow(float(match.group(2)), float(match.group(3)), counts)
    return out


def _ottlake() -> list[str]:
    script = Path(sys.executable).with_name("ottlake")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ottlake.cli.main"]


def run_batch(zone: RawZone) -> tuple[dict[str, StageRow], Run, Path]:
    lake = OUT / "lakes" / zone.root.name
    shutil.rmtree(lake, ignore_errors=True)
    _link_tree(zone.objects_root, lake / RAW_SUBDIR)
    # A wide console: the CLI's table must not wrap when it is piped.
    log = f"batch-{zone.root.name}"
    run = run_sampled([*_ottlake(), "batch", "--lake", str(lake)], env={"COLUMNS": "250"}, log=log)
    if run.returncode != 0:
        raise _failed("ottlake batch", run, log)
    stages = parse_stage_table(run.stdout)
    missing = [name for name in STAGES if name not in stages]
    if missing:
        raise RuntimeError(f"no seconds for stage(s) {', '.join(missing)} in the batch's output:\n{run.stdout}")
    return stages, run, lake


# --- the benchmark -------------------------------------------------------------------------


def _gib(value: int) -> str:
    return f"{value / 2**30:.2f} GiB"


def _memory(run: Run) -> str:
    parts = []
    if "java" in run.peak_rss:
        parts.append(f"JVM {_gib(run.peak_rss['java'])}")
    parts.append(f"Python {_gib(run.peak_rss.get('python', 0))}")
    return "peak RSS " + ", ".join(parts)


def _load() -> str:
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def batch(options: BenchOptions) -> list[Measurement]:
    """One size: the two floors, then `ottlake batch`, on the same prepared raw zone."""
    events = options.events or DEFAULT_EVENTS
    repeats = options.repeats or 1
    zone = prepare(events, DEFAULT_SEED, log=lambda text: print(text, file=sys.stderr))
    _warm(zone)
    label = f"{events / 1e6:g}M"
    samples: dict[str, list[float]] = {}
    notes: dict[str, str] = {}
    walls: list[float] = []
    record: dict[str, Any] = {"events": events, "seed": zone.seed, "objects": zone.objects, "bytes": zone.bytes,
                              "duplicates_landed": zone.duplicates, "runs": []}
    results = OUT / f"results-{events}-seed{zone.seed}.json"
    for _ in range(repeats):
        load_before = _load()
        spark, spark_run = _floor("spark", zone)
        duck, duck_run = _floor("duckdb", zone)
        if duck["rows"] != events:
            raise RuntimeError(f"DuckDB read {duck['rows']:,} lines, the raw zone has {events:,}")
        floors = {
            "load_before": load_before,
            "spark_floor": {**spark, "wall": spark_run.wall, "peak_rss": spark_run.peak_rss},
            "duckdb_floor": {**duck, "wall": duck_run.wall, "peak_rss": duck_run.peak_rss},
        }
        try:
            stages, batch_run, lake = run_batch(zone)
        except BatchFailed as failure:
            # Keep what ran: the floors, and how far the batch got before it failed.
            record["runs"].append({**floors, "load_after": _load(), "batch": {
                "failed": str(failure), "wall": failure.run.wall, "peak_rss": failure.run.peak_rss}})
            results.write_text(json.dumps(record, indent=1))
            print(f"batch {label}: Spark floor {spark['seconds']:.1f} s, DuckDB floor {duck['seconds']:.1f} s; "
                  f"{failure}", file=sys.stderr)
            raise
        total = sum(row.seconds for row in stages.values())
        bronze_counts = stages["bronze"].counts
        if bronze_counts.get("rows_in") != events:
            raise RuntimeError(f"bronze read {bronze_counts.get('rows_in')} lines, the raw zone has {events:,}")
        samples.setdefault("spark", []).append(spark["seconds"])
        samples.setdefault("duckdb", []).append(duck["seconds"])
        for name in STAGES:
            samples.setdefault(name, []).append(stages[name].seconds)
            samples.setdefault(f"{name} gates", []).append(stages[name].gate_seconds)
        samples.setdefault(RECORD, []).append(stages[RECORD].seconds if RECORD in stages else 0.0)
        samples.setdefault("batch", []).append(total)
        walls.append(batch_run.wall)
        notes["spark"] = f"from_json(contract schema) -> noop; run {spark_run.wall:.1f} s; {_memory(spark_run)}"
        notes["duckdb"] = (f"read_ndjson typed, 2 threads, count() of all 41 columns; run {duck_run.wall:.1f} s; "
                           f"{_memory(duck_run)}")
        for name in STAGES:
            row = stages[name]
            share = row.gate_seconds / row.seconds if row.seconds else 0.0
            notes[name] = (f"gates {row.gate_seconds:.1f} s = {share:.0%} of the stage (target <= 25%); "
                           + ", ".join(f"{key} {value:,}" for key, value in row.counts.items()))
        notes[RECORD] = ("the gates' results of every stage appended in one commit, Data Docs rendered: "
                         "once per batch, after the last stage")
        dup_check = "" if bronze_counts.get("duplicates") == zone.duplicates else (
            f"; MISMATCH: {zone.duplicates:,} duplicates landed")
        notes["bronze"] += dup_check
        record["runs"].append({
            **floors, "load_after": _load(),
            "batch": {"stages": {k: {"seconds": r.seconds, "gate_seconds": r.gate_seconds, "counts": r.counts}
                                 for k, r in stages.items()},
                      "stage_sum": total, "wall": batch_run.wall, "peak_rss": batch_run.peak_rss, "lake": str(lake)},
        })
    median = {key: statistics.median(values) for key, values in samples.items()}
    wall = statistics.median(walls)
    ratio = median["batch"] / median["spark"]
    last = record["runs"][-1]
    notes["batch"] = (
        f"sum of stages; {ratio:.1f}x the Spark floor (target <= {TARGET_FLOOR_RATIO:g}x); "
        f"run {wall:.1f} s = {events / wall:,.0f}/s with Python+JVM start; "
        f"{_memory(Run(0, '', '', 0, last['batch']['peak_rss']))}; {last['load_before']}"
    )
    record["median"] = {**median, "batch_wall": wall, "ratio_batch_to_spark_floor": ratio}
    OUT.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(record, indent=1))
    print(f"batch {label}: " + ", ".join(f"{key} {median[key]:.1f} s ({events / median[key]:,.0f}/s)"
                                        for key in ("spark", "duckdb", *STAGES, "batch")), file=sys.stderr)
    suffix = f" (median of {repeats})" if repeats > 1 else ""
    rows = [
        ("spark", "floor: Spark parse"),
        ("duckdb", "floor: DuckDB read"),
        *((name, f"stage {name}") for name in STAGES),
        (RECORD, "quality record"),
        ("batch", "whole batch"),
    ]
    return [
        Measurement(benchmark=f"batch {label}", case=case, count=events, seconds=median[key],
                    note=notes[key] + suffix)
        for key, case in rows
    ]


# --- incremental: new events into an old lake against the same events into an empty one ---

INCREMENTAL_DAYS = 30
INCREMENTAL_NEW = 100_000
TARGET_INCREMENTAL_RATIO = 1.5


def prepare_spread(events: int, days: int, seed: int = DEFAULT_SEED, *, log: Any = print) -> RawZone:
    """`events` deliveries spread evenly over `days` simulated days (chunk k = day k)."""
    root = OUT / "raw" / f"{events}-over{days}d-seed{seed}"
    if not (root / "manifest.json").exists():
        per_day = events // days
        chunks = [_chunk(seed, index, per_day + (events - per_day * days if index == days - 1 else 0), log=log)
                  for index in range(days)]
        _merge_chunks(root, chunks, seed)
    info = json.loads((root / "manifest.json").read_text())
    return RawZone(root, info["events"], info["objects"], info["bytes"], info["duplicates"], seed)


def _merge_chunks(root: Path, chunks: list[Path], seed: int) -> None:
    tmp = root.with_name(f".tmp-{root.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    totals: Counter[str] = Counter()
    for chunk in chunks:
        _link_tree(chunk / RAW_SUBDIR, tmp / RAW_SUBDIR)
        info = json.loads((chunk / "manifest.json").read_text())
        totals.update({k: info[k] for k in ("events", "objects", "bytes", "duplicates")})
    (tmp / "manifest.json").write_text(json.dumps(
        {**totals, "seed": seed, "chunks": [c.name for c in chunks]}, indent=1))
    shutil.rmtree(root, ignore_errors=True)
    tmp.rename(root)


def _batch_seconds(lake: Path, log: str) -> tuple[float, dict[str, StageRow]]:
    run = run_sampled([*_ottlake(), "batch", "--lake", str(lake)], env={"COLUMNS": "250"}, log=log)
    if run.returncode != 0:
        raise _failed("ottlake batch", run, log)
    stages = parse_stage_table(run.stdout)
    return sum(row.seconds for row in stages.values()), stages


def incremental(options: BenchOptions) -> list[Measurement]:
    """INCREMENTAL_NEW new events (a day after the lake's last) appended to a lake that
    holds `--events` (default 10M) spread over 30 days, beside the same new events into
    an empty lake, in one run: the ratio of the two batches' seconds (target <= 1.5)."""
    events = options.events or 10_000_000
    say = lambda text: print(text, file=sys.stderr)  # noqa: E731
    base_zone = prepare_spread(events, INCREMENTAL_DAYS, log=say)
    new_chunk = _chunk(DEFAULT_SEED + 1, INCREMENTAL_DAYS, INCREMENTAL_NEW, log=say)
    # The old lake is built once at the path it is measured at (its state records the
    # raw objects' paths: under another root every object would look new) and kept as
    # a copy (file times kept), which each run puts back first.
    old = OUT / "lakes" / "incremental-old"
    kept = OUT / "lakes" / f"kept-{base_zone.root.name}"
    if not (kept / "_built").exists():
        shutil.rmtree(old, ignore_errors=True)
        _link_tree(base_zone.objects_root, old / RAW_SUBDIR)
        _batch_seconds(old, f"incremental-base-{events}")
        shutil.rmtree(kept, ignore_errors=True)
        shutil.copytree(old, kept)
        (kept / "_built").write_text("ok")
    shutil.rmtree(old, ignore_errors=True)
    shutil.copytree(kept, old, ignore=shutil.ignore_patterns("_built"))
    _link_tree(new_chunk / RAW_SUBDIR, old / RAW_SUBDIR)
    empty = OUT / "lakes" / "incremental-empty"
    shutil.rmtree(empty, ignore_errors=True)
    _link_tree(new_chunk / RAW_SUBDIR, empty / RAW_SUBDIR)
    into_empty, _ = _batch_seconds(empty, "incremental-empty")
    into_old, stages = _batch_seconds(old, "incremental-old")
    ratio = into_old / into_empty
    new = json.loads((new_chunk / "manifest.json").read_text())["events"]
    note = f"{ratio:.2f}x the same events into an empty lake (target <= {TARGET_INCREMENTAL_RATIO:g}x)"
    return [
        Measurement(benchmark="incremental", case="new events into an empty lake", count=new, seconds=into_empty,
                    note="sum of the batch's stages"),
        Measurement(benchmark="incremental", case=f"new events into a lake of {events:,} over {INCREMENTAL_DAYS} days",
                    count=new, seconds=into_old, note=note + "; " + ", ".join(
                        f"{name} {row.seconds:.1f} s" for name, row in stages.items())),
    ]


def runner(options: BenchOptions) -> list[Measurement]:
    """`ottlake batch` in one SparkSession beside `--runner spark-submit` (a JVM a step,
    as on EMR) on the same raw zone (default 200,000 events), each from a fresh lake,
    in one run: the whole command's wall time, JVM start included."""
    events = options.events or RUNNER_EVENTS
    zone = prepare(events, log=lambda text: print(text, file=sys.stderr))
    results = {}
    for runner_name in ("session", "spark-submit"):
        lake = OUT / "lakes" / f"runner-{runner_name}"
        shutil.rmtree(lake, ignore_errors=True)
        _link_tree(zone.objects_root, lake / RAW_SUBDIR)
        run = run_sampled([*_ottlake(), "batch", "--lake", str(lake), "--runner", runner_name],
                          env={"COLUMNS": "250"}, log=f"runner-{runner_name}")
        if run.returncode != 0:
            raise _failed(f"ottlake batch --runner {runner_name}", run, f"runner-{runner_name}")
        results[runner_name] = run
    ratio = results["spark-submit"].wall / results["session"].wall
    return [
        Measurement(benchmark="local runner", case="one SparkSession (ottlake batch)", count=zone.events,
                    seconds=results["session"].wall, note=f"whole command; {_memory(results['session'])}"),
        Measurement(benchmark="local runner", case="spark-submit a step (--runner spark-submit)", count=zone.events,
                    seconds=results["spark-submit"].wall, note=f"{ratio:.2f}x the one session"),
    ]


# --- command line: preparing ahead, and the floors' subprocesses --------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.batch_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="build (or find) the cached raw zone of each size")
    prep.add_argument("--events", default=str(DEFAULT_EVENTS), help="sizes, comma-separated")
    prep.add_argument("--seed", type=int, default=DEFAULT_SEED)
    for kind in ("spark", "duckdb"):
        floor = sub.add_parser(f"{kind}-floor", help=f"(internal) the {kind} floor over a raw zone, as JSON")
        floor.add_argument("raw_root")
    args = parser.parse_args(argv)
    if args.command == "prepare":
        for text in args.events.split(","):
            began = time.perf_counter()
            zone = prepare(int(text.replace("_", "")), args.seed)
            print(f"{zone.root}: {zone.events:,} events, {zone.objects:,} objects, {zone.bytes / 2**20:,.0f} MiB, "
                  f"{zone.duplicates:,} duplicates ({time.perf_counter() - began:.0f} s)", flush=True)
        return 0
    result = (spark_floor if args.command == "spark-floor" else duckdb_floor)(args.raw_root)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
