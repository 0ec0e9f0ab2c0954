"""The docs' generated parts match their generators (schemas/ and click's help)."""

from __future__ import annotations

from ottlake.cli import docs
from schemas.contract import EVENT_FIELDS, REQUIRED_FIELDS
from schemas.tables import LAKE_TABLES


def test_the_committed_docs_are_what_the_generators_make() -> None:
    assert docs.stale() == [], "run: python -m ottlake.cli.docs"
    for name in docs.FILES:
        text = (docs.ROOT / name).read_text(encoding="utf-8")
        assert "<!-- BEGIN GENERATED" in text, name


def test_a_hand_edit_of_a_generated_part_is_caught() -> None:
    text = (docs.ROOT / "docs/contract.md").read_text(encoding="utf-8")
    tampered = text.replace("| `event_id` | string | yes |", "| `event_id` | string | no |")
    assert tampered != text
    assert docs.rendered(tampered) == text


def test_the_contract_table_has_every_field_and_who_requires_it() -> None:
    rows = {line.split("|")[1].strip().strip("`"): line.split("|")[3].strip()
            for line in docs.contract_fields().splitlines()[2:]}
    assert list(rows) == list(EVENT_FIELDS)
    assert all(rows[name] == "yes" for name in REQUIRED_FIELDS if name != "received_ts")
    assert rows["error_fatal"] == "on `error`"
    assert rows["ad_id"] == "on `ad_start`, `ad_end`"
    assert rows["received_ts"] == "set by ingest"
    assert rows["cdn"] == "no"


def test_the_table_docs_name_every_column() -> None:
    text = docs.lake_tables()
    for name, table in LAKE_TABLES.items():
        section = text.split(f"#### `{name}`")[1].split("#### ")[0]
        assert [line.split("|")[1].strip().strip("`") for line in section.splitlines() if line.startswith("| `")] \
            == list(table.names)


def test_the_cli_reference_is_clicks_help() -> None:
    from click.testing import CliRunner

    from ottlake.cli.main import cli

    reference = docs.cli_reference()
    for path in (["sql"], ["report"], ["infra", "apply"], ["batch"]):
        heading = f"`ottlake {' '.join(path)}`"
        assert heading in reference
        help_text = CliRunner().invoke(cli, [*path, "--help"], prog_name="ottlake", terminal_width=100).output
        assert help_text.startswith(f"Usage: ottlake {' '.join(path)} ")
        assert help_text.rstrip() in reference
    assert "--engine [duckdb|spark]" in reference
