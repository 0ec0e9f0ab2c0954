"""The lake's `_state/`: consumed raw objects and each job's mark (spark_jobs.state)."""

from __future__ import annotations

import shutil
from datetime import datetime

from schemas.layout import Lake
from spark_jobs import delta_io, state
from spark_jobs.raw import RawObject

AT = datetime(2026, 11, 24, 12, 0)


def _obj(name: str, size: int = 10, modified_ms: int = 1) -> RawObject:
    return RawObject(f"file:/raw/{name}", size, modified_ms, f"file:///raw/{name}")


def test_a_mark_written_is_read_back_and_a_missing_one_is_the_start(spark, tmp_path) -> None:
    lake = Lake.at(tmp_path)
    assert state.read_mark(spark, lake, "sessions") == state.Mark(-1, None)
    state.write_mark(spark, lake, "sessions", state.Mark(3, 1_000), at=AT)
    state.write_mark(spark, lake, "bronze", state.Mark(-1, 2_000), at=AT)
    assert state.read_mark(spark, lake, "sessions") == state.Mark(3, 1_000)
    assert state.read_mark(spark, lake, "bronze") == state.Mark(-1, 2_000)
    rows = delta_io.read_table(spark, lake.state("marks")).collect()
    assert sorted((r.job, r.input_version, r.watermark_ms) for r in rows) == [
        ("bronze", -1, 2_000), ("sessions", 3, 1_000)]


def test_marks_another_writer_committed_are_read(spark, tmp_path) -> None:
    """The marks kept in the process are used only while the table is at their version."""
    lake = Lake.at(tmp_path)
    state.write_mark(spark, lake, "sessions", state.Mark(3, 1_000), at=AT)
    assert state.read_mark(spark, lake, "sessions") == state.Mark(3, 1_000)
    _append_marks(spark, lake, [("sessions", 7, 5_000, AT), ("aggregates", 2, None, AT)])
    assert state.read_mark(spark, lake, "sessions") == state.Mark(7, 5_000)
    assert state.read_mark(spark, lake, "aggregates") == state.Mark(2, None)
    # and a mark written after another writer's commit is still right
    _append_marks(spark, lake, [("sessions", 8, 5_000, AT)])
    state.write_mark(spark, lake, "aggregates", state.Mark(4, None), at=AT)
    assert state.read_mark(spark, lake, "sessions") == state.Mark(8, 5_000)
    assert state.read_mark(spark, lake, "aggregates") == state.Mark(4, None)


def _append_marks(spark, lake: Lake, rows: list[tuple]) -> None:
    """Another writer's marks (another process: not through this one's kept rows)."""
    spark.createDataFrame(rows, state.MARKS_SCHEMA).write.format("delta").mode("append").save(lake.state("marks"))


def test_a_jobs_mark_is_its_furthest_whatever_the_clocks_said(spark, tmp_path) -> None:
    """Marks are appended, one row a run; a job's mark is its greatest (input version,
    then watermark), the one written last, even when the writers' clocks disagree."""
    lake = Lake.at(tmp_path)
    state.write_mark(spark, lake, "bronze", state.Mark(-1, None), at=AT)
    state.write_mark(spark, lake, "bronze", state.Mark(-1, 2_000), at=AT.replace(hour=13))
    state.write_mark(spark, lake, "sessions", state.Mark(5, 2_000), at=AT.replace(hour=13))
    _append_marks(spark, lake, [("sessions", 6, 2_000, AT.replace(hour=11)),  # a slow clock, a later run
                                ("bronze", -1, 3_000, AT.replace(hour=9))])
    assert state.read_mark(spark, lake, "sessions") == state.Mark(6, 2_000)
    assert state.read_mark(spark, lake, "bronze") == state.Mark(-1, 3_000)
    state.write_mark(spark, lake, "sessions", state.Mark(7, 3_000), at=AT)
    assert state.read_mark(spark, lake, "sessions") == state.Mark(7, 3_000)
    state._MARKS.clear()  # a new process reads the same
    assert [state.read_mark(spark, lake, job) for job in ("bronze", "sessions")] == [
        state.Mark(-1, 3_000), state.Mark(7, 3_000)]
    assert delta_io.read_table(spark, lake.state("marks")).count() == 6  # the history stays


