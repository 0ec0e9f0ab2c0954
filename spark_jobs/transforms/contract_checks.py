"""The player-event contract as Spark column expressions, derived from its JSON Schema.

`schemas/player_event.schema.json` is the only place the rules live. This module
walks it once, at import, and turns each keyword into a condition on parsed columns
that reports the same reason codes as the Python validator (`schemas.validate`), so
that the collector and bronze reject the same events for the same reasons (an
agreement test runs both over one table of vectors). A keyword that has no Spark
rule here fails the import: a rule is never silently left unenforced.

How a line is seen. A typed `from_json` turns a wrong-typed value into null,
indistinguishable from a missing one, and renders a JSON number in a string field as
its text, indistinguishable from a string. So each line is parsed twice, in one pass
of expressions (`parse_columns`):

- typed, with `schemas.tables.spark_event_schema()`, wrapped as `{"e": <line>, "z": 1}`:
  Spark's JSON reader stops after the first JSON value, so a line with trailing
  garbage (two objects glued together by a writer that forgot the newline) parses
  cleanly unless the sentinel `z` must come after it;
- as VARIANTs, one per contract field (`custom` as map<string, variant>): SQL null
  means absent, and `schema_of_variant` tells the JSON kind of what is there
  (STRING, BIGINT, DECIMAL(p,s), DOUBLE, BOOLEAN, OBJECT<...>, ARRAY<...>, VOID for
  null).

and its top-level keys are listed (`json_object_keys`) to find unknown fields.
Measured (1M events of ~700 bytes, local[2]): typed alone ~5.5 CPU-s, with the
variants and keys ~14.5; a map<string,string> view instead of the variants costs
about as much and cannot tell "12" from 12.
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

# The Python validator's keyword -> reason table: one mapping for both engines.
from schemas.validate import _KEYWORD_REASONS, Reason

# Internal column names (dropped by the transforms' closing selects).
PARSED = "_parsed"  # struct<e: typed event, z: sentinel>
VARIANTS = "_variants"  # struct of one VARIANT per contract field
KEYS = "_keys"  # array<string>: the line's top-level keys
CUSTOM = "_custom"  # custom after `fold_unknown_fields`
COLLISIONS = "_collisions"  # unknown keys already in custom
_UNKNOWN = "_unknown"

_EVENT = "e"
_SENTINEL = "z"
_WRAP_OPEN = '{"' + _EVENT + '":'
_WRAP_CLOSE = '\n,"' + _SENTINEL + '":1}'  # "\n" ends a trailing // comment, if any

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
_LONG_LIMIT = float(2**63)


def _variant_schema() -> T.StructType:
    custom = T.MapType(T.StringType(), T.VariantType())
    return T.StructType(
        [T.StructField(name, custom if name == E.custom else T.VariantType()) for name in EVENT_FIELDS]
    )


def parse_columns(line: Column) -> list[Column]:
    """The parsed views of one NDJSON line (see the module docstring), as named columns."""
    wrapped = F.concat(F.lit(_WRAP_OPEN), line, F.lit(_WRAP_CLOSE))
    typed = T.StructType(
        [T.StructField(_EVENT, spark_event_schema()), T.StructField(_SENTINEL, T.IntegerType())]
    )
    return [
        F.from_json(wrapped, typed).alias(PARSED),
        F.from_json(line, _variant_schema()).alias(VARIANTS),
        F.json_object_keys(line).alias(KEYS),
    ]


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
    """The key is on the line (with any value, JSON null included)."""
    if name == E.custom:
        # Parsed as a map to see its values' kinds, custom is SQL null when it is JSON
        # null or not an object: ask the key list instead.
        return F.array_contains(F.col(KEYS), name)
    return _variant(name).isNotNull()


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
    custom = typed_value(E.custom)
    has_unknown = F.exists(F.col(KEYS), lambda key: ~key.isin(*EVENT_FIELDS))
    as_text = F.from_json(F.col(line), "map<string,string>")
    unknown = F.transform_values(
        F.map_filter(as_text, lambda key, _: ~key.isin(*EVENT_FIELDS)),
        lambda _, text: F.coalesce(text, F.lit("null")),
    )
    with_unknown = parsed.select("*", F.when(has_unknown, unknown).alias(_UNKNOWN))
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


# --- Rules, one per keyword --------------------------------------------------------


@dataclass(frozen=True)
class _Value:
    """What the rules need to know about one field of the line."""

    name: str

    @property
    def typed(self) -> Column:
        return typed_value(self.name)

    @property
    def present(self) -> Column:
        return is_present(self.name)

    @property
    def kind(self) -> Column:
        return F.schema_of_variant(_variant(self.name))

    @property
    def is_string(self) -> Column:
        return self.kind == STRING_KIND

    @property
    def is_number(self) -> Column:
        kind = self.kind
        return kind.isin(INTEGER_KIND, "DOUBLE", "FLOAT") | kind.startswith("DECIMAL(")

    @property
    def number(self) -> Column:
        """As a double, for the rare values that are numbers but not longs (1.0, -2.5)."""
        return F.try_variant_get(_variant(self.name), "$", "double")

    @property
    def beyond_long(self) -> Column:
        """A JSON integer too large for the long column (|n| >= 2^63)."""
        return self.kind.like("DECIMAL(%,0)") & (F.abs(self.number) >= F.lit(_LONG_LIMIT))


@dataclass(frozen=True)
class Rule:
    """One check: the field it reports and its reason, and when it fires."""

    field: str
    reason: Reason
    fires: Column


def _reason(name: str, keyword: str) -> Reason:
    return _FIELD_REASONS.get((name, keyword)) or _KEYWORD_REASONS.get(keyword, Reason.invalid_value)


def _type_rule(value: _Value, kind: str) -> Column:
    """jsonschema's type keyword, with schemas.validate's integer: no 1.0, no bools."""
    if kind == "string":
        return value.present & ~value.is_string
    if kind == "integer":
        return value.present & value.typed.isNull() & ~value.beyond_long
    if kind in ("boolean", "object"):
        return value.present & value.typed.isNull()
    raise ValueError(f"{value.name}: JSON type {kind!r} has no Spark rule")


def _equals(value: _Value, constant: Any) -> Column:
    """jsonschema's `equal`: numbers by value (1.0 equals 1), never a bool for a number."""
    if isinstance(constant, str):
        return value.is_string & (value.typed == F.lit(constant))
    if isinstance(constant, int) and not isinstance(constant, bool):
        exact = value.typed == F.lit(constant) if _PROPERTIES[value.name]["type"] == "integer" else F.lit(False)
        return F.coalesce(exact, value.is_number & (value.number == F.lit(float(constant))))
    raise ValueError(f"{value.name}: const {constant!r} has no Spark rule")


