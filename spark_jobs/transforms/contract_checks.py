"""The player-event contract as Spark column expressions, derived from its JSON Schema.

`schemas/player_event.schema.json` is the only place the rules live. This module
walks it once, at import, and turns each keyword into a condition on parsed columns
that reports the same reason codes as the Python validator (`schemas.validate`), so
that the collector and bronze reject the same events for the same reasons (an
agreement test runs both over one table of vectors). A keyword that has no Spark
rule here fails the import: a rule is never silently left unenforced.

How a line is seen. A typed `from_json` turns a wrong-typed value into null,
indistinguishable from a missing one, and renders a JSON number in a string field as
its text, indistinguishable from a string. So a line the typed parse may have
misread is parsed again, exactly (`parse`):

- typed, with `schemas.tables.spark_event_schema()`, wrapped as
  `{"__event__": <line>, "__end_of_line__": 1}`: Spark's JSON reader stops after the
  first JSON value, so a line with trailing garbage (two objects glued together by
  a writer that forgot the newline) parses cleanly unless a sentinel must come after
  it (only a line ending in `,"__end_of_line__":1` itself could fool it);
- as VARIANTs, one per contract field (`custom` as map<string, variant>): SQL null
  means absent, and `schema_of_variant` tells the JSON kind of what is there
  (STRING, BIGINT, DECIMAL(p,s), DOUBLE, BOOLEAN, OBJECT<...>, ARRAY<...>, VOID for
  null).

and, for a suspect line, its top-level keys are listed (`json_object_keys`) to
find unknown fields.

Which lines need the exact views (SUSPECT). Only the exact views cost: measured on
1M events of ~700 bytes (local[2]), the typed parse alone ~5 s, with the variants
and the keys ~13 s. Nearly every line is valid, so the typed parse is trusted for a
line unless something it cannot see may hide there; the test is exact in that
direction (a line it passes is read the same by both views), and a false alarm
only costs that line the exact views. A line is suspect when:

- it is not one JSON object (malformed, or not an object);
- it has more top-level keys than the typed parse has non-null fields: an unknown
  field, a JSON null, a wrong-typed value (null to the typed parse) or a duplicate
  key;
- it has a backslash (any escape), or its double quotes are not exactly two per
  top-level key, per non-null string field, per custom key and per custom
  value: a number, true or false in a
  string field or in custom (rendered by the typed parse as text, unquoted in the
  line) leaves two missing; a string, object or array adds at least two, but an
  object or array in place of a string can bring its own quotes, hence also
- a string field's or custom value's text begins with `{` or `[` (how the typed
  parse renders an object or array), or custom holds a null value or a repeated key.

The quote count, the backslash and the top-level key count come from one pass
over the line's bytes, `LineShape` in ottlake's jar (spark_jobs/java/), exact on
the lines it is trusted on: a JSON object without a backslash (see its comment).
Before it, a literal `replace` counted the quotes (Spark's UTF8String.replace
compares at every byte: 12% of the checks' samples in a JFR profile) and
`json_object_keys` parsed every line a second time for the key count (8%).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from schemas.contract import EVENT_FIELDS, LIMITS, E, event_schema
from schemas.tables import spark_event_schema
from spark_jobs.spark import register_java_function

# The Python validator's keyword -> reason table: one mapping for both engines.
from schemas.validate import _KEYWORD_REASONS, Reason

# Internal column names (dropped by the transforms' closing selects).
PARSED = "_parsed"  # struct<__event__: the typed event, __end_of_line__: sentinel>
VARIANTS = "_variants"  # struct of one VARIANT per contract field
KEYS = "_keys"  # array<string>: the line's top-level keys (suspect lines only)
SUSPECT = "_suspect"  # the typed parse may have misread the line: the exact views are built
_SHAPE = "_shape"  # the line's quotes, backslash and top-level key count (LineShape)
CUSTOM = "_custom"  # custom after `fold_unknown_fields`
COLLISIONS = "_collisions"  # unknown keys already in custom
_UNKNOWN = "_unknown"
OWN = "_own_custom"  # the line's custom, one entry per key
OWN_VARIANTS = "_own_custom_variants"  # the line's custom, as VARIANTs, one entry per key
VARIANTS_LOST = "_variants_lost"  # some field's VARIANT could not be built

# The line's shape, in one pass over its bytes: spark_jobs/java/io/ottlake/spark/LineShape.java.
SHAPE_FUNCTION = "ottlake_line_shape"
SHAPE_CLASS = "io.ottlake.spark.LineShape"
SHAPE_TYPE = T.StructType([
    T.StructField("quotes", T.IntegerType()),  # double quotes in the line
    T.StructField("escaped", T.BooleanType()),  # it has a backslash (the counts are then partial)
    T.StructField("keys", T.IntegerType()),  # keys of its top-level object, duplicates counted
])

_EVENT = "__event__"
_SENTINEL = "__end_of_line__"
_WRAP_OPEN = '{"' + _EVENT + '":'
_WRAP_CLOSE = ',"' + _SENTINEL + '":1}'

# JSON kinds as schema_of_variant names them (Spark 4 VARIANT).
STRING_KIND = "STRING"
INTEGER_KIND = "BIGINT"
WHOLE_FIELD = ""  # the `field` of a violation about the whole event, as in schemas.validate

_SCHEMA: Mapping[str, Any] = event_schema()
_PROPERTIES: Mapping[str, Any] = _SCHEMA["properties"]
_IGNORED = {"description", "$comment", "$schema", "$id", "title"}
# Reasons that depend on the field as well as the keyword: the same special cases as
# schemas.validate._violations_of.
_FIELD_REASONS = {
    (E.schema_version, "const"): Reason.unsupported_schema_version,
    (E.event_type, "enum"): Reason.unknown_event_type,
}


def _variant_schema() -> T.StructType:
    custom = T.MapType(T.StringType(), T.VariantType())
    return T.StructType([T.StructField(name, custom if name == E.custom else T.VariantType()) for name in EVENT_FIELDS])


# Strict JSON, as orjson (the validator's parser) reads it: Jackson's defaults would
# take NaN, Infinity and 'single-quoted' strings.
STRICT_JSON = {"allowNonNumericNumbers": "false", "allowSingleQuotes": "false"}


def parse(lines: DataFrame, *, line: str, all_exact: bool = False) -> DataFrame:
    """`lines` plus the parsed views of the NDJSON line in column `line` (see the
    module docstring): PARSED for every line, SUSPECT, and VARIANTS and KEYS for the
    suspect lines only (null for the others). `all_exact` takes every line as
    suspect: the tests' reference, which the shortcut must agree with."""
    text = F.col(line)
    wrapped = F.concat(F.lit(_WRAP_OPEN), text, F.lit(_WRAP_CLOSE))
    typed = T.StructType([T.StructField(_EVENT, spark_event_schema()), T.StructField(_SENTINEL, T.IntegerType())])
    # Three projections, so that each view is computed once and only where asked for
    # (the exact ones under `when`, evaluated for the suspect rows only).
    register_java_function(lines.sparkSession, SHAPE_FUNCTION, SHAPE_CLASS, SHAPE_TYPE)
    parsed = lines.select(
        "*",
        F.from_json(wrapped, typed, STRICT_JSON).alias(PARSED),
        F.call_function(SHAPE_FUNCTION, text.cast(T.BinaryType())).alias(_SHAPE),
    )
    judged = parsed.select("*", (F.lit(True) if all_exact else _suspect()).alias(SUSPECT)).drop(_SHAPE)
    suspect = F.col(SUSPECT)
    return judged.select(
        "*",
        F.when(suspect, F.from_json(text, _variant_schema(), STRICT_JSON)).alias(VARIANTS),
        F.when(suspect, F.json_object_keys(text)).alias(KEYS),
    )


