"""The day's QoE report: one self-contained HTML file of Vega-Lite charts (altair).

The page opens from a file with no server and no network: vega, vega-lite and
vega-embed are inlined from vl-convert's bundle (the Python package carries
them; nothing is fetched when the report is made or opened), the data sit in
each chart's spec, and the charts are drawn as SVG. Every chart is a
`<figure data-chart=NAME>`, and its series are named in `data-series`, so a
reader (or a test) can tell what each should show.
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from analytics.report_data import Incident, ReportData
from ottlake.errors import QueryError

_WIDTH = 720
_HOUR = timedelta(hours=1)
INCIDENT_COLOR = "#d62728"


def charts(data: ReportData) -> dict[str, tuple[str, Any]]:
    """{name: (title, altair chart)} in page order."""
    import altair as alt

    hours = sorted({row["hour"] for row in data.startup} | {row["hour"] for row in data.rebuffer})
    domain = [_iso(hours[0]), _iso(hours[-1] + _HOUR)] if hours else None
    x = alt.X("hour:T", title="hour (UTC)", scale=alt.Scale(domain=domain) if domain else alt.Undefined,
              axis=alt.Axis(format="%H:%M"))

    def over_hours(rows: list[dict[str, Any]], y: Any, color: str, title: str) -> Any:
        line = (alt.Chart(alt.Data(values=_records(rows)))
                .mark_line(point=True)
                .encode(x=x, y=y, color=alt.Color(f"{color}:N", title=color),
                        tooltip=[alt.Tooltip("hour:T", format="%H:%M"), f"{color}:N", y.shorthand]))
        return _with_incidents(line, data.incidents, domain).properties(width=_WIDTH, height=260, title=title)

    startup = over_hours(data.startup, alt.Y("ms:Q", title="startup time (ms)"), "statistic",
                         "Startup time p50 and p95, by the hour the sessions started")
    rebuffer = over_hours(data.rebuffer, alt.Y("rebuffer_ratio:Q", title="rebuffer ratio", axis=alt.Axis(format="%")),
                          "cdn", "Rebuffer ratio by CDN (rebuffer time / watch time)")

    def outcomes(rows: list[dict[str, Any]], by: str, title: str) -> Any:
        return (alt.Chart(alt.Data(values=_records(rows)))
                .mark_bar()
                .encode(y=alt.Y(f"{by}:N", title=by.replace("_", " "), sort="ascending"),
                        x=alt.X("sessions:Q", title="sessions", stack="zero"),
                        color=alt.Color("outcome:N", title="outcome",
                                        scale=alt.Scale(domain=["start failures", "exits before start"],
                                                        range=["#d62728", "#ff7f0e"])),
                        tooltip=[f"{by}:N", "outcome:N", "sessions:Q"])
                .properties(width=_WIDTH - 160, title=title))

    titles = (alt.Chart(alt.Data(values=_records(data.titles)))
              .mark_bar()
              .encode(y=alt.Y("content_id:N", title="title", sort="-x"),
                      x=alt.X("watch_hours:Q", title="watch time (hours)"),
                      color=alt.Color("series:N", title="series"),
                      tooltip=["content_id:N", alt.Tooltip("watch_hours:Q", format=".2f"), "sessions:Q"])
              .transform_calculate(series="'watch time'")
              .properties(width=_WIDTH - 160, title=f"Top {len(data.titles)} titles by watch time"))

    gates = _gate_counts(data.gates)
    quality = (alt.Chart(alt.Data(values=gates))
               .mark_bar()
               .encode(y=alt.Y("stage:N", title="stage", sort=None),
                       x=alt.X("expectations:Q", title="expectations", stack="zero"),
                       color=alt.Color("result:N", title="result",
                                       scale=alt.Scale(domain=["passed", "failed (critical)", "failed (warning)"],
                                                       range=["#2ca02c", "#d62728", "#ff7f0e"])),
                       tooltip=["stage:N", "result:N", "expectations:Q"])
               .properties(width=_WIDTH - 160,
                           title=f"Quality gates of the runs that built the day ({len(data.runs)} run(s))"))
    return {
        "startup": ("Startup time", startup),
        "rebuffer": ("Rebuffering by CDN", rebuffer),
        "failures-by-device": ("Start failures and exits before start by device type",
                               outcomes(data.outcomes_by_device, "device_type", "By device type")),
        "failures-by-player": ("Start failures and exits before start by player version",
                               outcomes(data.outcomes_by_player, "player", "By player and version")),
        "titles": ("Top titles", titles),
        "quality": ("Quality gates", quality),
    }


def series_names(data: ReportData) -> dict[str, list[str]]:
    """What each chart's legend names: the checks a reader can make."""
    incident = ["incident"] if data.incidents else []
    return {
        "startup": sorted({row["statistic"] for row in data.startup}) + incident,
        "rebuffer": sorted({row["cdn"] for row in data.rebuffer}) + incident,
        "failures-by-device": ["exits before start", "start failures"],
        "failures-by-player": ["exits before start", "start failures"],
        "titles": ["watch time"],
        "quality": sorted({row["result"] for row in _gate_counts(data.gates)}),
    }


