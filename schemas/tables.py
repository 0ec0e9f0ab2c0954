"""Spark and Arrow schemas of the event tables, derived from the JSON Schema.

One mapping from JSON types to column types serves both engines, so the lake's
columns can never drift from the contract. pyspark and pyarrow are imported only
when asked for: the SDK's base install has neither.
"""

from __future__ import annotations

from typing import Any, Literal

from schemas.contract import EVENT_FIELDS, REQUIRED_FIELDS, field_kind

Engine = Literal["spark", "arrow"]


def _spark_type(kind: str) -> Any:
    from pyspark.sql import types as T

    return {
        "integer": T.LongType(),
        "string": T.StringType(),
        "boolean": T.BooleanType(),
        "object": T.MapType(T.StringType(), T.StringType()),
    }[kind]


def _arrow_type(kind: str) -> Any:
    import pyarrow as pa

    return {
        "integer": pa.int64(),
        "string": pa.string(),
        "boolean": pa.bool_(),
        "object": pa.map_(pa.string(), pa.string()),
    }[kind]


def event_fields(engine: Engine, *, nullable_required: bool = True) -> list[Any]:
    """The contract's fields as Spark StructFields or Arrow fields, in schema order.

    `nullable_required=True` is the parsing view (a missing required field must
    parse to null so the job can quarantine it with a reason); False is the view of
    a table that holds only valid events.
    """
    out: list[Any] = []
    for name in EVENT_FIELDS:
        nullable = nullable_required or name not in REQUIRED_FIELDS
        if engine == "spark":
            from pyspark.sql import types as T

            out.append(T.StructField(name, _spark_type(field_kind(name)), nullable))
        else:
            import pyarrow as pa

            out.append(pa.field(name, _arrow_type(field_kind(name)), nullable))
    return out


def spark_event_schema(*, nullable_required: bool = True) -> Any:
    """pyspark StructType of one player event."""
    from pyspark.sql import types as T

    return T.StructType(event_fields("spark", nullable_required=nullable_required))


def arrow_event_schema(*, nullable_required: bool = True) -> Any:
    """pyarrow Schema of one player event."""
    import pyarrow as pa

    return pa.schema(event_fields("arrow", nullable_required=nullable_required))