_STRING_FIELDS = [name for name in EVENT_FIELDS if _PROPERTIES[name]["type"] == "string"]


def _non_null_count(columns: list[Column]) -> Column:
    flags = [F.when(column.isNotNull(), 1).otherwise(0) for column in columns]
    return sum(flags[1:], flags[0])


def _looks_nested(text: Column) -> Column:
    return F.substring(text, 1, 1).isin("{", "[")


def _suspect() -> Column:
    """The typed parse may have misread the line (module docstring: Which lines need
    the exact views). Never null."""
    custom = typed_value(E.custom)
    fields = [typed_value(name) for name in EVENT_FIELDS]
    non_null = _non_null_count(fields)
    strings = [typed_value(name) for name in _STRING_FIELDS]
    string_values = _non_null_count(strings)
    custom_size = F.coalesce(F.size(custom), F.lit(0))
    shape = F.col(_SHAPE)
    keys = shape["keys"]
    expected_quotes = 2 * (keys + string_values + 2 * custom_size)
    nested = F.lit(False)
    for value in strings:
        nested = nested | F.coalesce(_looks_nested(value), F.lit(False))
    odd_custom = F.coalesce(
        F.exists(F.map_values(custom), lambda v: v.isNull() | _looks_nested(v))
        | (F.size(F.array_distinct(F.map_keys(custom))) < custom_size),
        F.lit(False),
    )
    # A backslash (an escaped quote, or any escape) makes the line suspect rather
    # than the quote count exact: rare, and the exact views decide.
    quotes_off = shape["escaped"] | (shape["quotes"] != expected_quotes)
    misread = (keys != non_null) | quotes_off | nested | odd_custom
    return is_malformed() | is_not_an_object() | F.coalesce(misread, F.lit(True))


