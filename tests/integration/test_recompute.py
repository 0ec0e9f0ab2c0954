"""`ottlake batch --recompute FROM/TO`: after a change of definition, the derived
tables of those session dates are rebuilt from bronze, through the gates, and equal
what a build from scratch gives (issue 21, part 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumers.raw_zone import LocalRawZone
from ottlake.cli.main import main
from producers.simulator import FaultRates, SimConfig, simulate
from producers.simulator.landing import land
from schemas.layout import Lake

pytestmark = [pytest.mark.integration, pytest.mark.slow]

START_MS = 1_772_406_000_000  # 2026-03-01T23:00:00Z: two simulated hours make sessions of two dates
KEYS = {"play_sessions": ("play_session_id",), "viewer_sessions": ("viewer_session_id",),
        "qoe_hourly": ("hour",), "qoe_daily": ("session_date",)}


def run(*args: str, capsys) -> str:
    rc = main(["batch", *args])
    captured = capsys.readouterr()
    assert rc == 0, captured.err + captured.out
    return captured.out


def tables(spark, lake: Lake) -> dict[str, list[str]]:
    """Every derived table's rows, as sorted text (floats exactly as stored)."""
    paths = {"play_sessions": lake.play_sessions, "viewer_sessions": lake.viewer_sessions,
             "qoe_hourly": lake.qoe_hourly, "qoe_daily": lake.qoe_daily}
    return {name: sorted(map(str, spark.read.format("delta").load(path).collect())) for name, path in paths.items()}


def versions(spark, lake: Lake) -> dict[str, int]:
    from delta.tables import DeltaTable

    paths = (lake.bronze, lake.play_sessions, lake.viewer_sessions, lake.qoe_hourly, lake.qoe_daily)
    return {path: DeltaTable.forPath(spark, path).history(1).first()["version"] for path in paths}


@pytest.fixture(scope="module")
def built(tmp_path_factory, spark):
    """A lake built from scratch by one batch run, and its derived tables then."""
    lake_dir = tmp_path_factory.mktemp("lake")
    simulation = simulate(SimConfig(viewers=12, minutes=120, seed=5, start_ms=START_MS,
                                    faults=FaultRates(duplicate=0.02, out_of_order=0.05, late=0.0, skew=0.1)))
    land(simulation.deliveries, LocalRawZone(lake_dir), stream_name="ottlake-player-events")
    rc = main(["batch", "--lake", str(lake_dir)])
    assert rc == 0
    return lake_dir, tables(spark, Lake.at(lake_dir))


def _old_definition(spark, lake: Lake) -> None:
    """Rows as a lake built before 2026-12-07 holds them: watch time without the time
    in starting of sessions that never started (and the sums that follow), altered
    through Delta's SQL; and a viewer session that should not be there."""
    spark.sql(f"UPDATE delta.`{lake.play_sessions}` SET watch_time_ms = watch_time_ms - 1, rebuffer_ratio = NULL "
              "WHERE start_outcome <> 'started' AND watch_time_ms > 0")
    spark.sql(f"UPDATE delta.`{lake.qoe_hourly}` SET watch_time_ms = watch_time_ms - 1")
    spark.sql(f"UPDATE delta.`{lake.qoe_daily}` SET watch_time_ms = watch_time_ms - 1")
    spark.sql(f"INSERT INTO delta.`{lake.viewer_sessions}` SELECT viewer_id, viewer_session_id || '-old', "
              f"start_time, end_time, play_sessions, watch_time_ms, session_date FROM delta.`{lake.viewer_sessions}` "
              "LIMIT 1")


def test_a_recompute_makes_altered_tables_equal_a_build_from_scratch(built, spark, capsys) -> None:
    lake_dir, from_scratch = built
    lake = Lake.at(lake_dir)
    dates = sorted({row.session_date for row in spark.read.format("delta").load(lake.play_sessions).collect()})
    assert [str(d) for d in dates] == ["2026-03-01", "2026-03-02"]
    _old_definition(spark, lake)
    assert tables(spark, lake) != from_scratch
    bronze_before = versions(spark, lake)[lake.bronze]

    out = run("--lake", str(lake_dir), "--recompute", "2026-03-01/2026-03-02", capsys=capsys)

    assert "recomputed session dates 2026-03-01/2026-03-02" in out
    assert tables(spark, lake) == from_scratch
    assert versions(spark, lake)[lake.bronze] == bronze_before  # bronze takes no raw objects
    # through the same gates, recorded under the run
    from quality import results

    suites = {row["suite"] for row in results.latest(lake.quality_results)}
    assert suites == {"play_sessions", "viewer_sessions", "qoe_aggregates", "qoe_totals"}

    # a second recompute finds every row right and commits nothing
    before = versions(spark, lake)
    run("--lake", str(lake_dir), "--recompute", "2026-03-01/2026-03-02", capsys=capsys)
    assert versions(spark, lake) == before
    assert tables(spark, lake) == from_scratch


def test_a_recompute_replaces_exactly_its_dates(built, spark, capsys) -> None:
    lake_dir, from_scratch = built
    lake = Lake.at(lake_dir)
    _old_definition(spark, lake)
    altered = tables(spark, lake)

    run("--lake", str(lake_dir), "--recompute", "2026-03-02/2026-03-02", capsys=capsys)

    def of_day(rows: list[str], day: str) -> list[str]:
        return [row for row in rows if f"session_date=datetime.date({day})" in row]

    after = tables(spark, lake)
    for name in ("play_sessions", "qoe_daily"):
        assert of_day(after[name], "2026, 3, 2") == of_day(from_scratch[name], "2026, 3, 2"), name
        assert of_day(after[name], "2026, 3, 1") == of_day(altered[name], "2026, 3, 1"), name
    # the next full recompute leaves the lake as built (for the tests after this one)
    run("--lake", str(lake_dir), "--recompute", "2026-03-01/2026-03-02", capsys=capsys)
    assert tables(spark, lake) == from_scratch


def test_recompute_arguments_are_checked(built, tmp_path, capsys) -> None:
    lake_dir, _ = built
    for args, message in (
        (["--recompute", "2026-03-02/2026-03-01"], "TO is before FROM"),
        (["--recompute", "yesterday"], "recompute range 'yesterday'"),
        (["--recompute", "2026-03-01/2026-03-02", "--window", "2026-03-01T00/"], "give one of them"),
    ):
        assert main(["batch", "--lake", str(lake_dir), *args]) != 0
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    # a lake with a raw zone but no bronze yet has nothing to recompute from
    (tmp_path / "raw" / "player_events").mkdir(parents=True)
    assert main(["batch", "--lake", str(tmp_path), "--recompute", "2026-03-01/2026-03-01"]) != 0
    assert "no bronze table to recompute from" in capsys.readouterr().err
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == ["raw"]
