package io.ottlake.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.unsafe.types.UTF8String;
import org.junit.jupiter.api.Test;

/**
 * EventCheck on a small rulebook of its own (the contract's is checked against the
 * Python validator by tests/unit/test_bronze_contract.py): types, required fields,
 * null read as absent, unknown fields into custom, the result's type.
 */
class EventCheckTest {
  private static final String SCHEMA = "{\"type\": \"object\", \"additionalProperties\": false,"
      + " \"x-limits\": {\"max_event_bytes\": 1000},"
      + " \"required\": [\"id\", \"ts\"],"
      + " \"properties\": {"
      + "   \"id\": {\"type\": \"string\", \"minLength\": 1},"
      + "   \"ts\": {\"type\": \"integer\", \"minimum\": 0},"
      + "   \"sent\": {\"type\": [\"integer\", \"null\"], \"minimum\": 0},"
      + "   \"received\": {\"type\": [\"integer\", \"null\"], \"minimum\": 0},"
      + "   \"cdn\": {\"type\": [\"string\", \"null\"], \"maxLength\": 8},"
      + "   \"fatal\": {\"type\": [\"boolean\", \"null\"]},"
      + "   \"custom\": {\"type\": [\"object\", \"null\"], \"maxProperties\": 3,"
      + "     \"propertyNames\": {\"maxLength\": 8}, \"additionalProperties\": {\"type\": \"string\", \"maxLength\": 8}}"
      + " }}";
  private static final String RULEBOOK = "{\"schema\": " + SCHEMA + ","
      + " \"keyword_reasons\": {\"type\": \"wrong_type\", \"minimum\": \"out_of_range\", \"maxLength\": \"string_too_long\","
      + "   \"minLength\": \"empty_string\", \"maxProperties\": \"too_many_custom_keys\", \"propertyNames\": \"string_too_long\"},"
      + " \"field_reasons\": {}, \"default_reason\": \"invalid_value\","
      + " \"reasons\": {\"malformed\": \"malformed_json\", \"not_an_object\": \"not_an_object\","
      + "   \"too_large\": \"event_too_large\", \"missing\": \"missing_field\", \"collision\": \"invalid_value\"},"
      + " \"time\": {\"event_ts\": \"ts\", \"sent_ts\": \"sent\", \"received_ts\": \"received\","
      + "   \"future_tolerance_ms\": 300000, \"max_lateness_ms\": 259200000,"
      + "   \"min_event_time_ms\": -62135596800000, \"max_event_time_ms\": 253402300799999,"
      + "   \"future\": \"future_timestamp\", \"late\": \"too_late\", \"unreadable\": \"out_of_range\"}}";
  private static final EventCheck CHECK = new EventCheck(RULEBOOK);
  private static final StructType TYPE = (StructType) CHECK.resultType(DataTypes.StringType, DataTypes.LongType);

  private static InternalRow check(String line) {
    return (InternalRow) CHECK.apply(UTF8String.fromString(line), 1_000L);
  }

  private static List<String> violations(InternalRow row) {
    ArrayData found = row.getArray(TYPE.fieldIndex("violations"));
    List<String> out = new ArrayList<>();
    for (int i = 0; i < found.numElements(); i++) {
      InternalRow violation = found.getStruct(i, 2);
      out.add(violation.getUTF8String(0) + ":" + violation.getUTF8String(1));
    }
    return out;
  }

  @Test
  void theResultTypeFollowsTheSchema() {
    assertEquals(List.of("id", "ts", "sent", "received", "cdn", "fatal", "custom", "event_time_ms", "violations",
        "rejected_line"), List.of(TYPE.fieldNames()));
    assertEquals(DataTypes.LongType, TYPE.apply("ts").dataType());
    assertEquals(DataTypes.createMapType(DataTypes.StringType, DataTypes.StringType), TYPE.apply("custom").dataType());
    assertEquals(false, TYPE.apply("violations").nullable());
  }

  @Test
  void aValidLineIsTypedAndTimed() {
    InternalRow row = check("{\"id\": \"a\", \"ts\": 900, \"cdn\": \"x\", \"fatal\": true}");
    assertEquals(List.of(), violations(row));
    assertEquals("a", row.getUTF8String(TYPE.fieldIndex("id")).toString());
    assertEquals(1_000L, row.getLong(TYPE.fieldIndex("received"))); // the raw object's time
    assertEquals(900L, row.getLong(TYPE.fieldIndex("event_time_ms")));
    assertNull(row.get(TYPE.fieldIndex("rejected_line"), DataTypes.BinaryType));
  }

  @Test
  void nullIsReadAsAbsent() {
    InternalRow optional = check("{\"id\": \"a\", \"ts\": 900, \"cdn\": null, \"custom\": null, \"fatal\": null}");
    assertEquals(List.of(), violations(optional));
    assertEquals(true, optional.isNullAt(TYPE.fieldIndex("cdn")));
    assertEquals(List.of("ts:missing_field"), violations(check("{\"id\": \"a\", \"ts\": null}")));
    assertEquals(List.of("cdn:string_too_long"), violations(check("{\"id\": \"a\", \"ts\": 1, \"cdn\": null, "
        + "\"cdn\": \"longer than 8\"}")));
  }

  @Test
  void everyViolationIsReportedAndTheLineKept() {
    String line = "{\"id\": \"\", \"ts\": \"x\", \"sent\": -1, \"page\": \"home\"}";
    InternalRow row = check(line);
    assertEquals(List.of("id:empty_string", "ts:wrong_type", "sent:out_of_range"), violations(row));
    assertEquals(line, new String((byte[]) row.get(TYPE.fieldIndex("rejected_line"), DataTypes.BinaryType),
        StandardCharsets.UTF_8));
    assertEquals(List.of(":malformed_json"), violations(check("{\"id\": ")));
  }

  @Test
  void aRulebookWithAKeywordWithoutARuleIsRefused() {
    String formats = RULEBOOK.replace("\"minLength\": 1}", "\"minLength\": 1, \"format\": \"email\"}");
    IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> new EventCheck(formats));
    assertEquals("id: keyword format \"email\" has no rule in EventCheck", refused.getMessage());
  }
}