def is_malformed() -> Column:
    """Not JSON, or JSON followed by anything but whitespace (Reason.malformed_json)."""
    return F.col(f"{PARSED}.{_SENTINEL}").isNull()


def is_not_an_object() -> Column:
    """Valid JSON that is not an object: an array, a string, a number, null."""
    return F.col(f"{PARSED}.{_SENTINEL}").isNotNull() & F.col(f"{PARSED}.{_EVENT}").isNull()


def typed_value(name: str) -> Column:
    """The field as its column type; null when absent, JSON null or of another type."""
    return F.col(f"{PARSED}.{_EVENT}.{name}")


def _variant(name: str) -> Column:
    return F.col(f"{VARIANTS}.{name}")


def is_present(name: str) -> Column:
    """The key is on the line (with any value, JSON null included). Needs the
    columns of fold_unknown_fields. On a line that is not suspect, every key the
    line has parsed to a non-null typed value."""
    if name == E.custom:
        # Parsed as a map to see its values' kinds, custom is SQL null when it is JSON
        # null or not an object: ask the key list instead.
        exact = F.array_contains(F.col(KEYS), name)
    else:
        # A VARIANT is lost when its value holds an object with duplicate keys (Spark's
        # VARIANT refuses them): then, and only then, ask the key list.
        exact = _variant(name).isNotNull() | (F.col(VARIANTS_LOST) & F.array_contains(F.col(KEYS), name))
    return F.when(F.col(SUSPECT), exact).otherwise(typed_value(name).isNotNull())


# --- Unknown fields --------------------------------------------------------------