def _below(value: _Value, minimum: int) -> Column:
    """jsonschema's minimum: applies to any number (-1.5 in an integer field too)."""
    by_long = value.typed < F.lit(minimum) if _PROPERTIES[value.name]["type"] == "integer" else F.lit(None)
    return F.coalesce(by_long, value.is_number & (value.number < F.lit(float(minimum))))


def _field_rules(name: str, spec: Mapping[str, Any]) -> Iterator[Rule]:
    value = _Value(name)
    for keyword, argument in spec.items():
        reason = _reason(name, keyword)
        if keyword in _IGNORED or (name == E.custom and keyword in _CUSTOM_KEYWORDS):
            continue
        if keyword == "type":
            yield Rule(name, reason, _type_rule(value, argument))
        elif keyword == "enum":
            yield Rule(name, reason, value.present & ~(value.is_string & value.typed.isin(*argument)))
        elif keyword == "const":
            yield Rule(name, reason, value.present & ~_equals(value, argument))
        elif keyword == "minimum":
            yield Rule(name, reason, value.present & _below(value, argument))
        elif keyword == "maxLength":
            yield Rule(name, reason, value.is_string & (F.length(value.typed) > argument))
        elif keyword == "minLength":
            yield Rule(name, reason, value.is_string & (F.length(value.typed) < argument))
        elif keyword == "pattern":
            # jsonschema uses re.search; Java's find() is the same. (?d): only "\n" is
            # a line end, as in Python, so "$" matches the same places.
            yield Rule(name, reason, value.is_string & ~value.typed.rlike("(?d)" + argument))
        else:
            raise ValueError(f"{name}: keyword {keyword!r} has no Spark rule")
    if spec.get("type") == "integer":
        # Beyond what the long column holds: the JSON Schema has no maximum, the lake does.
        yield Rule(name, Reason.out_of_range, value.present & value.typed.isNull() & value.beyond_long)


def _required_rules(names: list[str], *, when: Column | None = None) -> Iterator[Rule]:
    for name in names:
        missing = ~is_present(name)
        yield Rule(name, Reason.missing_field, missing if when is None else when & missing)


def _conditional_rules(branch: Mapping[str, Any]) -> Iterator[Rule]:
    """allOf: {"if": {"properties": {f: {"const"|"enum": ...}}, "required": [f]},
    "then": {"required": [...]}}: the error and ad events' extra fields."""
    unknown = set(branch) - {"if", "then", "$comment"}
    condition = branch["if"]
    if unknown or set(condition) != {"properties", "required"} or set(branch["then"]) != {"required"}:
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
        applies = applies & value.present & matches
    for name in condition["required"]:
        applies = applies & is_present(name)
    yield from _required_rules(branch["then"]["required"], when=applies)


