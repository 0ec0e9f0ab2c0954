"""`ottlake sql` on a lake built by the batch: DuckDB (through delta-rs) and Spark SQL
give the same answers; the formats; one clear line for every mistake."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from analytics.sql import LakeQuery, tables_named
from ottlake.cli.main import main
from schemas.layout import Lake
from schemas.tables import LAKE_TABLES, PLAY_SESSIONS
from tests.fixtures_analytics import ANALYST_DATE

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Filters on partitions, joins of sessions with aggregates, window functions: each
# written once, in SQL that both engines read the same way.
QUERIES = {
    "partition filter, events": f"""
        SELECT event_type, count(*) AS events, count(DISTINCT play_session_id) AS sessions
        FROM player_events WHERE event_date = DATE '{ANALYST_DATE}'
        GROUP BY event_type ORDER BY event_type""",
    "partition filter, sessions": f"""
        SELECT cdn, device_type, count(*) AS sessions, sum(watch_time_ms) AS watch_ms,
               avg(startup_time_ms) AS mean_startup_ms
        FROM play_sessions WHERE session_date = DATE '{ANALYST_DATE}' AND start_outcome = 'started'
        GROUP BY cdn, device_type ORDER BY cdn, device_type""",
    "sessions joined with hourly aggregates": """
        WITH hourly AS (
            SELECT hour, cdn, sum(sessions) AS sessions, sum(rebuffer_time_ms) AS rebuffer_ms
            FROM qoe_hourly GROUP BY hour, cdn)
        SELECT h.hour, h.cdn, h.sessions, count(p.play_session_id) AS counted,
               h.rebuffer_ms, sum(p.rebuffer_time_ms) AS summed
        FROM hourly AS h
        JOIN play_sessions AS p ON date_trunc('hour', p.start_time) = h.hour AND p.cdn = h.cdn
        GROUP BY h.hour, h.cdn, h.sessions, h.rebuffer_ms ORDER BY h.hour, h.cdn""",
    "viewer sessions joined with their play sessions": """
        SELECT v.viewer_session_id, v.play_sessions, count(*) AS joined, v.watch_time_ms,
               sum(p.watch_time_ms) AS summed
        FROM viewer_sessions AS v
        JOIN play_sessions AS p
          ON p.viewer_id = v.viewer_id AND p.start_time BETWEEN v.start_time AND v.end_time
        GROUP BY v.viewer_session_id, v.play_sessions, v.watch_time_ms
        ORDER BY v.viewer_session_id""",
    "window functions": """
        SELECT content_id, watch_ms,
               rank() OVER (ORDER BY watch_ms DESC, content_id) AS place,
               sum(watch_ms) OVER (ORDER BY watch_ms DESC, content_id
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running_ms
        FROM (SELECT content_id, sum(watch_time_ms) AS watch_ms FROM play_sessions GROUP BY content_id) AS titles
        ORDER BY place""",
    "window over partitions": """
        SELECT play_session_id, cdn, start_time,
               row_number() OVER (PARTITION BY cdn ORDER BY start_time, play_session_id) AS nth,
               lag(play_session_id) OVER (PARTITION BY cdn ORDER BY start_time, play_session_id) AS previous
        FROM play_sessions WHERE session_date = DATE '2026-03-01'
        ORDER BY cdn, nth""",
    "quality results": """
        SELECT stage, count(*) AS expectations, sum(CASE WHEN success THEN 1 ELSE 0 END) AS passed
        FROM quality_results GROUP BY stage ORDER BY stage""",
}


def plain(value):
    """One engine's value as the other's: int128 sums, UTC instants, rounded floats."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 6)
    return value


def rows(answer) -> list[tuple]:
    return [tuple(plain(value) for value in row.values()) for row in answer.to_pylist()]


@pytest.mark.parametrize("name", list(QUERIES))
def test_duckdb_and_spark_give_the_same_answer(analyst_lake, spark, name) -> None:
    lake = Lake.at(analyst_lake[0])
    duck = LakeQuery(lake, engine="duckdb").run(QUERIES[name])
    sparks = LakeQuery(lake, engine="spark", spark=spark).run(QUERIES[name])
    assert duck.column_names == sparks.column_names
    assert duck.num_rows > 0
    assert rows(duck) == rows(sparks)


def test_the_answers_agree_with_the_lake(analyst_lake) -> None:
    # The joins count what the aggregates say they hold (not only the two engines agreeing).
    lake = Lake.at(analyst_lake[0])
    joined = rows(LakeQuery(lake).run(QUERIES["sessions joined with hourly aggregates"]))
    assert all(sessions == counted and rebuffer == summed for _, _, sessions, counted, rebuffer, summed in joined)
    viewers = rows(LakeQuery(lake).run(QUERIES["viewer sessions joined with their play sessions"]))
    assert all(plays == joined and watch == summed for _, plays, joined, watch, summed in viewers)
    _, simulation = analyst_lake
    total = rows(LakeQuery(lake).run("SELECT count(*) FROM play_sessions"))[0][0]
    assert total == len(simulation.sessions)


def test_duckdb_pushes_partition_filters_and_projections_into_the_scan(analyst_lake) -> None:
    query = LakeQuery(Lake.at(analyst_lake[0]))
    plan = "\n".join(str(row) for row in query.run(
        f"EXPLAIN SELECT count(*) FROM play_sessions WHERE session_date = DATE '{ANALYST_DATE}'").to_pylist())
    assert "ARROW_SCAN" in plan
    assert "session_date" in plan.split("Filters:")[1]


def test_only_the_tables_a_query_names_are_opened(tmp_path) -> None:
    assert tables_named("SELECT * FROM play_sessions p JOIN QOE_DAILY d USING (cdn)") == ["play_sessions", "qoe_daily"]
    assert tables_named("SELECT play_sessions_x FROM t.play_sessions") == []
    # A lake with no tables yet: a query naming none of them still runs.
    (tmp_path / "raw" / "player_events").mkdir(parents=True)
    assert LakeQuery(Lake.at(tmp_path)).run("SELECT 42 AS answer").to_pylist() == [{"answer": 42}]


def sql(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["sql", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_cli_prints_an_aligned_table_csv_and_json(analyst_lake, capsys) -> None:
    lake = str(analyst_lake[0])
    query = "SELECT cdn, count(*) AS sessions FROM play_sessions GROUP BY cdn ORDER BY cdn"
    expected = [(row["cdn"], row["sessions"]) for row in LakeQuery(Lake.at(lake)).run(query).to_pylist()]

    code, out, _ = sql(capsys, "--lake", lake, query)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[0] == "cdn" and "sessions" in lines[0]
    for cdn, sessions in expected:
        assert any(line.split()[0] == cdn and line.split()[-1] == str(sessions) for line in lines)
    assert f"({len(expected)} rows)" in out

    code, out, _ = sql(capsys, "--lake", lake, "--format", "csv", query)
    assert code == 0
    assert out.splitlines() == ['"cdn","sessions"', *(f'"{cdn}",{sessions}' for cdn, sessions in expected)]

    code, out, _ = sql(capsys, "--lake", lake, "--format", "json", query)
    assert code == 0
    assert json.loads(out) == [{"cdn": cdn, "sessions": sessions} for cdn, sessions in expected]


def test_the_cli_writes_parquet_and_files(analyst_lake, capsys, tmp_path) -> None:
    import pyarrow.parquet as pq

    lake = str(analyst_lake[0])
    query = f"SELECT * FROM play_sessions WHERE session_date = DATE '{ANALYST_DATE}' ORDER BY play_session_id"
    out_file = tmp_path / "sessions.parquet"
    code, out, _ = sql(capsys, "--lake", lake, "--format", "parquet", "--out", str(out_file), query)
    assert code == 0 and "rows written" in out
    written = pq.read_table(out_file)
    assert written.column_names == list(PLAY_SESSIONS.names)
    assert written.num_rows == len(analyst_lake[1].sessions)

    json_file = tmp_path / "hours.json"
    code, _, _ = sql(capsys, "--lake", lake, "--format", "json", "--out", str(json_file),
                     "SELECT DISTINCT hour FROM qoe_hourly ORDER BY hour")
    assert code == 0
    assert [row["hour"] for row in json.loads(json_file.read_text())] == [
        f"{ANALYST_DATE}T{hour:02d}:00:00+00:00" for hour in (9, 10, 11)]


def test_the_cli_runs_the_spark_engine(analyst_lake, spark, capsys) -> None:
    query = "SELECT start_outcome, count(*) AS n FROM play_sessions GROUP BY start_outcome ORDER BY start_outcome"
    code, out, _ = sql(capsys, "--lake", str(analyst_lake[0]), "--engine", "spark", "--format", "json", query)
    assert code == 0
    assert json.loads(out) == LakeQuery(Lake.at(analyst_lake[0])).run(query).to_pylist()


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
@pytest.mark.parametrize(("query", "message"), [
    ("SELECT * FROM no_such_table", "error: unknown table no_such_table (the lake's tables: "),
    ("SELEC 1 FROM play_sessions", "error: SQL error: "),
    ("SELECT no_such_column FROM play_sessions", "error: SQL error: "),
])
def test_mistakes_are_one_line_and_a_non_zero_exit(analyst_lake, spark, capsys, engine, query, message) -> None:
    code, out, err = sql(capsys, "--lake", str(analyst_lake[0]), "--engine", engine, query)
    assert code != 0
    assert err.startswith(message)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert out == ""


def test_a_lake_that_is_not_there_or_has_no_such_table_yet(tmp_path, capsys) -> None:
    code, _, err = sql(capsys, "--lake", str(tmp_path / "nowhere"), "SELECT 1")
    assert code == 2 and err.startswith("error: lake ") and "does not exist" in err
    (tmp_path / "raw" / "player_events").mkdir(parents=True)
    code, _, err = sql(capsys, "--lake", str(tmp_path), "SELECT count(*) FROM qoe_daily")
    assert code == 1
    assert err.strip() == (f"error: table qoe_daily is not in the lake yet (no Delta table at "
                           f"{Lake.at(tmp_path).qoe_daily}): run `ottlake batch` first")
    code, _, err = sql(capsys, "--lake", str(tmp_path), "--format", "parquet", "SELECT 1")
    assert code == 1 and "give --out FILE" in err


def test_every_lake_table_is_queryable_by_its_short_name(analyst_lake) -> None:
    query = LakeQuery(Lake.at(analyst_lake[0]))
    for name, table in LAKE_TABLES.items():
        answer = query.run(f"SELECT * FROM {name} LIMIT 1")
        assert answer.column_names == list(table.names), name


def test_no_query_without_a_terminal_says_so(analyst_lake, capsys, monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin", open("/dev/null"))  # noqa: SIM115 - closed by pytest's teardown
    code, _, err = sql(capsys, "--lake", str(analyst_lake[0]))
    assert code == 2 and "needs a terminal" in err


def test_output_path_in_a_missing_folder(analyst_lake, capsys, tmp_path) -> None:
    code, _, err = sql(capsys, "--lake", str(analyst_lake[0]), "--out", str(tmp_path / "no" / "x.csv"),
                       "--format", "csv", "SELECT 1")
    assert code == 1 and err.startswith("error: cannot write ") and Path(err.split()[3]).name == "x.csv:"