def render(data: ReportData) -> str:
    """The whole page: one HTML string with everything inlined."""
    import vl_convert
    from altair.utils._importers import vl_version_for_vl_convert

    made = charts(data)
    named = series_names(data)
    figures = []
    embeds = []
    for name, (heading, chart) in made.items():
        figures.append(
            f'<section><h2>{html.escape(heading)}</h2>'
            f'<figure data-chart="{name}" data-series="{html.escape(json.dumps(named[name]))}">'
            f'<div class="chart" id="chart-{name}"></div></figure>{_notes(name, data)}</section>')
        spec = json.dumps(chart.to_dict(), default=str).replace("</", "<\\/")
        embeds.append(f"embedChart({json.dumps('#chart-' + name)}, {spec});")
    bundle = vl_convert.javascript_bundle(vl_version=vl_version_for_vl_convert()).replace("</script", "<\\/script")
    return _PAGE.format(
        title=html.escape(f"ottlake QoE report, {data.day.isoformat()}"),
        day=html.escape(data.day.isoformat()),
        lake=html.escape(data.lake_root),
        made=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        headline=_headline(data),
        incidents=_incident_list(data.incidents),
        sections="\n".join(figures),
        bundle=bundle,
        embeds="\n".join(embeds),
    )


def write(data: ReportData, out: Path) -> Path:
    if not out.parent.is_dir():
        raise QueryError(f"cannot write {out}: no such folder {out.parent}")
    try:
        out.write_text(render(data), encoding="utf-8")
    except OSError as exc:
        raise QueryError(f"cannot write {out}: {exc.strerror or exc}") from None
    return out


# --- parts -----------------------------------------------------------------------------


def _with_incidents(line: Any, found: list[Incident], domain: list[str] | None) -> Any:
    """The chart with each incident's period as a shaded band behind it."""
    import altair as alt

    if not found:
        return line
    bands = [{"start": _iso(incident.start), "end": _iso(incident.end), "series": "incident",
              "what": f"{incident.rule}: {incident.series}"} for incident in found]
    band = (alt.Chart(alt.Data(values=bands))
            .mark_rect(opacity=0.18)
            .encode(x=alt.X("start:T", scale=alt.Scale(domain=domain) if domain else alt.Undefined), x2="end:T",
                    color=alt.Color("series:N", title="marked",
                                    scale=alt.Scale(domain=["incident"], range=[INCIDENT_COLOR])),
                    tooltip=["what:N", alt.Tooltip("start:T", format="%H:%M"), alt.Tooltip("end:T", format="%H:%M")]))
    return alt.layer(band, line).resolve_scale(color="independent")