# --- custom: an object of string to string ---------------------------------------

_CUSTOM_KEYWORDS = {"maxProperties", "propertyNames", "additionalProperties"}


def _custom_rules(spec: Mapping[str, Any]) -> tuple[list[Rule], list[Column]]:
    """Rules on the folded custom map; per-key rules give arrays of (field, reason)."""
    folded = F.col(CUSTOM)
    rules: list[Rule] = []
    per_key: list[Column] = []
    if "maxProperties" in spec:
        too_many = F.size(folded) > spec["maxProperties"]
        rules.append(Rule(E.custom, _reason(E.custom, "maxProperties"), too_many))
    names = dict(spec.get("propertyNames", {}))
    if set(names) - {"maxLength"}:
        raise ValueError(f"custom.propertyNames has no Spark rule: {names}")
    if "maxLength" in names:
        long_key = F.exists(F.map_keys(folded), lambda key: F.length(key) > names["maxLength"])
        rules.append(Rule(E.custom, Reason.string_too_long, long_key))
    values = dict(spec.get("additionalProperties", {}))
    if set(values) - {"type", "maxLength"} or values.get("type", "string") != "string":
        raise ValueError(f"custom.additionalProperties has no Spark rule: {values}")
    # The line's own custom values by JSON kind; moved unknown fields are strings.
    not_strings = F.map_keys(
        F.map_filter(_variant(E.custom), lambda _, v: F.schema_of_variant(v) != STRING_KIND)
    )
    if "type" in values:
        per_key.append(_keyed(not_strings, _reason(E.custom, "type")))
    if "maxLength" in values:
        too_long = F.map_keys(F.map_filter(folded, lambda _, v: F.length(v) > values["maxLength"]))
        per_key.append(_keyed(F.array_except(too_long, not_strings), _reason(E.custom, "maxLength")))
    return rules, per_key


def _keyed(keys: Column, reason: Reason) -> Column:
    """array<struct<field, reason>> with field "custom.<key>" for each key."""
    return F.coalesce(
        F.transform(keys, lambda key: _violation(F.concat(F.lit(f"{E.custom}."), key), reason)),
        F.array().cast(VIOLATIONS_TYPE),
    )


def _violation(field: Column, reason: Reason) -> Column:
    return F.struct(field.alias("field"), F.lit(str(reason)).alias("reason"))


VIOLATION_TYPE = T.StructType([T.StructField("field", T.StringType()), T.StructField("reason", T.StringType())])
VIOLATIONS_TYPE = T.ArrayType(VIOLATION_TYPE)


def _all_rules() -> tuple[list[Rule], list[Column]]:
    top = set(_SCHEMA) - _IGNORED - {"type", "x-limits", "required", "properties", "allOf", "additionalProperties"}
    if top or _SCHEMA["type"] != "object":
        raise ValueError(f"top-level keywords have no Spark rule: {sorted(top)}")
    # additionalProperties false: unknown fields never reach the rules, see fold_unknown_fields.
    rules = list(_required_rules(list(_SCHEMA["required"])))
    for name, spec in _PROPERTIES.items():
        rules.extend(_field_rules(name, spec))
    for branch in _SCHEMA.get("allOf", []):
        rules.extend(_conditional_rules(branch))
    custom_rules, per_key = _custom_rules(_PROPERTIES[E.custom])
    return rules + custom_rules, per_key


def contract_violations(line_bytes: Column) -> Column:
    """Every violation of the contract by the parsed line, as array<struct<field,
    reason>>; empty for a valid event, never null.

    `line_bytes` is the serialised size as received (player-events.md, Envelope,
    Limits: 16 KiB, in bytes). Needs the columns of `parse_columns` and
    `fold_unknown_fields`. A line that is not JSON or not an object gets that one reason, as in
    schemas.validate.check_line.
    """
    rules, per_key = _all_rules()
    too_large = line_bytes > LIMITS.max_event_bytes
    scalar = [F.when(rule.fires, _violation(F.lit(rule.field), rule.reason)) for rule in rules]
    scalar.append(F.when(too_large, _violation(F.lit(WHOLE_FIELD), Reason.event_too_large)))
    event_rules = F.concat(
        F.array_compact(F.array(*scalar)),
        *per_key,
        _keyed(F.col(COLLISIONS), Reason.invalid_value),
    )
    return (
        F.when(is_malformed(), F.array(_violation(F.lit(WHOLE_FIELD), Reason.malformed_json)))
        .when(is_not_an_object(), F.array(_violation(F.lit(WHOLE_FIELD), Reason.not_an_object)))
        .otherwise(event_rules)
    )
