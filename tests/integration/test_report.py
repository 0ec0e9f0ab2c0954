"""`ottlake report`: the day's numbers from the lake, and the HTML page drawn by
Debian's headless Chromium with the network blocked (Playwright drives it; it
never downloads a browser of its own)."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime
from pathlib import Path

import pytest

from analytics.report_data import IncidentRule, load
from analytics.sql import LakeQuery
from ottlake.cli.main import main
from schemas.layout import Lake
from tests.fixtures_analytics import ANALYST_DATE, ANALYST_RULES

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"  # Debian's package (scripts/ensure-system.sh)
# As the machine's notes advise: no background connections, a fresh profile.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CHARTS = ["startup", "rebuffer", "failures-by-device", "failures-by-player", "titles", "quality"]


@pytest.fixture(scope="module")
def report_file(analyst_lake, tmp_path_factory):
    """The report of the analysts' lake, made by the CLI with the fixture's rules."""
    folder = tmp_path_factory.mktemp("report")
    rules = folder / "rules.toml"
    rules.write_text(ANALYST_RULES)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OTTLAKE_ALERT_RULES", str(rules))
        out = folder / f"qoe-report-{ANALYST_DATE}.html"
        assert main(["report", "--lake", str(analyst_lake[0]), "--date", ANALYST_DATE, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def day(analyst_lake):
    import tomllib

    rules = [IncidentRule(**rule) for rule in tomllib.loads(ANALYST_RULES)["rule"]]
    return load(LakeQuery(Lake.at(analyst_lake[0])), date.fromisoformat(ANALYST_DATE), rules)


def test_the_hourly_sums_are_the_aggregates(analyst_lake, day) -> None:
    hourly = LakeQuery(Lake.at(analyst_lake[0])).run("""
        SELECT hour, cdn, sum(rebuffer_time_ms) AS rebuffer_ms, sum(watch_time_ms) AS watch_ms
        FROM qoe_hourly GROUP BY hour, cdn""").to_pylist()
    expected = {(row["hour"].replace(tzinfo=None), row["cdn"]): (int(row["rebuffer_ms"]), int(row["watch_ms"]))
                for row in hourly}
    got = {(row["hour"], row["cdn"]): (row["rebuffer_time_ms"], row["watch_time_ms"]) for row in day.rebuffer}
    assert got == expected
    assert [row["hour"].hour for row in day.startup] == [9, 9, 10, 10, 11, 11]
    assert day.totals["sessions"] == len(analyst_lake[1].sessions)


def test_the_incident_is_the_scheduled_one(day) -> None:
    # Scheduled 10:10-10:50 UTC; the rule looks back 10 minutes, so it fires a few
    # minutes after the start and resolves some minutes after the end.
    assert len(day.incidents) == 1
    incident = day.incidents[0]
    assert (incident.rule, incident.series) == ("start-failure-rate", "all")
    assert datetime(2026, 3, 1, 10, 10) <= incident.start <= datetime(2026, 3, 1, 10, 25)
    assert datetime(2026, 3, 1, 10, 45) <= incident.end <= datetime(2026, 3, 1, 11, 5)
    assert incident.peak > 0.2


def test_the_gates_are_the_runs_that_built_the_day(analyst_lake, day) -> None:
    results = LakeQuery(Lake.at(analyst_lake[0])).run("SELECT DISTINCT run_id FROM quality_results").to_pylist()
    assert day.runs == [row["run_id"] for row in results]  # the lake was built by one run
    assert {row["stage"] for row in day.gates} == {"bronze", "sessions", "viewer_sessions", "aggregates"}
    assert day.titles == sorted(day.titles, key=lambda row: (-row["watch_hours"], row["content_id"]))


def test_the_page_holds_everything_it_needs(report_file) -> None:
    page = report_file.read_text()
    # No script, stylesheet or font from anywhere: vega's bundle is inside.
    assert "<script src" not in page and "<link" not in page
    assert "cdn.jsdelivr.net" not in page
    assert page.count('<figure data-chart="') == len(CHARTS)
    assert "vegaEmbed" in page


def test_chromium_draws_every_chart_offline(report_file, tmp_path_factory) -> None:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: run scripts/ensure-system.sh"
    requested: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context(offline=True, viewport={"width": 1100, "height": 900})
            # Anything but the file itself is refused (and recorded).
            context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                          else route.abort())
            page = context.new_page()
            page.on("request", lambda request: requested.append(request.url))
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(report_file.as_uri())
            page.wait_for_function(
                "document.querySelectorAll('figure[data-drawn=true], figure[data-error]').length"
                " == document.querySelectorAll('figure').length", timeout=60_000)
            drawn = {}
            for figure in page.query_selector_all("figure"):
                name = figure.get_attribute("data-chart")
                assert figure.get_attribute("data-error") is None, (name, figure.get_attribute("data-error"))
                svg = figure.query_selector("svg")
                assert svg is not None, name
                box = svg.bounding_box()
                assert box is not None and box["width"] > 100 and box["height"] > 100, name
                marks = figure.query_selector_all("svg g.mark-line path, svg g.mark-rect path, svg g.mark-symbol path")
                drawn[name] = (json.loads(figure.get_attribute("data-series")), svg.text_content(), len(marks))
            screenshot = tmp_path_factory.mktemp("screenshot") / "qoe-report.png"
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert sorted(drawn) == sorted(CHARTS)
    for name, (series, text, marks) in drawn.items():
        assert marks > 0, name
        for label in series:
            assert label in text, (name, label)
    assert drawn["startup"][0] == ["p50", "p95", "incident"]
    assert "fastly" in drawn["rebuffer"][0] and "incident" in drawn["rebuffer"][0]
    assert errors == []
    assert set(requested) == {report_file.as_uri()}
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    keep = Path(__file__).resolve().parents[2] / ".cache" / "qoe-report.png"
    if keep.parent.is_dir():  # for a person to look at after `make test` (never committed)
        shutil.copyfile(screenshot, keep)


def test_report_mistakes_are_one_line(analyst_lake, capsys, tmp_path) -> None:
    lake = str(analyst_lake[0])
    assert main(["report", "--lake", lake, "--date", "2026-02-30"]) == 2
    assert capsys.readouterr().err.strip() == "error: --date '2026-02-30': expected a date as YYYY-MM-DD"
    assert main(["report", "--lake", lake, "--date", "2026-03-02", "--out", str(tmp_path / "r.html")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no play sessions on 2026-03-02") and len(err.splitlines()) == 1
    assert not (tmp_path / "r.html").exists()
    assert main(["report", "--lake", str(tmp_path / "none"), "--date", ANALYST_DATE]) == 2
    assert "does not exist" in capsys.readouterr().err