def _gate_counts(gates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    counts: dict[tuple[str, str], int] = {}
    for row in gates:
        result = "passed" if row["success"] else ("failed (critical)" if row["critical"] else "failed (warning)")
        counts[(row["stage"], result)] = counts.get((row["stage"], result), 0) + 1
    return [{"stage": stage, "result": result, "expectations": count} for (stage, result), count in counts.items()]


def _headline(data: ReportData) -> str:
    totals = data.totals
    rate = totals["start_failures"] / totals["attempts"] if totals["attempts"] else None
    figures = [
        ("play sessions", f"{totals['sessions']:,}"),
        ("viewers", f"{totals['viewers']:,}"),
        ("watch time", f"{totals['watch_hours']:,.1f} h"),
        ("startup p50 / p95", f"{_ms(totals['startup_time_p50_ms'])} / {_ms(totals['startup_time_p95_ms'])}"),
        ("rebuffer ratio", "n/a" if totals["rebuffer_ratio"] is None else f"{totals['rebuffer_ratio']:.2%}"),
        ("start failure rate", "n/a" if rate is None else f"{rate:.2%}"),
        ("exits before start", f"{totals['exits_before_start']:,}"),
    ]
    return "".join(f'<div class="figure"><span>{html.escape(name)}</span><b>{html.escape(value)}</b></div>'
                   for name, value in figures)


def _incident_list(found: list[Incident]) -> str:
    if not found:
        return ('<p class="calm">No incident: no alert rule would have fired over the day\'s sessions.</p>')
    items = "".join(
        f"<li><b>{html.escape(incident.rule)}</b> ({html.escape(incident.rule_text)}) on "
        f"<b>{html.escape(incident.series)}</b>: {incident.start:%H:%M} to {incident.end:%H:%M} UTC"
        f"{'' if incident.peak is None else f', worst {incident.peak:.4g}'}</li>" for incident in found)
    return f'<ul class="incidents">{items}</ul>'


def _notes(name: str, data: ReportData) -> str:
    if name != "quality" or not data.gates:
        return "" if name != "quality" else "<p>No gate results recorded for the runs that built this day.</p>"
    failed = [row for row in data.gates if not row["success"]]
    runs = ", ".join(html.escape(run) for run in data.runs)
    if not failed:
        return f"<p>Runs {runs}: all {len(data.gates)} expectations passed.</p>"
    rows = "".join(
        f"<tr><td>{html.escape(row['stage'])}</td><td>{html.escape(row['expectation'])}</td>"
        f"<td>{'critical' if row['critical'] else 'warning'}</td>"
        f"<td>{html.escape(str(row['observed_value'] or ''))}</td></tr>" for row in failed)
    return (f"<p>Runs {runs}: {len(failed)} of {len(data.gates)} expectations failed.</p>"
            f"<table><tr><th>stage</th><th>expectation</th><th>level</th><th>observed</th></tr>{rows}</table>")


def _records(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: _iso(value) if isinstance(value, datetime) else value for key, value in row.items()}
            for row in rows]


def _iso(moment: datetime) -> str:
    """A naive UTC instant as ISO 8601 with its Z: vega reads it as UTC, not local time."""
    return moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f} ms"


def incidents_json(data: ReportData) -> str:
    """The incidents as JSON (the demo's closing summary may print them)."""
    return json.dumps([asdict(incident) for incident in data.incidents], default=str)


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
  body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 980px; color: #222; }}
  h1 {{ margin-bottom: .2rem; }} .meta {{ color: #666; margin-top: 0; }}
  .figures {{ display: flex; flex-wrap: wrap; gap: .6rem; margin: 1rem 0; }}
  .figure {{ border: 1px solid #ddd; border-radius: 6px; padding: .5rem .8rem; min-width: 8rem; }}
  .figure span {{ display: block; color: #666; font-size: .8rem; }} .figure b {{ font-size: 1.2rem; }}
  .incidents li {{ color: {incident_color}; }} .calm {{ color: #2ca02c; }}
  figure {{ margin: 0; }} section {{ margin-top: 1.5rem; }}
  table {{ border-collapse: collapse; font-size: .85rem; }} td, th {{ border: 1px solid #ddd; padding: .2rem .4rem; }}
</style>
<script>
{bundle}
</script>
</head>
<body>
<h1>{title}</h1>
<p class="meta">Sessions that started on {day} (UTC), from the lake at {lake}; made {made}.</p>
<div class="figures">{headline}</div>
<h2>Incidents</h2>
{incidents}
{sections}
<script>
function embedChart(target, spec) {{
  vegaEmbed(target, spec, {{renderer: "svg", actions: false}})
    .then(function () {{ document.querySelector(target).closest("figure").dataset.drawn = "true"; }})
    .catch(function (error) {{
      var figure = document.querySelector(target).closest("figure");
      figure.dataset.error = String(error);
      figure.insertAdjacentHTML("beforeend", "<p>chart failed: " + String(error) + "</p>");
    }});
}}
{embeds}
</script>
</body>
</html>
""".replace("{incident_color}", INCIDENT_COLOR)
