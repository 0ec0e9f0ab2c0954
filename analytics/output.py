"""A query's answer (a pyarrow Table) as an aligned table, CSV, JSON or Parquet.

CSV and JSON go to a file or to stdout; Parquet, being binary, only to a file.
JSON is one array of objects, with dates and timestamps as ISO 8601 strings
(timestamps in UTC, as stored) and maps as objects.
"""

from __future__ import annotations

import io
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TextIO

from ottlake.errors import QueryError

Format = Literal["table", "csv", "json", "parquet"]
FORMATS: tuple[Format, ...] = ("table", "csv", "json", "parquet")


def write(answer: Any, *, format: Format, out: Path | None, stdout: TextIO) -> None:  # noqa: A002 - the flag's name
    """Write `answer` in `format` to `out`, or to `stdout` when `out` is None."""
    if format == "parquet":
        if out is None:
            raise QueryError("--format parquet writes a binary file: give --out FILE")
        import pyarrow.parquet as pq

        _write_file(out, lambda path: pq.write_table(answer, str(path)))
        return
    text = {"table": _table, "csv": csv_text, "json": json_text}[format](answer)
    if out is None:
        stdout.write(text)
        return
    _write_file(out, lambda path: path.write_text(text, encoding="utf-8"))


def csv_text(answer: Any) -> str:
    """RFC 4180 CSV with a header row (pyarrow's writer: nulls as empty fields)."""
    import pyarrow.csv as pacsv

    sink = io.BytesIO()
    pacsv.write_csv(_plain(answer), sink, write_options=pacsv.WriteOptions(quoting_style="needed"))
    return sink.getvalue().decode("utf-8")


def json_text(answer: Any) -> str:
    import orjson

    return orjson.dumps(_records(answer), default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode() + "\n"


def _table(answer: Any) -> str:
    """rich's aligned table, numbers to the right, as wide as the widest value."""
    from rich.console import Console
    from rich.table import Table

    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    for column in answer.schema:
        table.add_column(column.name, justify="right" if _is_number(column.type) else "left", no_wrap=True)
    for row in answer.to_pylist():
        table.add_row(*(_cell(value) for value in row.values()))
    buffer = io.StringIO()
    console = Console(file=buffer, width=max(80, _width(answer)), highlight=False, color_system=None)
    console.print(table)
    rows = answer.num_rows
    console.print(f"({rows:,} row{'s' if rows != 1 else ''})")
    return buffer.getvalue()


def _records(answer: Any) -> list[dict[str, Any]]:
    """Rows as dicts; a map column's values as objects (pyarrow gives (key, value) pairs)."""
    import pyarrow as pa

    maps = [field.name for field in answer.schema if pa.types.is_map(field.type)]
    rows = answer.to_pylist()
    for row in rows:
        for name in maps:
            if row[name] is not None:
                row[name] = dict(row[name])
    return rows


def _plain(answer: Any) -> Any:
    """Columns CSV cannot hold (lists, maps, structs) as JSON text."""
    import pyarrow as pa

    columns = []
    for column in answer.columns:
        if pa.types.is_nested(column.type):
            column = pa.array([None if value is None else json_text_of(value) for value in column.to_pylist()],
                              pa.string())
        columns.append(column)
    return pa.table(columns, names=answer.column_names)


def json_text_of(value: Any) -> str:
    import orjson

    return orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, list | dict | tuple):
        return json_text_of(value)
    return str(value)


def _is_number(kind: Any) -> bool:
    import pyarrow as pa

    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)


def _width(answer: Any) -> int:
    """The width that keeps every row on one line."""
    widths = [len(name) for name in answer.column_names]
    for row in answer.slice(0, 1000).to_pylist():
        widths = [max(width, len(_cell(value))) for width, value in zip(widths, row.values(), strict=True)]
    return sum(widths) + 3 * len(widths)


def _write_file(out: Path, writer: Any) -> None:
    if out.parent and not out.parent.is_dir():
        raise QueryError(f"cannot write {out}: no such folder {out.parent}")
    try:
        writer(out)
    except OSError as exc:
        raise QueryError(f"cannot write {out}: {exc.strerror or exc}") from None