def test_the_marks_files_are_compacted_past_a_limit(spark, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(state, "COMPACT_FILES", 3)
    lake = Lake.at(tmp_path)
    path = lake.state("marks")
    for version in range(1, 4):
        state.write_mark(spark, lake, "sessions", state.Mark(version, 1_000), at=AT)
    assert delta_io.table_state(spark, path).files == 3
    state.write_mark(spark, lake, "viewers", state.Mark(9, None), at=AT)  # a fourth file: over the limit
    assert delta_io.table_state(spark, path).files == 1
    state._MARKS.clear()
    assert state.read_mark(spark, lake, "sessions") == state.Mark(3, 1_000)
    assert state.read_mark(spark, lake, "viewers") == state.Mark(9, None)
    assert delta_io.read_table(spark, lake.state("marks")).count() == 4


def test_marks_of_a_table_made_again_at_the_same_path_are_not_reused(spark, tmp_path) -> None:
    lake = Lake.at(tmp_path)
    state.write_mark(spark, lake, "sessions", state.Mark(3, 1_000), at=AT)
    assert state.read_mark(spark, lake, "sessions") == state.Mark(3, 1_000)
    shutil.rmtree(tmp_path / "_state")
    state.write_mark(spark, lake, "bronze", state.Mark(-1, 9), at=AT)  # the new table's version 1, as before
    assert delta_io.current_version(spark, lake.state("marks")) == 1
    assert state.read_mark(spark, lake, "sessions") == state.Mark(-1, None)
    assert state.read_mark(spark, lake, "bronze") == state.Mark(-1, 9)


def test_new_objects_are_the_ones_not_consumed_or_changed_since(spark, tmp_path) -> None:
    lake = Lake.at(tmp_path)
    listed = [_obj("a"), _obj("b")]
    assert state.new_objects(spark, lake, listed) == listed  # a first run: every object
    state.record_objects(spark, lake, listed, run_id="r1", at=AT)
    later = [_obj("a"), _obj("b", size=20), _obj("c")]  # b rewritten in place, c new
    assert state.new_objects(spark, lake, later) == [_obj("b", size=20), _obj("c")]


def test_objects_recorded_twice_are_still_consumed_once(spark, tmp_path) -> None:
    """Records are appended: two runs racing over one object record it twice, and
    the object is still a consumed one, once."""
    lake = Lake.at(tmp_path)
    listed = [_obj("a"), _obj("b")]
    state.new_objects(spark, lake, listed)
    state.record_objects(spark, lake, listed, run_id="r1", at=AT)
    state.record_objects(spark, lake, [_obj("a")], run_id="r2", at=AT)
    assert delta_io.read_table(spark, lake.state("raw_objects")).count() == 3
    assert state.new_objects(spark, lake, [*listed, _obj("c")]) == [_obj("c")]


def test_the_raw_objects_files_are_compacted_past_a_limit(spark, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(state, "COMPACT_FILES", 2)
    lake = Lake.at(tmp_path)
    path = lake.state("raw_objects")
    state.new_objects(spark, lake, [])
    for name in ("a", "b"):
        state.record_objects(spark, lake, [_obj(name)], run_id=name, at=AT)
    assert delta_io.table_state(spark, path).files == 2
    state.record_objects(spark, lake, [_obj("c")], run_id="c", at=AT)  # a third file: over the limit
    assert delta_io.table_state(spark, path).files == 1
    assert state.new_objects(spark, lake, [_obj("a"), _obj("c"), _obj("d")]) == [_obj("d")]
    assert sorted(row.run_id for row in delta_io.read_table(spark, path).collect()) == ["a", "b", "c"]


def test_a_tables_state_through_deltas_public_api(spark, tmp_path) -> None:
    """delta_io.table_state, current_version, is_empty, is_missing: DESCRIBE DETAIL and
    HISTORY, with the same answers with or without the log's checksum files."""
    path = tmp_path / "t"
    assert delta_io.is_missing(spark, str(path))
    delta_io.ensure_table(spark, str(path), state.MARKS_SCHEMA)
    assert not delta_io.is_missing(spark, str(path))
    assert (delta_io.current_version(spark, str(path)), delta_io.is_empty(spark, str(path))) == (0, True)
    for job in ("x", "y"):  # two appends: two files
        spark.createDataFrame([(job, 1, None, AT)], state.MARKS_SCHEMA).write.format("delta").mode("append").save(
            str(path))
    first = delta_io.table_state(spark, str(path))
    assert (first.version, first.files, len(first.id)) == (2, 2, 36)
    assert (delta_io.current_version(spark, str(path)), delta_io.is_empty(spark, str(path))) == (2, False)
    for checksum in (path / "_delta_log").glob("*.crc"):
        checksum.unlink()
    assert delta_io.table_state(spark, str(path)) == first