def fold_unknown_fields(parsed: DataFrame, *, line: str) -> DataFrame:
    """`parsed` plus CUSTOM, its custom with the line's unknown top-level fields moved
    into it, and COLLISIONS, the unknown keys that were already in custom.

    player-events.md, Envelope: "Unknown fields are kept in `custom` by the collector,
    never silently dropped." Ingest applies the same rule, before custom's limits are
    checked, so an unknown field is neither dropped nor a reason to quarantine:

    - a string value moves as it is; any other value (null too) as its compact JSON text;
    - when `custom` is absent it is created; when it is present but not an object the
      event is quarantined for `custom` (wrong_type) and nothing moves (the raw line,
      kept in the quarantine, still has everything);
    - an unknown key that is already in `custom` would overwrite one of the two values:
      the event is quarantined instead (invalid_value on `custom.<key>`).

    The collector implements the same rule in Python, against the same test vectors
    (tests/unit/test_bronze_contract.py). The line's second parse, as
    map<string,string> (strings as they are, other values as JSON text), runs only for
    the rare lines that have unknown fields.
    """
    suspect = F.col(SUSPECT)  # a line that is not suspect has no unknown field
    known_keys = F.size(F.filter(F.col(KEYS), lambda key: key.isin(*EVENT_FIELDS)))
    has_unknown = suspect & (F.size(F.col(KEYS)) > known_keys)
    has_custom = F.array_contains(F.col(KEYS), E.custom).cast("int")
    variants = _non_null_count([_variant(name) for name in EVENT_FIELDS if name != E.custom])
    lost = suspect & (known_keys - has_custom != variants)
    as_text = last_key_wins(F.from_json(F.col(line), "map<string,string>", STRICT_JSON))
    unknown = F.transform_values(
        F.map_filter(as_text, lambda key, _: ~key.isin(*EVENT_FIELDS)),
        lambda _, text: F.coalesce(text, F.lit("null")),
    )
    with_unknown = parsed.select(
        "*",
        F.when(suspect, last_key_wins(typed_value(E.custom))).otherwise(typed_value(E.custom)).alias(OWN),
        F.when(suspect, last_key_wins(_variant(E.custom))).alias(OWN_VARIANTS),
        F.when(has_unknown, unknown).alias(_UNKNOWN),
        F.coalesce(lost, F.lit(False)).alias(VARIANTS_LOST),
    )
    custom = F.col(OWN)
    unknown_keys = F.map_keys(F.col(_UNKNOWN))
    in_custom = F.filter(unknown_keys, lambda key: F.array_contains(F.map_keys(custom), key))
    moved = F.map_filter(F.col(_UNKNOWN), lambda key, _: ~F.array_contains(F.map_keys(custom), key))
    folded = (
        F.when(F.col(_UNKNOWN).isNull(), custom)
        .when(~is_present(E.custom), F.col(_UNKNOWN))
        .when(custom.isNotNull(), F.map_concat(custom, moved))
        .otherwise(custom)
    )
    collisions = F.coalesce(F.when(custom.isNotNull(), in_custom), F.array().cast("array<string>"))
    return with_unknown.select("*", folded.alias(CUSTOM), collisions.alias(COLLISIONS)).drop(_UNKNOWN)


def last_key_wins(json_map: Column) -> Column:
    """A map parsed from a JSON object, with one entry per key: the last, as in
    Python's json and orjson. Spark's JSON reader keeps duplicate keys in a map,
    and any function that builds a map from it would fail the whole job on them."""
    keys = F.map_keys(json_map)
    last = F.filter(
        F.map_entries(json_map),
        lambda entry, i: ~F.array_contains(F.slice(keys, i + 2, F.size(keys)), entry["key"]),
    )
    has_duplicates = F.size(F.array_distinct(keys)) < F.size(keys)
    return F.when(has_duplicates, F.map_from_entries(last)).otherwise(json_map)


# --- The JSON kind of each field, computed once --------------------------------


def _kind_column(name: str) -> str:
    return f"_kind_{name}"


def _number_column(name: str) -> str:
    return f"_number_{name}"


def with_json_kinds(folded: DataFrame) -> DataFrame:
    """`folded` plus, per field, its JSON kind and, for the rare non-long numbers, its
    value as a double, each computed once: the rules read them as columns. For a
    string field the kind is always needed (a number there parses to a string); for
    the others only when the typed parse gave null although the key is there.
    """
    extra: list[Column] = []
    for name in EVENT_FIELDS:
        if name == E.custom:
            continue
        kind = F.schema_of_variant(_variant(name))
        if _PROPERTIES[name]["type"] == "string":
            # Not suspect: every string field the typed parse filled is a JSON string.
            kind = F.when(F.col(SUSPECT), kind).when(typed_value(name).isNotNull(), F.lit(STRING_KIND))
        else:
            kind = F.when(typed_value(name).isNull() & is_present(name), kind)
        extra.append(kind.alias(_kind_column(name)))
        if _PROPERTIES[name]["type"] == "integer":
            unusual = typed_value(name).isNull() & is_present(name)
            number = F.when(unusual, F.try_variant_get(_variant(name), "$", "double"))
            extra.append(number.alias(_number_column(name)))
    return folded.select("*", *extra)


# --- Rules, one per keyword --------------------------------------------------------


