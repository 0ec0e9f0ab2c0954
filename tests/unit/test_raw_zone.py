"""The raw zone's key layout and objects, and the simulator's direct landing."""

from __future__ import annotations

import gzip
import re

import orjson

from consumers.raw_zone import LocalRawZone
from producers.simulator import FaultRates, SimConfig, simulate
from producers.simulator.landing import land, latency_ms
from schemas.layout import encode, object_key

START_MS = 1_772_366_400_000  # 2026-03-01T12:00:00Z
FIREHOSE_KEY = re.compile(
    r"^raw/player_events/(\d{4})/(\d{2})/(\d{2})/(\d{2})/ottlake-player-events-1-"
    r"(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-[0-9a-f-]{36}\.gz$"
)


def test_keys_follow_firehose_arrival_layout_and_are_deterministic() -> None:
    key = object_key(stream_name="ottlake-player-events", arrival_ms=START_MS + 83_000, name_seed="shard-1:42")
    match = FIREHOSE_KEY.match(key)
    assert match, key
    assert match.groups()[:4] == ("2026", "03", "01", "12")
    assert match.groups()[4:] == ("2026", "03", "01", "12", "01", "23")
    assert key == object_key(stream_name="ottlake-player-events", arrival_ms=START_MS + 83_000, name_seed="shard-1:42")
    assert key != object_key(stream_name="ottlake-player-events", arrival_ms=START_MS + 83_000, name_seed="shard-1:43")
    plain = object_key(stream_name="s", arrival_ms=START_MS, name_seed="x", gzip_compressed=False)
    assert not plain.endswith(".gz")


def test_encode_is_ndjson_and_reproducible() -> None:
    body = encode([b'{"a":1}', b'{"b":2}\n'])
    assert gzip.decompress(body) == b'{"a":1}\n{"b":2}\n'
    assert body == encode([b'{"a":1}', b'{"b":2}\n'])  # no timestamp in the gzip header
    assert encode([b"x"], gzip_compressed=False) == b"x\n"


def test_local_store_replaces_whole_objects_and_leaves_no_temporary_file(tmp_path) -> None:
    store = LocalRawZone(tmp_path)
    store.put("raw/player_events/2026/03/01/12/a.gz", b"one")
    store.put("raw/player_events/2026/03/01/12/a.gz", b"two")
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert [f.read_bytes() for f in files] == [b"two"]


def test_landing_stamps_like_the_sdk_and_the_lake_sink(tmp_path) -> None:
    simulation = simulate(SimConfig(viewers=20, minutes=5, seed=4, start_ms=START_MS,
                                    faults=FaultRates(duplicate=0.05, skew=0.5)))
    landed = land(simulation.deliveries, LocalRawZone(tmp_path), stream_name="ottlake-player-events", shards=2)
    lines = [
        orjson.loads(line)
        for path in sorted(tmp_path.rglob("*.gz"))
        for line in gzip.decompress(path.read_bytes()).splitlines()
    ]
    assert landed.records == len(lines) == len(simulation.deliveries)
    assert landed.objects == len(list(tmp_path.rglob("*.gz")))
    assert all(FIREHOSE_KEY.match(key) for key in landed.keys)
    by_id_copy = {(d.event["event_id"], d.copy): d for d in simulation.deliveries}
    copies: dict[str, int] = {}
    for event in lines:
        copy = copies.get(event["event_id"], 0)
        copies[event["event_id"]] = copy + 1
        delivery = by_id_copy[(event["event_id"], copy)]
        assert event["sent_ts"] == delivery.at_ms + delivery.clock_offset_ms
        assert event["received_ts"] == delivery.at_ms + latency_ms(event["event_id"], copy)
        # player-events.md, Time: the derived time undoes the device's skew.
        derived = event["received_ts"] - (event["sent_ts"] - event["event_ts"])
        true_ts = event["event_ts"] - delivery.clock_offset_ms
        assert 0 < derived - true_ts < 500


def test_read_lines_reads_exactly_the_objects_given_whatever_their_names(spark, tmp_path) -> None:
    """list_objects + read_lines: the objects chosen are read, every line once, the
    others not at all, whether gzip or plain, with spaces and `%` in their keys;
    files a writer is still writing (`_x`, `.x`) are not objects."""
    from spark_jobs import raw

    root = tmp_path / "raw" / "player_events"
    hour = root / "2026" / "03" / "01" / "12"
    hour.mkdir(parents=True)
    (hour / "a b%20c.gz").write_bytes(gzip.compress(b'{"n":1}\n{"n":2}\n'))
    (hour / "plain").write_bytes(b'{"n":3}\n')
    (hour / "consumed.gz").write_bytes(gzip.compress(b'{"n":4}\n'))
    (hour / "_writing").write_bytes(b'{"n":5}\n')
    (hour / ".tmp").write_bytes(b'{"n":6}\n')

    listed = raw.list_objects(spark, str(root))
    names = sorted(obj.path.rsplit("/", 1)[1] for obj in listed)
    assert names == ["a b%20c.gz", "consumed.gz", "plain"]
    chosen = [obj for obj in listed if not obj.path.endswith("consumed.gz")]
    rows = raw.read_lines(spark, str(root), chosen).collect()
    by_object = {obj.uri: obj for obj in chosen}
    assert sorted(orjson.loads(row.line)["n"] for row in rows) == [1, 2, 3]
    assert {row.source_object for row in rows} == set(by_object)
    for row in rows:
        assert row.object_ts_ms == by_object[row.source_object].modified_ms
