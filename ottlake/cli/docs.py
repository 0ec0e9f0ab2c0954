"""The generated parts of the docs: the contract's fields, the lake's tables and the
CLI reference, made from schemas/ and from click's own help, never typed by hand.

Each generated part sits in a Markdown file between two markers,

    <!-- BEGIN GENERATED name: python -m ottlake.cli.docs -->
    ...
    <!-- END GENERATED name -->

and `python -m ottlake.cli.docs` rewrites every part in place (`--check` only
reports the files that differ; tests/unit/test_docs.py runs it).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from schemas.contract import EVENT_TYPES, LIMITS, REQUIRED_FIELDS, event_schema
from schemas.layout import Lake
from schemas.tables import LAKE_TABLES, Type

ROOT = Path(__file__).resolve().parents[2]
# The files with generated parts, relative to the repository's root.
FILES = ("README.md", "docs/contract.md", "docs/metrics.md", "docs/cli.md")
_BLOCK = re.compile(r"(<!-- BEGIN GENERATED (?P<name>[\w-]+)[^>]*-->\n)(?P<body>.*?)(<!-- END GENERATED (?P=name) -->)",
                    re.DOTALL)
_HELP_WIDTH = 100
_EXAMPLE_LAKE = "<lake>"


# --- the contract ------------------------------------------------------------------------


def required_by() -> dict[str, str]:
    """For each field: 'yes', or the event types that require it (the schema's allOf)."""
    found = {name: "yes" for name in REQUIRED_FIELDS}
    for rule in event_schema().get("allOf", []):
        condition = rule["if"]["properties"]["event_type"]
        types = [condition["const"]] if "const" in condition else list(condition["enum"])
        for name in rule["then"]["required"]:
            found[name] = "on " + ", ".join(f"`{kind}`" for kind in types)
    return found


def contract_fields() -> str:
    """The envelope: one row per field, in schema order."""
    required = required_by()
    rows = ["| field | type | required | constraints | meaning |", "|---|---|---|---|---|"]
    for name, spec in event_schema()["properties"].items():
        declared = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
        kind = " or ".join(kind for kind in declared if kind != "null")
        if name == "received_ts":
            need = "set by ingest"
        else:
            need = required.get(name, "no")
        rows.append(f"| `{name}` | {kind} | {need} | {_constraints(spec)} | {spec.get('description', '')} |")
    return "\n".join(rows)


def _constraints(spec: dict[str, Any]) -> str:
    parts = []
    if "const" in spec:
        parts.append(f"= {spec['const']}")
    if "enum" in spec:
        parts.append(", ".join(f"`{value}`" for value in spec["enum"] if value is not None))
    if "pattern" in spec:
        parts.append(f"matches `{spec['pattern']}`".replace("|", "\\|"))
    if "minimum" in spec:
        parts.append(f">= {spec['minimum']}")
    if "minLength" in spec:
        parts.append(f"at least {spec['minLength']} character(s)")
    if "maxLength" in spec:
        parts.append(f"at most {spec['maxLength']:,} characters")
    if spec.get("type") == "object" or "additionalProperties" in spec:
        values = spec.get("additionalProperties", {})
        if isinstance(values, dict) and values.get("type"):
            parts.append(f"string keys, {values['type']} values")
    return "; ".join(parts)


def contract_limits() -> str:
    limits = LIMITS
    return "\n".join([
        "| limit | value |", "|---|---|",
        f"| one serialised event | at most {limits.max_event_bytes:,} bytes |",
        f"| a string field | at most {limits.max_string_chars:,} characters |",
        f"| `error_message` | at most {limits.max_error_message_chars:,} characters |",
        f"| keys of `custom` | at most {limits.max_custom_keys} |",
        f"| derived time after `received_ts` | at most {limits.future_tolerance_ms // 60_000} minutes "
        "(else quarantined as `future_timestamp`) |",
        f"| derived time before `received_ts` | at most {limits.max_lateness_ms // 3_600_000} hours "
        "(else quarantined as `too_late`) |",
    ])


def event_types() -> str:
    return ", ".join(f"`{kind}`" for kind in EVENT_TYPES)


# --- the lake's tables -------------------------------------------------------------------


def type_text(kind: Type) -> str:
    if isinstance(kind, str):
        return kind
    if kind[0] == "array":
        return f"array<{type_text(kind[1])}>"
    if kind[0] == "map":
        return f"map<{type_text(kind[1])}, {type_text(kind[2])}>"
    return "struct<" + ", ".join(f"{name}: {type_text(item)}" for name, item in kind[1]) + ">"


def lake_tables() -> str:
    """Every table analysts query: where it lives, its partitioning and its columns."""
    lake = Lake(_EXAMPLE_LAKE)
    parts = []
    for name, table in LAKE_TABLES.items():
        partition = f", partitioned by `{'`, `'.join(table.partition_by)}`" if table.partition_by else ""
        rows = [f"#### `{name}`", "", f"Delta table at `{lake.table(name)}`{partition}.", "",
                "| column | type | null | meaning |", "|---|---|---|---|"]
        for column in table.columns:
            meaning = column.comment or ("a contract field (docs/contract.md)" if name == "player_events" else "")
            rows.append(f"| `{column.name}` | {type_text(column.type)} | {'yes' if column.nullable else 'no'} "
                        f"| {meaning} |")
        parts.append("\n".join(rows))
    return "\n\n".join(parts)


def lake_table_names() -> str:
    lake = Lake(_EXAMPLE_LAKE)
    rows = ["| table | where | columns |", "|---|---|---|"]
    for name, table in LAKE_TABLES.items():
        rows.append(f"| `{name}` | `{lake.table(name)}` | {', '.join(f'`{c}`' for c in table.names)} |")
    return "\n".join(rows)


# --- the CLI -------------------------------------------------------------------------------


def cli_reference() -> str:
    """`ottlake ... --help` of every command, exactly as a terminal 100 columns wide shows it."""
    from click.testing import CliRunner

    from ottlake.cli.main import cli

    parts: list[str] = []

    def visit(command: click.Command, path: list[str]) -> None:
        shown = CliRunner().invoke(cli, [*path[1:], "--help"], prog_name="ottlake", terminal_width=_HELP_WIDTH)
        heading = "#" * min(4, len(path) + 1)
        parts.append(f"{heading} `{' '.join(path)}`\n\n```text\n{shown.output.rstrip()}\n```")
        if isinstance(command, click.Group):
            for name in sorted(command.commands):
                visit(command.commands[name], [*path, name])

    visit(cli, ["ottlake"])
    return "\n\n".join(parts)


def cli_commands() -> str:
    """One line per command: what the README lists."""
    from ottlake.cli.main import cli

    rows = ["| command | what it does |", "|---|---|"]

    def visit(command: click.Command, path: list[str]) -> None:
        if isinstance(command, click.Group):
            for name in sorted(command.commands):
                visit(command.commands[name], [*path, name])
            return
        rows.append(f"| `{' '.join(path)}` | {command.get_short_help_str(limit=120)} |")

    visit(cli, ["ottlake"])
    return "\n".join(rows)


GENERATORS: dict[str, Callable[[], str]] = {
    "contract-fields": contract_fields,
    "contract-limits": contract_limits,
    "event-types": event_types,
    "lake-tables": lake_tables,
    "lake-table-names": lake_table_names,
    "cli-reference": cli_reference,
    "cli-commands": cli_commands,
}


# --- rewriting the files ---------------------------------------------------------------


def rendered(text: str) -> str:
    """`text` with every generated part made anew (an unknown part name is an error)."""
    def fill(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in GENERATORS:
            raise KeyError(f"unknown generated part {name!r} (known: {', '.join(GENERATORS)})")
        return f"{match.group(1)}{GENERATORS[name]().rstrip()}\n{match.group(4)}"

    return _BLOCK.sub(fill, text)


def stale(root: Path = ROOT, files: Sequence[str] = FILES) -> list[str]:
    """The files whose generated parts differ from what the generators make now."""
    return [name for name in files if (root / name).exists()
            and rendered((root / name).read_text(encoding="utf-8")) != (root / name).read_text(encoding="utf-8")]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--check"]:
        differ = stale()
        for name in differ:
            print(f"{name}: generated parts are out of date; run python -m ottlake.cli.docs")
        return 1 if differ else 0
    for name in FILES:
        path = ROOT / name
        if path.exists():
            path.write_text(rendered(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