@dataclass(frozen=True)
class _Value:
    """What the rules know about one field of the line (columns of with_json_kinds)."""

    name: str

    @property
    def typed(self) -> Column:
        return typed_value(self.name)

    @property
    def present(self) -> Column:
        return is_present(self.name)

    @property
    def kind(self) -> Column:
        return F.col(_kind_column(self.name))

    @property
    def is_string(self) -> Column:
        return F.coalesce(self.kind == STRING_KIND, F.lit(False))

    @property
    def is_number(self) -> Column:
        kind = self.kind
        return F.coalesce(kind.isin(INTEGER_KIND, "DOUBLE", "FLOAT") | kind.startswith("DECIMAL("), F.lit(False))

    @property
    def number(self) -> Column:
        """As a double, for values that are numbers but not longs (1.0, -2.5, 1e20)."""
        return F.col(_number_column(self.name))


@dataclass(frozen=True)
class Rule:
    """One check: the field it reports, its reason, and when it fires. A rule with
    `keys` reports one violation per key of custom, as "custom.<key>"."""

    field: str
    reason: Reason
    fires: Column
    keys: Column | None = None


def _reason(name: str, keyword: str) -> Reason:
    return _FIELD_REASONS.get((name, keyword)) or _KEYWORD_REASONS.get(keyword, Reason.invalid_value)


def _type_rule(value: _Value, kind: str) -> Column:
    """jsonschema's type keyword, with schemas.validate's integer: no 1.0, no bools.

    An integer field is a long column: a JSON integer beyond the long's range does
    not parse, so it is wrong_type, as orjson makes those above 2^64 floats (the
    validator's one difference: 2^63..2^64-1, an int to it, a too large long here)."""
    if kind == "string":
        return value.present & ~value.is_string
    if kind in ("integer", "boolean", "object"):
        return value.present & value.typed.isNull()
    raise ValueError(f"{value.name}: JSON type {kind!r} has no Spark rule")


def longer_than(text: Column, limit: int) -> Column:
    """More than `limit` characters (code points, as jsonschema counts them). A
    string's length in bytes is known without reading it and is never less than
    its length in characters, so the characters are counted only past `limit` bytes."""
    return (F.octet_length(text) > limit) & (F.length(text) > limit)


def shorter_than(text: Column, limit: int) -> Column:
    """Fewer than `limit` characters; counted only under 4 x `limit` bytes (UTF-8
    takes at most 4 bytes a character)."""
    return (F.octet_length(text) < 4 * limit) & (F.length(text) < limit)


def _equals(value: _Value, constant: Any) -> Column:
    """jsonschema's `equal`: numbers by value (1.0 equals 1), never a bool for a number."""
    if isinstance(constant, str):
        return value.is_string & (value.typed == F.lit(constant))
    if isinstance(constant, int) and not isinstance(constant, bool):
        if _PROPERTIES[value.name]["type"] != "integer":
            raise ValueError(f"{value.name}: an integer const on a non-integer field has no Spark rule")
        # The typed value when it parsed; else any JSON number, compared by value.
        return F.coalesce(value.typed == F.lit(constant), value.is_number & (value.number == float(constant)))
    raise ValueError(f"{value.name}: const {constant!r} has no Spark rule")


def _below(value: _Value, minimum: int) -> Column:
    """jsonschema's minimum: applies to any number (-1.5 in an integer field too)."""
    if _PROPERTIES[value.name]["type"] != "integer":
        raise ValueError(f"{value.name}: minimum on a non-integer field has no Spark rule")
    return F.coalesce(value.typed < F.lit(minimum), value.is_number & (value.number < float(minimum)))


