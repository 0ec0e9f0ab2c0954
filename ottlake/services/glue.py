"""The lake's tables in the Glue Data Catalog, so that Athena and EMR query them by
name (`SELECT ... FROM ottlake.play_sessions`); part of `infra apply`.

Each table of schemas.tables.LAKE_TABLES becomes an external table at its Delta
location, marked as Delta the way both readers look for it: the parameter
`spark.sql.sources.provider=delta` with the location also in the SerDe's `path`
(what Spark's Hive catalog and EMR read), and `table_type=DELTA` (Athena's native
Delta reader, which then takes the schema and the partitions from the Delta
log). The columns, types, comments and partition keys are derived from the one
definition in schemas.tables, so Glue's schema is the tables' schema: a
reader that shows the catalog's columns (the Athena console, Lake Formation)
shows the right ones. Converges like the rest of `apply`: a missing table is
created, one that differs is updated in place (Glue keeps no data, so nothing
is lost), one that matches is left alone.
"""

from __future__ import annotations

from typing import Any

from schemas.layout import Lake
from schemas.tables import LAKE_TABLES, Table, Type

_PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
_PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
_PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
TABLE_PARAMETERS = {"EXTERNAL": "TRUE", "spark.sql.sources.provider": "delta", "table_type": "DELTA",
                    "classification": "delta"}
_COMMENT_MAX = 255  # Glue's limit on a column comment
_HIVE_SCALARS = {"long": "bigint", "double": "double", "string": "string", "boolean": "boolean",
                 "timestamp": "timestamp", "date": "date", "binary": "binary"}


def hive_type(kind: Type) -> str:
    """A column type as Glue (Hive DDL) spells it."""
    if isinstance(kind, str):
        return _HIVE_SCALARS[kind]
    if kind[0] == "array":
        return f"array<{hive_type(kind[1])}>"
    if kind[0] == "map":
        return f"map<{hive_type(kind[1])},{hive_type(kind[2])}>"
    return "struct<" + ",".join(f"{name}:{hive_type(item)}" for name, item in kind[1]) + ">"


def s3_location(path: str) -> str:
    """Athena and EMR want s3://, whatever scheme Hadoop was given."""
    for scheme in ("s3a://", "s3n://"):
        if path.startswith(scheme):
            return "s3://" + path[len(scheme):]
    return path


def table_input(short_name: str, table: Table, location: str) -> dict[str, Any]:
    """Glue's TableInput for one lake table at `location`."""
    def column(name: str) -> dict[str, str]:
        source = table.column(name)
        entry = {"Name": name, "Type": hive_type(source.type)}
        if source.comment:
            entry["Comment"] = source.comment[:_COMMENT_MAX]
        return entry

    where = s3_location(location)
    return {
        "Name": short_name,
        "Description": f"ottlake {short_name} (Delta Lake); columns from schemas.tables",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": dict(TABLE_PARAMETERS),
        "PartitionKeys": [column(name) for name in table.partition_by],
        "StorageDescriptor": {
            "Columns": [column(name) for name in table.names if name not in table.partition_by],
            "Location": where,
            "InputFormat": _PARQUET_INPUT,
            "OutputFormat": _PARQUET_OUTPUT,
            "SerdeInfo": {"SerializationLibrary": _PARQUET_SERDE, "Parameters": {"path": where}},
        },
    }


def table_inputs(lake: Lake) -> list[dict[str, Any]]:
    """Every lake table's TableInput, by its short name."""
    return [table_input(name, table, lake.table(name)) for name, table in LAKE_TABLES.items()]


def ensure_database(glue: Any, name: str, location: str) -> str:
    """'created' or 'present'."""
    try:
        glue.get_database(Name=name)
        return "present"
    except glue.exceptions.EntityNotFoundException:
        pass
    glue.create_database(DatabaseInput={
        "Name": name, "Description": "ottlake's lake: player events, sessions and QoE (Delta Lake)",
        "LocationUri": s3_location(location)})
    return "created"


def ensure_table(glue: Any, database: str, wanted: dict[str, Any]) -> str:
    """'created', 'changed' (updated to the wanted shape) or 'present'."""
    try:
        found = glue.get_table(DatabaseName=database, Name=wanted["Name"])["Table"]
    except glue.exceptions.EntityNotFoundException:
        glue.create_table(DatabaseName=database, TableInput=wanted)
        return "created"
    if _shape(found) == _shape(wanted):
        return "present"
    glue.update_table(DatabaseName=database, TableInput=wanted)
    return "changed"


def _shape(table: dict[str, Any]) -> tuple[Any, ...]:
    """What apply converges: type, parameters, partition keys, columns and location."""
    storage = table.get("StorageDescriptor", {})
    parameters = {key: value for key, value in table.get("Parameters", {}).items() if key in TABLE_PARAMETERS}
    return (table.get("TableType"), parameters, table.get("PartitionKeys", []), storage.get("Columns", []),
            storage.get("Location"), storage.get("SerdeInfo", {}).get("Parameters", {}).get("path"))
