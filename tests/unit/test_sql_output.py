"""analytics.output: every format writes every column type the lake has (lists,
maps, structs, dates, timestamps, nulls)."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics import output
from ottlake.errors import QueryError
from schemas.tables import QUARANTINE


@pytest.fixture
def answer():
    rows = [{"line": "{bad", "reason": "invalid_json", "reasons": ["invalid_json"], "fields": [""],
             "violations": [{"field": "", "reason": "invalid_json"}], "source_object": "raw/x.gz",
             "ingest_ts": datetime(2026, 3, 1, 9, 30, tzinfo=UTC)}]
    table = pa.Table.from_pylist(rows, schema=QUARANTINE.arrow())
    extra = pa.table({"day": pa.array([date(2026, 3, 1)]), "custom": pa.array([[("k", "v")]], pa.map_(pa.string(),
                                                                                                      pa.string())),
                      "nothing": pa.array([None], pa.float64())})
    for name in extra.column_names:
        table = table.append_column(name, extra[name])
    return table


def text(answer, kind: str) -> str:
    out = io.StringIO()
    output.write(answer, format=kind, out=None, stdout=out)
    return out.getvalue()


def test_json_is_an_array_of_objects_with_iso_times(answer) -> None:
    (row,) = json.loads(text(answer, "json"))
    assert row["violations"] == [{"field": "", "reason": "invalid_json"}]
    assert row["ingest_ts"] == "2026-03-01T09:30:00+00:00" and row["day"] == "2026-03-01"
    assert row["custom"] == {"k": "v"} and row["nothing"] is None


def test_csv_writes_nested_columns_as_json(answer) -> None:
    header, line = text(answer, "csv").splitlines()
    assert header.split(",")[:3] == ['"line"', '"reason"', '"reasons"']
    assert '"[""invalid_json""]"' in line


def test_the_table_names_every_column_and_counts_rows(answer) -> None:
    shown = text(answer, "table")
    assert all(name in shown for name in answer.column_names)
    assert "NULL" in shown and shown.rstrip().endswith("(1 row)")


def test_parquet_needs_a_file(answer, tmp_path) -> None:
    with pytest.raises(QueryError, match="give --out FILE"):
        output.write(answer, format="parquet", out=None, stdout=io.StringIO())
    output.write(answer, format="parquet", out=tmp_path / "q.parquet", stdout=io.StringIO())
    assert pq.read_table(tmp_path / "q.parquet").equals(answer)