def _field_rules(name: str, spec: Mapping[str, Any]) -> Iterator[Rule]:
    value = _Value(name)
    for keyword, argument in spec.items():
        if keyword in _IGNORED or (name == E.custom and keyword in _CUSTOM_KEYWORDS):
            continue
        reason = _reason(name, keyword)
        if keyword == "type":
            yield Rule(name, reason, _type_rule(value, argument))
        elif keyword == "enum":
            yield Rule(name, reason, value.present & ~(value.is_string & value.typed.isin(*argument)))
        elif keyword == "const":
            yield Rule(name, reason, value.present & ~F.coalesce(_equals(value, argument), F.lit(False)))
        elif keyword == "minimum":
            yield Rule(name, reason, value.present & _below(value, argument))
        elif keyword == "maxLength":
            yield Rule(name, reason, value.is_string & longer_than(value.typed, argument))
        elif keyword == "minLength":
            yield Rule(name, reason, value.is_string & shorter_than(value.typed, argument))
        elif keyword == "pattern":
            # jsonschema uses re.search; Java's find() is the same. (?d): only "\n" is
            # a line end, as in Python, so "$" matches the same places.
            yield Rule(name, reason, value.is_string & ~value.typed.rlike("(?d)" + argument))
        else:
            raise ValueError(f"{name}: keyword {keyword!r} has no Spark rule")


def _required_rules(names: list[str], *, when: Column | None = None) -> Iterator[Rule]:
    for name in names:
        missing = ~is_present(name)
        yield Rule(name, Reason.missing_field, missing if when is None else when & missing)


def _conditional_rules(branch: Mapping[str, Any]) -> Iterator[Rule]:
    """allOf: {"if": {"properties": {f: {"const"|"enum": ...}}, "required": [f]},
    "then": {"required": [...]}}: the error and ad events' extra fields."""
    condition = branch.get("if", {})
    if set(branch) - {"if", "then", "$comment"} or set(condition) != {"properties", "required"}:
        raise ValueError(f"allOf branch has no Spark rule: {branch}")
    if set(branch.get("then", {})) != {"required"}:
        raise ValueError(f"allOf branch has no Spark rule: {branch}")
    applies = F.lit(True)
    for name, spec in condition["properties"].items():
        value = _Value(name)
        if set(spec) == {"const"}:
            matches = _equals(value, spec["const"])
        elif set(spec) == {"enum"} and all(isinstance(v, str) for v in spec["enum"]):
            matches = value.is_string & value.typed.isin(*spec["enum"])
        else:
            raise ValueError(f"allOf condition on {name} has no Spark rule: {spec}")
        applies = applies & value.present & F.coalesce(matches, F.lit(False))
    for name in condition["required"]:
        applies = applies & is_present(name)
    yield from _required_rules(branch["then"]["required"], when=applies)


# --- custom: an object of string to string ---------------------------------------

_CUSTOM_KEYWORDS = {"maxProperties", "propertyNames", "additionalProperties"}


def _custom_rules(spec: Mapping[str, Any]) -> Iterator[Rule]:
    """custom's own keywords, on the folded custom (the line's unknown fields in it)."""
    folded = F.col(CUSTOM)
    if "maxProperties" in spec:
        yield Rule(E.custom, _reason(E.custom, "maxProperties"), F.size(folded) > spec["maxProperties"])
    names = dict(spec.get("propertyNames", {}))
    if set(names) - {"maxLength"}:
        raise ValueError(f"custom.propertyNames has no Spark rule: {names}")
    if "maxLength" in names:
        long_key = F.exists(F.map_keys(folded), lambda key: longer_than(key, names["maxLength"]))
        yield Rule(E.custom, Reason.string_too_long, long_key)
    values = dict(spec.get("additionalProperties", {}))
    if set(values) - {"type", "maxLength"} or values.get("type", "string") != "string":
        raise ValueError(f"custom.additionalProperties has no Spark rule: {values}")

    # The line's own custom values by JSON kind (moved unknown fields are strings).
    def not_a_string(_: Column, value: Column) -> Column:
        return F.schema_of_variant(value) != STRING_KIND

    own = F.col(OWN_VARIANTS)
    # No VARIANT map for a custom object: one of its values is an object with
    # duplicate keys. The values that are JSON objects or arrays are the suspects
    # (a string holding such JSON text too, in that rare case).
    # Not suspect: custom's values are all JSON strings, so no rule here fires.
    suspect = F.col(SUSPECT)
    lost = suspect & own.isNull() & F.col(OWN).isNotNull()
    looks_nested = F.map_keys(
        F.map_filter(F.col(OWN), lambda _, v: F.json_object_keys(v).isNotNull() | F.json_array_length(v).isNotNull())
    )
    not_strings = F.coalesce(
        F.when(lost, looks_nested).when(suspect, F.map_keys(F.map_filter(own, not_a_string))),
        F.array().cast("array<string>"),
    )
    if "type" in values:
        some = suspect & (lost | F.exists(F.map_values(own), lambda v: F.schema_of_variant(v) != STRING_KIND))
        yield Rule(f"{E.custom}.", _reason(E.custom, "type"), some, keys=not_strings)
    if "maxLength" in values:
        limit = values["maxLength"]
        too_long = F.array_except(F.map_keys(F.map_filter(folded, lambda _, v: longer_than(v, limit))), not_strings)
        long_value = F.exists(F.map_values(folded), lambda v: longer_than(v, limit))
        yield Rule(f"{E.custom}.", _reason(E.custom, "maxLength"), long_value & (F.size(too_long) > 0), keys=too_long)


def contract_rules(line_bytes: Column) -> list[Rule]:
    """Every rule of the JSON Schema, plus its one rule on the serialised size:
    `line_bytes` as received (player-events.md, Envelope, Limits: 16 KiB, in bytes).
    Reads the columns of parse_columns, fold_unknown_fields and with_json_kinds."""
    top = set(_SCHEMA) - _IGNORED - {"type", "x-limits", "required", "properties", "allOf", "additionalProperties"}
    if top or _SCHEMA["type"] != "object" or _SCHEMA.get("additionalProperties") is not False:
        raise ValueError(f"top-level keywords have no Spark rule: {sorted(top)}")
    # additionalProperties false: unknown fields never reach the rules, see fold_unknown_fields.
    rules = list(_required_rules(list(_SCHEMA["required"])))
    for name, spec in _PROPERTIES.items():
        rules.extend(_field_rules(name, spec))
    for branch in _SCHEMA.get("allOf", []):
        rules.extend(_conditional_rules(branch))
    rules.extend(_custom_rules(_PROPERTIES[E.custom]))
    collided = F.col(COLLISIONS)
    rules.append(Rule(f"{E.custom}.", Reason.invalid_value, F.size(collided) > 0, keys=collided))
    rules.append(Rule(WHOLE_FIELD, Reason.event_too_large, line_bytes > LIMITS.max_event_bytes))
    return rules


VIOLATION_TYPE = T.StructType([T.StructField("field", T.StringType()), T.StructField("reason", T.StringType())])
VIOLATIONS_TYPE = T.ArrayType(VIOLATION_TYPE)


def _violation(field: Column, reason: Reason) -> Column:
    return F.struct(field.alias("field"), F.lit(str(reason)).alias("reason"))


def any_fires(rules: list[Rule]) -> Column:
    """True when at least one rule fires; never null."""
    fired = F.lit(False)
    for rule in rules:
        fired = fired | F.coalesce(rule.fires, F.lit(False))
    return fired


def violations(rules: list[Rule]) -> Column:
    """array<struct<field, reason>> of the rules that fire: empty, never null, for a
    valid event; the array is built only for the (rare) lines that break a rule. A
    line that is not JSON or not an object gets that one reason, as in
    schemas.validate.check_line."""
    empty = F.array().cast(VIOLATIONS_TYPE)
    found = F.flatten(
        F.array(*(F.when(F.coalesce(rule.fires, F.lit(False)), _reported(rule)).otherwise(empty) for rule in rules))
    )
    return (
        F.when(is_malformed(), F.array(_violation(F.lit(WHOLE_FIELD), Reason.malformed_json)))
        .when(is_not_an_object(), F.array(_violation(F.lit(WHOLE_FIELD), Reason.not_an_object)))
        .when(any_fires(rules), found)
        .otherwise(empty)
    )


def _reported(rule: Rule) -> Column:
    """The violations one firing rule reports: one, or one per key of custom."""
    if rule.keys is None:
        return F.array(_violation(F.lit(rule.field), rule.reason))
    return F.transform(rule.keys, lambda key: _violation(F.concat(F.lit(rule.field), key), rule.reason))
