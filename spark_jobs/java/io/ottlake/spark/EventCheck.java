package io.ottlake.spark;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.base.ParserBase;
import com.fasterxml.jackson.core.io.SerializedString;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.util.ArrayBasedMapData;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.sql.catalyst.util.GenericArrayData;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.unsafe.Platform;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * Bronze's whole check of one raw NDJSON line, in one pass of Jackson's streaming
 * parser: a Spark SQL function of the line, {@code ottlake_event_check(line, object_ts_ms,
 * rulebook)} (a KernelExpression registered by OttlakeExtensions; the rulebook, a
 * string literal, is made by spark_jobs/transforms/contract_checks.py).
 *
 * <p>The rules are not written here. The constructor takes a rulebook (JSON): the
 * contract's JSON Schema (schemas/player_event.schema.json) and the reason code of
 * each keyword (schemas/validate.py's tables), and walks the schema once; a keyword
 * it has no rule for is refused there, so a rule is never silently left unenforced.
 * The result agrees with the Python validator (schemas.validate.check_line, after the
 * unknown-field rule) on every test vector of tests/unit/test_bronze_contract.py:
 *
 * <ul>
 *   <li>the line (less a trailing CR or LF) must be exactly one JSON value, strict
 *       RFC 8259 as orjson reads it (no NaN, no single quotes, nothing after the
 *       value), else malformed_json alone; a value that is not an object gives
 *       not_an_object alone;
 *   <li>a key given twice counts once, with its last value (Python's dict);
 *   <li>a contract field that is JSON null is absent (player-events.md, Envelope): each
 *       optional field's schema type admits null, each required one's does not
 *       (checked when the schema is walked), so a null required field is missing_field;
 *   <li>integer: a JSON integer that fits a long (1.0 and true are not integers);
 *       minimum and const compare any number by value (-1.5 is below 0, 1.0 equals 1);
 *   <li>lengths are counted in code points; a pattern is searched (Python's
 *       re.search) with only "\n" as a line end, as Python's "$" has it;
 *   <li>unknown top-level fields move into custom (player-events.md, Envelope): a
 *       string as it is, any other value as compact JSON text (numbers as written on
 *       the line); an unknown key already in custom is invalid_value on
 *       custom.&lt;key&gt; and does not move; custom's limits are checked after the move;
 *   <li>the size limit is on the bytes as received.
 * </ul>
 *
 * <p>The function takes the line and its raw object's write time (epoch ms), for
 * the time rules of player-events.md, Time, which ingest decides (TimeRules; the
 * rulebook's "time" gives their limits). The result, by position: each property of
 * the schema, in the schema's order, typed (integer: Long, string: UTF8String, boolean:
 * Boolean, object: map data of strings, custom with the unknown fields moved
 * in), null when absent or not of its type, received_ts filled from the object's
 * time when the line has none; then the derived event time (epoch ms; null when
 * it cannot be derived or no reader could hold it), the violations, a list of
 * (field, reason), empty for a valid event, and the line itself when it has a
 * violation (null otherwise: only the quarantine keeps it).
 *
 * <p>Where it may differ from orjson, on purpose or not: integers of 2^63..2^64-1
 * are ints to orjson but do not fit the lake's long columns (wrong_type here; the
 * tests' DIVERGENCES); a nested object moved from an unknown field keeps a repeated
 * key twice in its text (nothing is lost).
 */
public final class EventCheck implements KernelExpression.Kernel {
  private static final long serialVersionUID = 1L;

  // One compiled contract per rulebook text and JVM: the executors rebuild it once.
  private static final Map<String, Contract> CONTRACTS = new ConcurrentHashMap<>();
  // orjson's limits: nesting up to 1024 deep, numbers and strings of any length.
  private static final JsonFactory JSON = JsonFactory.builder()
      .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(1024)
          .maxNumberLength(Integer.MAX_VALUE).maxStringLength(Integer.MAX_VALUE).build())
      .build();

  private final String rulebook;
  private transient Contract contract;

  /** Compiles the rulebook now, so that a bad one fails where the function is made. */
  public EventCheck(String rulebook) {
    this.rulebook = rulebook;
    this.contract = CONTRACTS.computeIfAbsent(rulebook, Contract::compile);
  }

  /**
   * The check of one line (a UTF8String), from a raw object written at `objectTsMs` (a
   * Long, or null), as Spark's internal row of the check's type (strings as UTF8String,
   * custom as map data): KernelExpression returns it as it is.
   */
  @Override
  public Object apply(Object line, Object objectTsMs) {
    if (contract == null) {
      contract = CONTRACTS.computeIfAbsent(rulebook, Contract::compile);
    }
    return contract.check(((UTF8String) line).getBytes(), (Long) objectTsMs);
  }

  /**
   * The check's type: each property of the schema, in order, as its column (string,
   * long, boolean, a map of strings for the object field), nullable; then
   * event_time_ms (long), violations (an array of (field, reason), never null) and
   * rejected_line (binary). spark_jobs/transforms/contract_checks.py reads it by name.
   */
  @Override
  public DataType resultType(DataType line, DataType objectTsMs) {
    if (contract == null) {
      contract = CONTRACTS.computeIfAbsent(rulebook, Contract::compile);
    }
    StructType type = new StructType();
    for (Field field : contract.fields) {
      type = type.add(field.name, columnType(field.type), true);
    }
    StructType violation = new StructType().add("field", DataTypes.StringType).add("reason", DataTypes.StringType);
    return type.add("event_time_ms", DataTypes.LongType, true)
        .add("violations", DataTypes.createArrayType(violation), false)
        .add("rejected_line", DataTypes.BinaryType, true);
  }

  private static DataType columnType(int kind) {
    switch (kind) {
      case STRING:
        return DataTypes.StringType;
      case INTEGER:
        return DataTypes.LongType;
      case BOOLEAN:
        return DataTypes.BooleanType;
      default:
        return DataTypes.createMapType(DataTypes.StringType, DataTypes.StringType);
    }
  }

  /** Two checks are the same when their rulebooks are (a plan's expressions compare by them). */
  @Override
  public boolean equals(Object other) {
    return other instanceof EventCheck && ((EventCheck) other).rulebook.equals(rulebook);
  }

  @Override
  public int hashCode() {
    return rulebook.hashCode();
  }

  @Override
  public String toString() {
    return "EventCheck(a rulebook of " + rulebook.length() + " characters)";
  }

  // After the contract's fields, by position: event_time_ms, violations, the line when rejected.
  static final int EVENT_TIME = 0, VIOLATIONS = 1, REJECTED = 2, EXTRA = 3;

  // --- The JSON kinds a value can have -------------------------------------------------

  static final int ABSENT = 0, STRING = 1, INTEGER = 2, BIG_INTEGER = 3, FLOAT = 4, BOOLEAN = 5,
      NULL = 6, OBJECT = 7, ARRAY = 8;

  /**
   * The last value of one known field, as read from the line. A string is kept as
   * Spark holds it (`utf8`); when it is plain ASCII on the line (no escape, no control
   * character), that is a slice of the line itself and `text` is made only if a rule
   * asks for it. In the check of 1M lines, Jackson's String of each value and its
   * encoding back to UTF-8 were ~12% of the samples.
   */
  static final class Value {
    int kind = ABSENT;
    UTF8String utf8;
    String text; // the string as Java's, once made (always, when the value is not plain ASCII)
    boolean ascii; // utf8 is a slice of plain ASCII: its bytes are its code points
    long integer;
    double number;
    BigInteger big;
    boolean bool;
    LinkedHashMap<String, String> entries; // custom's, when an object: null value = not a string

    String text() {
      if (text == null) {
        text = utf8.toString();
      }
      return text;
    }
  }

  // --- Rules ------------------------------------------------------------------------

  interface FieldRule {
    /** True when the field's value breaks the rule (the value is present). */
    boolean breaks(Value value);
  }

  static final class Rule {
    final String reason;
    final FieldRule test;

    Rule(String reason, FieldRule test) {
      this.reason = reason;
      this.test = test;
    }
  }

  static final class Field {
    final String name;
    final SerializedString quoted; // the name as Jackson matches it on the line, byte for byte
    final int index;
    final int type;
    final List<Rule> rules = new ArrayList<>();
    // The known field that followed this one on the last line that had both (a hint
    // shared by the JVM's tasks: see Contract.check).
    volatile Field next;

    Field(String name, int index, int type) {
      this.name = name;
      this.quoted = new SerializedString(name);
      this.index = index;
      this.type = type;
    }

    /** The value as its column type, or null. */
    Object typed(Value value) {
      if (value.kind != type) {
        return null;
      }
      switch (type) {
        case STRING:
          return value.utf8;
        case INTEGER:
          return value.integer;
        case BOOLEAN:
          return value.bool;
        default:
          return null; // objects: the custom field, filled by check()
      }
    }
  }

  /** allOf: if every condition holds (and its required fields are there), then these are required. */
  static final class Conditional {
    final Map<Field, FieldRule> conditions = new LinkedHashMap<>(); // each property's test in `if`
    final List<Field> ifRequired = new ArrayList<>();
    final List<Field> thenRequired = new ArrayList<>();
  }

  /**
   * player-events.md, Time, decided at ingest (the rulebook's "time"): received_ts
   * is the line's, else the raw object's write time; the derived event time is
   * received_ts + (event_ts - sent_ts) when sent_ts is there (the device clock's
   * error cancels out), else event_ts; an offset event_time - received_ts beyond the
   * window is quarantined, and so is a time no reader of the lake could hold. Only
   * checked when the three time fields themselves are valid.
   */
  static final class TimeRules {
    Field eventTs, sentTs, receivedTs;
    long futureToleranceMs, maxLatenessMs, minEventTimeMs, maxEventTimeMs;
    String future, late, unreadable;

    /** Fills received_ts in `row`, reports into `found`; the event time (epoch ms) or null. */
    Long judge(Object[] row, Long objectTsMs, List<Violation> found) {
      Long eventTs = (Long) row[this.eventTs.index];
      Long sentTs = (Long) row[this.sentTs.index];
      Long received = (Long) row[receivedTs.index];
      if (received == null) {
        received = objectTsMs;
        row[receivedTs.index] = received;
      }
      Long offset = minus(eventTs, sentTs != null ? sentTs : received);
      Long eventTime = offset == null || received == null ? null : plus(received, offset);
      if (eventTime != null && (eventTime < minEventTimeMs || eventTime > maxEventTimeMs)) {
        eventTime = null;
      }
      if (offset == null || !timesValid(found)) {
        return eventTime;
      }
      if (offset > futureToleranceMs) {
        found.add(violation(this.eventTs.name, future));
      } else if (offset < -maxLatenessMs) {
        found.add(violation(this.eventTs.name, late));
      } else if (eventTime == null) {
        found.add(violation(receivedTs.name, unreadable));
      }
      return eventTime;
    }

    private boolean timesValid(List<Violation> found) {
      for (Violation violation : found) {
        String field = violation.field;
        if (field.equals(eventTs.name) || field.equals(sentTs.name) || field.equals(receivedTs.name)) {
          return false;
        }
      }
      return true;
    }

    private static Long minus(Long a, Long b) {
      if (a == null || b == null) {
        return null;
      }
      long difference = a - b;
      return ((a ^ b) & (a ^ difference)) < 0 ? null : difference; // null on overflow
    }

    private static Long plus(long a, long b) {
      long sum = a + b;
      return ((a ^ sum) & (b ^ sum)) < 0 ? null : sum; // null on overflow
    }
  }

  static final class Contract {
    final Field[] fields;
    final Map<String, Field> byName = new HashMap<>();
    volatile Field first; // the first field of the last line (Field.next)
    final List<Field> required = new ArrayList<>();
    final List<Conditional> conditionals = new ArrayList<>();
    Field custom;
    int customMaxKeys = -1, customKeyMaxLength = -1, customValueMaxLength = -1;
    boolean customValuesAreStrings;
    String customKeysReason, customCountReason, customTypeReason, customLengthReason;
    long maxEventBytes;
    String malformed, notAnObject, tooLarge, missing, collision;
    TimeRules time;

    private Contract(int size) {
      fields = new Field[size];
    }

    static Contract compile(String rulebookText) {
      JsonNode book;
      try {
        book = new ObjectMapper().readTree(rulebookText);
      } catch (IOException e) {
        throw new IllegalArgumentException("the rulebook is not JSON: " + e.getMessage(), e);
      }
      return new Compiler(book).compile();
    }

    InternalRow check(byte[] line, Long objectTsMs) {
      int end = line.length;
      while (end > 0 && (line[end - 1] == '\n' || line[end - 1] == '\r')) {
        end--;
      }
      if (!plainUtf8(line, end) || badSurrogateEscape(line, end)) {
        return whole(line, malformed);
      }
      Value[] values = new Value[fields.length];
      LinkedHashMap<String, String> unknown = null;
      try (JsonParser parser = JSON.createParser(line, 0, end)) {
        JsonToken token = parser.nextToken();
        if (token == null) {
          return whole(line, malformed);
        }
        if (token != JsonToken.START_OBJECT) {
          skip(parser, token);
          return whole(line, parser.nextToken() == null ? notAnObject : malformed);
        }
        // Lines of one producer list their fields in one order: the field expected next
        // (the one that followed the last field read, on an earlier line) is matched
        // against the line's bytes by Jackson (nextFieldName), without decoding and
        // looking up the name; any other name is read and looked up as usual. The
        // hints only decide which comparison runs first, never what is read. In the
        // check of 1M lines, the names' decoding and lookup were ~13% of the samples.
        Field previous = null;
        Field expected = first;
        while (true) {
          Field field;
          String name;
          if (expected != null && parser.nextFieldName(expected.quoted)) {
            field = expected;
            name = field.name;
          } else {
            token = expected != null ? parser.currentToken() : parser.nextToken();
            if (token != JsonToken.FIELD_NAME) {
              break;
            }
            name = parser.currentName();
            field = byName.get(name);
          }
          if (field != null) {
            learn(previous, field);
          }
          previous = field;
          expected = field == null ? null : field.next;
          token = parser.nextToken();
          if (field != null && token == JsonToken.VALUE_NULL) {
            // player-events.md, Envelope (clarified 2026-12-07): a field that is null is
            // read as absent (the last value of a repeated key wins, as elsewhere); a
            // required one is then missing_field, as schemas.validate.without_nulls reads it.
            values[field.index] = null;
          } else if (field != null) {
            Value value = values[field.index];
            if (value == null) {
              value = values[field.index] = new Value();
            }
            read(parser, token, value, field == custom, line);
          } else {
            if (unknown == null) {
              unknown = new LinkedHashMap<>();
            }
            unknown.put(name, token == JsonToken.VALUE_STRING ? parser.getText() : compact(parser, token));
          }
        }
        if (parser.nextToken() != null) {
          return whole(line, malformed);
        }
      } catch (IOException | RuntimeException e) {
        return whole(line, malformed);
      }
      return judge(line, objectTsMs, values, unknown, end);
    }

    /** Remembers that `field` followed `previous` (the line's first field when null); written only on a change. */
    private void learn(Field previous, Field field) {
      if (previous == null) {
        if (first != field) {
          first = field;
        }
      } else if (previous.next != field) {
        previous.next = field;
      }
    }

    private InternalRow judge(byte[] line, Long objectTsMs, Value[] values, LinkedHashMap<String, String> unknown,
        int size) {
      List<Violation> found = new ArrayList<>(0);
      for (Field field : required) {
        if (values[field.index] == null) {
          found.add(violation(field.name, missing));
        }
      }
      for (Field field : fields) {
        Value value = values[field.index];
        if (value != null) {
          for (Rule rule : field.rules) {
            if (rule.test.breaks(value)) {
              found.add(violation(field.name, rule.reason));
            }
          }
        }
      }
      for (Conditional branch : conditionals) {
        if (applies(branch, values)) {
          for (Field field : branch.thenRequired) {
            if (values[field.index] == null) {
              found.add(violation(field.name, missing));
            }
          }
        }
      }
      Map<String, String> folded = foldCustom(values, unknown, found);
      if (folded != null) {
        checkCustom(folded, found);
      }
      if (size > maxEventBytes) {
        found.add(violation("", tooLarge));
      }
      Object[] row = new Object[fields.length + EXTRA];
      for (Field field : fields) {
        Value value = values[field.index];
        row[field.index] = field == custom ? mapData(folded) : value == null ? null : field.typed(value);
      }
      row[fields.length + EVENT_TIME] = time.judge(row, objectTsMs, found);
      row[fields.length + VIOLATIONS] = violations(found);
      row[fields.length + REJECTED] = found.isEmpty() ? null : line;
      return new GenericInternalRow(row);
    }

    private boolean applies(Conditional branch, Value[] values) {
      for (Field field : branch.ifRequired) {
        if (values[field.index] == null) {
          return false;
        }
      }
      for (Map.Entry<Field, FieldRule> condition : branch.conditions.entrySet()) {
        Value value = values[condition.getKey().index];
        // if/properties: an absent property passes (the branch's `required` decides).
        if (value != null && condition.getValue().breaks(value)) {
          return false;
        }
      }
      return true;
    }

    /**
     * custom with the unknown fields moved in (Envelope: "Unknown fields are kept in
     * custom"), or null when custom is neither an object nor made of unknown fields.
     * A collision is reported into `found`.
     */
    private Map<String, String> foldCustom(Value[] values, Map<String, String> unknown, List<Violation> found) {
      Value own = values[custom.index];
      if (unknown == null) {
        return own != null && own.kind == OBJECT ? own.entries : null;
      }
      if (own == null) {
        return unknown;
      }
      if (own.kind != OBJECT) {
        return null; // quarantined for custom's type; the raw line keeps everything
      }
      LinkedHashMap<String, String> merged = new LinkedHashMap<>(own.entries);
      for (Map.Entry<String, String> entry : unknown.entrySet()) {
        if (own.entries.containsKey(entry.getKey())) {
          found.add(violation(custom.name + "." + entry.getKey(), collision));
        } else {
          merged.put(entry.getKey(), entry.getValue());
        }
      }
      return merged;
    }

    private void checkCustom(Map<String, String> folded, List<Violation> found) {
      if (customMaxKeys >= 0 && folded.size() > customMaxKeys) {
        found.add(violation(custom.name, customCountReason));
      }
      if (customKeyMaxLength >= 0) {
        for (String key : folded.keySet()) {
          if (longer(key, customKeyMaxLength)) {
            found.add(violation(custom.name, customKeysReason));
            break;
          }
        }
      }
      for (Map.Entry<String, String> entry : folded.entrySet()) {
        String text = entry.getValue();
        if (text == null) {
          if (customValuesAreStrings) {
            found.add(violation(custom.name + "." + entry.getKey(), customTypeReason));
          }
        } else if (customValueMaxLength >= 0 && longer(text, customValueMaxLength)) {
          found.add(violation(custom.name + "." + entry.getKey(), customLengthReason));
        }
      }
    }

    private InternalRow whole(byte[] line, String reason) {
      Object[] row = new Object[fields.length + EXTRA];
      row[fields.length + VIOLATIONS] = violations(Collections.singletonList(violation("", reason)));
      row[fields.length + REJECTED] = line;
      return new GenericInternalRow(row);
    }
  }

  /**
   * A pattern made only of runs of ASCII character sets between "^" and "$", such as
   * the schema's UUID ({@code ^[0-9a-fA-F]{8}-...$}) and country ({@code ^[A-Z]{2}$}):
   * matched by a test of each character against its set, where java.util.regex made
   * a Matcher and walked its nodes for each value (the UUID check was ~4% of the
   * check's samples at 3M events). The same answers as re.search: "^" without
   * MULTILINE anchors at the start, and "$" matches at the end or before a final "\n".
   * {@link #parse} gives null for any other pattern (escapes, groups, alternation,
   * open repetition, negated sets, flags), which then goes to java.util.regex.
   */
  static final class FixedShape {
    private final boolean[][] allowed; // per position: which ASCII characters may be there

    private FixedShape(boolean[][] allowed) {
      this.allowed = allowed;
    }

    boolean matches(String text) {
      int length = text.length();
      if (length == allowed.length + 1 && text.charAt(allowed.length) == '\n') {
        length = allowed.length;
      }
      if (length != allowed.length) {
        return false;
      }
      for (int i = 0; i < length; i++) {
        char c = text.charAt(i);
        if (c >= 128 || !allowed[i][c]) {
          return false;
        }
      }
      return true;
    }

    /** The same answer for a plain ASCII value (Value.ascii): one byte a character, no line end. */
    boolean matches(UTF8String ascii) {
      if (ascii.numBytes() != allowed.length) {
        return false;
      }
      for (int i = 0; i < allowed.length; i++) {
        if (!allowed[i][ascii.getByte(i)]) { // ASCII: 0..127
          return false;
        }
      }
      return true;
    }

    static FixedShape parse(String source) {
      if (source.length() < 2 || source.charAt(0) != '^' || source.charAt(source.length() - 1) != '$') {
        return null;
      }
      List<boolean[]> positions = new ArrayList<>();
      int i = 1, end = source.length() - 1;
      while (i < end) {
        boolean[] set = new boolean[128];
        char c = source.charAt(i);
        if (c == '[') {
          int close = source.indexOf(']', i + 1);
          if (close < 0 || close >= end || !ranges(source.substring(i + 1, close), set)) {
            return null;
          }
          i = close + 1;
        } else if (Character.isLetterOrDigit(c) && c < 128 || c == '-' || c == '_' || c == ':') {
          set[c] = true;
          i++;
        } else {
          return null; // a metacharacter, an escape or non-ASCII: not a fixed shape
        }
        int count = 1;
        if (i < end && source.charAt(i) == '{') {
          int close = source.indexOf('}', i + 1);
          if (close < 0 || close >= end) {
            return null;
          }
          String digits = source.substring(i + 1, close);
          if (digits.isEmpty() || digits.length() > 4 || !digits.chars().allMatch(d -> d >= '0' && d <= '9')) {
            return null; // {m,n} and the like: not fixed
          }
          count = Integer.parseInt(digits);
          i = close + 1;
        }
        for (int k = 0; k < count; k++) {
          positions.add(set);
        }
      }
      return new FixedShape(positions.toArray(new boolean[0][]));
    }

    /** The body of "[...]": ASCII letters and digits, and ranges of them (a-f); false otherwise. */
    private static boolean ranges(String body, boolean[] set) {
      if (body.isEmpty()) {
        return false;
      }
      for (int j = 0; j < body.length(); j++) {
        char low = body.charAt(j);
        if (!(low < 128 && Character.isLetterOrDigit(low))) {
          return false;
        }
        char high = low;
        if (j + 2 < body.length() && body.charAt(j + 1) == '-') {
          high = body.charAt(j + 2);
          if (!(high < 128 && Character.isLetterOrDigit(high)) || high < low) {
            return false;
          }
          j += 2;
        }
        for (char c = low; c <= high; c++) {
          set[c] = true;
        }
      }
      return true;
    }
  }

  /** One (field, reason) a line breaks; "" is the whole event. */
  static final class Violation {
    final String field, reason;

    Violation(String field, String reason) {
      this.field = field;
      this.reason = reason;
    }
  }

  static Violation violation(String field, String reason) {
    return new Violation(field, reason);
  }

  /** The violations as the check type's array of (field, reason) structs. */
  static ArrayData violations(List<Violation> found) {
    Object[] structs = new Object[found.size()];
    for (int i = 0; i < structs.length; i++) {
      Violation violation = found.get(i);
      structs[i] = new GenericInternalRow(
          new Object[] {UTF8String.fromString(violation.field), UTF8String.fromString(violation.reason)});
    }
    return new GenericArrayData(structs);
  }

  /** A map of strings (a null value stays null) as map data, keeping its order; null for null. */
  static ArrayBasedMapData mapData(Map<String, String> map) {
    if (map == null) {
      return null;
    }
    Object[] keys = new Object[map.size()];
    Object[] values = new Object[keys.length];
    int i = 0;
    for (Map.Entry<String, String> entry : map.entrySet()) {
      keys[i] = UTF8String.fromString(entry.getKey());
      values[i++] = entry.getValue() == null ? null : UTF8String.fromString(entry.getValue());
    }
    return new ArrayBasedMapData(new GenericArrayData(keys), new GenericArrayData(values));
  }

  /** Whether `text` is one of `options` (UTF-8 bytes each). */
  static boolean oneOf(UTF8String text, byte[][] options) {
    for (byte[] option : options) {
      if (sameBytes(text, option)) {
        return true;
      }
    }
    return false;
  }

  /** Whether `text` is exactly the bytes `other` (Arrays.equals: an intrinsic, where UTF8String.equals is a loop). */
  static boolean sameBytes(UTF8String text, byte[] other) {
    if (text.numBytes() != other.length) {
      return false;
    }
    if (!(text.getBaseObject() instanceof byte[])) {
      return text.equals(UTF8String.fromBytes(other));
    }
    int from = (int) (text.getBaseOffset() - Platform.BYTE_ARRAY_OFFSET);
    return Arrays.equals((byte[]) text.getBaseObject(), from, from + other.length, other, 0, other.length);
  }

  /** More than `limit` code points (a UTF-16 length never undercounts them). */
  static boolean longer(String text, int limit) {
    return text.length() > limit && text.codePointCount(0, text.length()) > limit;
  }

  static int codePoints(String text) {
    return text.codePointCount(0, text.length());
  }

  /**
   * The string value at the parser's token as a slice of `line` (no copy), when it is
   * written on the line as plain ASCII: no escape, no control character, no byte of
   * a multi-byte character; null otherwise (Jackson then decodes it: getText). Such a
   * string's bytes are exactly its characters, so each rule reads the same value
   * either way. Jackson still skips (and checks) the string on its next token. The
   * slice shares the line's bytes: the check's row is written out (an UnsafeRow)
   * before the next line is read.
   */
  static UTF8String plainAscii(JsonParser parser, byte[] line) {
    if (!(parser instanceof ParserBase)) {
      return null;
    }
    // Where the string's characters begin (the byte after its opening quote, for
    // Jackson's UTF-8 parser over an array from 0); checked, not assumed.
    long offset = ((ParserBase) parser).getTokenCharacterOffset();
    if (offset < 1 || offset > line.length || line[(int) offset - 1] != '"') {
      return null;
    }
    int start = (int) offset;
    for (int i = start; i < line.length; i++) {
      byte b = line[i];
      if (b == '"') {
        return UTF8String.fromBytes(line, start, i - start);
      }
      if (b == '\\' || b < 0x20) { // an escape, a control character, or (negative) a byte >= 0x80
        return null;
      }
    }
    return null;
  }

  /** Reads the value at `token` of `line` into `value`; custom's object entries too. */
  static void read(JsonParser parser, JsonToken token, Value value, boolean isCustom, byte[] line)
      throws IOException {
    value.entries = null;
    switch (token) {
      case VALUE_STRING:
        value.kind = STRING;
        value.utf8 = plainAscii(parser, line);
        value.ascii = value.utf8 != null;
        if (value.ascii) {
          value.text = null; // made when a rule asks (Value.text)
        } else {
          value.text = parser.getText();
          value.utf8 = UTF8String.fromString(value.text);
        }
        break;
      case VALUE_NUMBER_INT:
        JsonParser.NumberType type = parser.getNumberType();
        if (type == JsonParser.NumberType.INT || type == JsonParser.NumberType.LONG) {
          value.kind = INTEGER;
          value.integer = parser.getLongValue();
        } else {
          value.kind = BIG_INTEGER;
          value.big = parser.getBigIntegerValue();
          finite(value.big.doubleValue());
        }
        break;
      case VALUE_NUMBER_FLOAT:
        value.kind = FLOAT;
        value.number = finite(parser.getDoubleValue());
        break;
      case VALUE_TRUE:
      case VALUE_FALSE:
        value.kind = BOOLEAN;
        value.bool = token == JsonToken.VALUE_TRUE;
        break;
      case VALUE_NULL:
        value.kind = NULL;
        break;
      case START_OBJECT:
        value.kind = OBJECT;
        if (isCustom) {
          value.entries = new LinkedHashMap<>();
          while (parser.nextToken() == JsonToken.FIELD_NAME) {
            String key = parser.currentName();
            JsonToken inner = parser.nextToken();
            if (inner == JsonToken.VALUE_STRING) {
              value.entries.put(key, parser.getText());
            } else {
              skip(parser, inner);
              value.entries.put(key, null);
            }
          }
        } else {
          skip(parser, token);
        }
        break;
      case START_ARRAY:
        value.kind = ARRAY;
        skip(parser, token);
        break;
      default:
        throw new IOException("unexpected token " + token);
    }
  }

  /**
   * Past the value at `token` (nested ones too), checking its numbers as orjson
   * reads them: Jackson's own skipChildren() would not look at them.
   */
  static void skip(JsonParser parser, JsonToken token) throws IOException {
    int depth = 0;
    do {
      if (token == JsonToken.START_OBJECT || token == JsonToken.START_ARRAY) {
        depth++;
      } else if (token == JsonToken.END_OBJECT || token == JsonToken.END_ARRAY) {
        depth--;
      } else if (token == JsonToken.VALUE_NUMBER_INT || token == JsonToken.VALUE_NUMBER_FLOAT) {
        checkNumber(parser, token);
      }
    } while (depth > 0 && (token = parser.nextToken()) != null);
  }

  /** orjson reads a number it cannot hold as a long (or an unsigned one) as a double; one that is infinite there is an error. */
  static void checkNumber(JsonParser parser, JsonToken token) throws IOException {
    if (token == JsonToken.VALUE_NUMBER_FLOAT) {
      finite(parser.getDoubleValue());
    } else if (parser.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
      finite(parser.getBigIntegerValue().doubleValue());
    }
  }

  static double finite(double number) throws IOException {
    if (Double.isInfinite(number)) {
      throw new IOException("number is infinity when parsed as double");
    }
    return number;
  }

  /**
   * Not a byte order mark, nor a NUL byte where Jackson looks for another encoding
   * (its first four bytes): Jackson would read such a line as UTF-16 or UTF-32, or
   * skip the mark; orjson reads UTF-8 alone and refuses both.
   */
  static boolean plainUtf8(byte[] line, int end) {
    if (end >= 3 && (line[0] & 0xff) == 0xef && (line[1] & 0xff) == 0xbb && (line[2] & 0xff) == 0xbf) {
      return false;
    }
    for (int i = 0; i < Math.min(end, 4); i++) {
      if (line[i] == 0) {
        return false;
      }
    }
    return true;
  }

  /**
   * A backslash-u escape of half a surrogate pair that is not paired (a high one not followed
   * by a low one, or a low one alone): orjson refuses it, Jackson would make a
   * string of it. Only escapes can make one (UTF-8 cannot encode surrogates).
   */
  static boolean badSurrogateEscape(byte[] line, int end) {
    boolean highBefore = false;
    for (int i = 0; i < end; i++) {
      if (line[i] != '\\') {
        highBefore = false;
        continue;
      }
      if (i + 1 >= end) {
        return false; // malformed anyway: Jackson says so
      }
      if (line[i + 1] != 'u' || i + 5 >= end) {
        if (highBefore) {
          return true;
        }
        i++; // a two-character escape (\\ included)
        continue;
      }
      int code = hex(line, i + 2);
      boolean high = code >= 0xd800 && code <= 0xdbff;
      boolean low = code >= 0xdc00 && code <= 0xdfff;
      if (highBefore != low) {
        return true; // a high one without its low one, or a low one alone
      }
      highBefore = high;
      i += 5;
      if (high && (i + 1 >= end || line[i + 1] != '\\')) {
        return true;
      }
    }
    return highBefore;
  }

  private static int hex(byte[] line, int at) {
    int code = 0;
    for (int k = at; k < at + 4; k++) {
      int digit = Character.digit(line[k], 16);
      if (digit < 0) {
        return -1; // not an escape Jackson accepts: it reports the line malformed
      }
      code = code * 16 + digit;
    }
    return code;
  }

  /** The value at `token` as compact JSON text: numbers as written, strings escaped as orjson does. */
  static String compact(JsonParser parser, JsonToken token) throws IOException {
    StringBuilder out = new StringBuilder();
    write(parser, token, out);
    return out.toString();
  }

  private static void write(JsonParser parser, JsonToken token, StringBuilder out) throws IOException {
    switch (token) {
      case START_OBJECT: {
        out.append('{');
        boolean first = true;
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
          if (!first) {
            out.append(',');
          }
          first = false;
          quote(parser.currentName(), out);
          out.append(':');
          write(parser, parser.nextToken(), out);
        }
        out.append('}');
        break;
      }
      case START_ARRAY: {
        out.append('[');
        boolean first = true;
        JsonToken inner;
        while ((inner = parser.nextToken()) != JsonToken.END_ARRAY) {
          if (!first) {
            out.append(',');
          }
          first = false;
          write(parser, inner, out);
        }
        out.append(']');
        break;
      }
      case VALUE_STRING:
        quote(parser.getText(), out);
        break;
      case VALUE_NUMBER_INT:
      case VALUE_NUMBER_FLOAT:
        checkNumber(parser, token);
        out.append(parser.getText());
        break;
      case VALUE_TRUE:
        out.append("true");
        break;
      case VALUE_FALSE:
        out.append("false");
        break;
      case VALUE_NULL:
        out.append("null");
        break;
      default:
        throw new IOException("unexpected token " + token);
    }
  }

  private static final char[] HEX = "0123456789abcdef".toCharArray();

  private static void quote(String text, StringBuilder out) {
    out.append('"');
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      switch (c) {
        case '"': out.append("\\\""); break;
        case '\\': out.append("\\\\"); break;
        case '\n': out.append("\\n"); break;
        case '\r': out.append("\\r"); break;
        case '\t': out.append("\\t"); break;
        case '\b': out.append("\\b"); break;
        case '\f': out.append("\\f"); break;
        default:
          if (c < 0x20) {
            out.append("\\u00").append(HEX[c >> 4]).append(HEX[c & 0xf]);
          } else {
            out.append(c);
          }
      }
    }
    out.append('"');
  }

  // --- Walking the schema -------------------------------------------------------------

  /** The rulebook's schema, walked once into a Contract. */
  static final class Compiler {
    private static final Set<String> IGNORED = Set.of("description", "$comment", "$schema", "$id", "title");
    private static final Set<String> TOP = Set.of("type", "x-limits", "required", "properties", "allOf",
        "additionalProperties");
    private static final Set<String> CUSTOM_KEYWORDS = Set.of("maxProperties", "propertyNames",
        "additionalProperties");

    private final JsonNode schema;
    private final Map<String, Boolean> nullables = new HashMap<>();
    private final JsonNode keywordReasons;
    private final JsonNode fieldReasons;
    private final JsonNode reasons;
    private final String defaultReason;
    private final JsonNode timeSpec;

    Compiler(JsonNode book) {
      timeSpec = need(book, "time");
      schema = need(book, "schema");
      keywordReasons = need(book, "keyword_reasons");
      fieldReasons = need(book, "field_reasons");
      reasons = need(book, "reasons");
      defaultReason = need(book, "default_reason").asText();
    }

    private static JsonNode need(JsonNode node, String key) {
      JsonNode found = node.get(key);
      if (found == null) {
        throw new IllegalArgumentException("the rulebook has no " + key);
      }
      return found;
    }

    private String reason(String field, String keyword) {
      JsonNode special = fieldReasons.path(field).get(keyword);
      if (special != null) {
        return special.asText();
      }
      JsonNode general = keywordReasons.get(keyword);
      return general != null ? general.asText() : defaultReason;
    }

    Contract compile() {
      for (Iterator<String> names = schema.fieldNames(); names.hasNext(); ) {
        String keyword = names.next();
        if (!IGNORED.contains(keyword) && !TOP.contains(keyword)) {
          throw new IllegalArgumentException("top-level keyword " + keyword + " has no rule in EventCheck");
        }
      }
      if (!"object".equals(schema.path("type").asText()) || !schema.path("additionalProperties").isBoolean()
          || schema.path("additionalProperties").asBoolean()) {
        throw new IllegalArgumentException(
            "EventCheck has rules for an object schema with additionalProperties false only");
      }
      JsonNode properties = need(schema, "properties");
      Contract contract = new Contract(properties.size());
      int index = 0;
      for (Iterator<Map.Entry<String, JsonNode>> it = properties.fields(); it.hasNext(); index++) {
        Map.Entry<String, JsonNode> property = it.next();
        Field field = new Field(property.getKey(), index, typeOf(property.getKey(), property.getValue()));
        nullables.put(field.name, admitsNull(property.getValue()));
        contract.fields[index] = field;
        contract.byName.put(field.name, field);
        if (field.type == OBJECT) {
          if (contract.custom != null) {
            throw new IllegalArgumentException("EventCheck has rules for one object field only: "
                + contract.custom.name + " and " + field.name);
          }
          contract.custom = field;
          compileCustom(contract, property.getValue());
        }
        for (Iterator<Map.Entry<String, JsonNode>> kw = property.getValue().fields(); kw.hasNext(); ) {
          Map.Entry<String, JsonNode> keyword = kw.next();
          if (IGNORED.contains(keyword.getKey())
              || (field.type == OBJECT && CUSTOM_KEYWORDS.contains(keyword.getKey()))) {
            continue;
          }
          field.rules.add(new Rule(reason(field.name, keyword.getKey()),
              breaks(field, keyword.getKey(), keyword.getValue())));
        }
      }
      if (contract.custom == null) {
        throw new IllegalArgumentException("the schema has no object field to keep unknown fields in");
      }
      for (JsonNode name : need(schema, "required")) {
        contract.required.add(field(contract, name.asText()));
      }
      // A null is read as absent (Contract.check): that agrees with the schema only when
      // exactly the optional fields admit null.
      for (Field field : contract.fields) {
        boolean required = contract.required.contains(field);
        if (nullables.get(field.name) == required) {
          throw new IllegalArgumentException(field.name + (required
              ? " is required and its type admits null: EventCheck reads a null as absent"
              : " is optional and its type does not admit null: EventCheck reads a null as absent"));
        }
      }
      for (JsonNode branch : schema.path("allOf")) {
        contract.conditionals.add(conditional(contract, branch));
      }
      contract.maxEventBytes = need(need(schema, "x-limits"), "max_event_bytes").asLong();
      contract.malformed = need(reasons, "malformed").asText();
      contract.notAnObject = need(reasons, "not_an_object").asText();
      contract.tooLarge = need(reasons, "too_large").asText();
      contract.missing = need(reasons, "missing").asText();
      contract.collision = need(reasons, "collision").asText();
      contract.time = time(contract, timeSpec);
      return contract;
    }

    private static TimeRules time(Contract contract, JsonNode spec) {
      TimeRules time = new TimeRules();
      time.eventTs = integerField(contract, need(spec, "event_ts").asText());
      time.sentTs = integerField(contract, need(spec, "sent_ts").asText());
      time.receivedTs = integerField(contract, need(spec, "received_ts").asText());
      time.futureToleranceMs = need(spec, "future_tolerance_ms").asLong();
      time.maxLatenessMs = need(spec, "max_lateness_ms").asLong();
      time.minEventTimeMs = need(spec, "min_event_time_ms").asLong();
      time.maxEventTimeMs = need(spec, "max_event_time_ms").asLong();
      time.future = need(spec, "future").asText();
      time.late = need(spec, "late").asText();
      time.unreadable = need(spec, "unreadable").asText();
      return time;
    }

    private static Field integerField(Contract contract, String name) {
      Field field = field(contract, name);
      if (field.type != INTEGER) {
        throw new IllegalArgumentException("the time rules need " + name + " to be an integer field");
      }
      return field;
    }

    private static Field field(Contract contract, String name) {
      Field field = contract.byName.get(name);
      if (field == null) {
        throw new IllegalArgumentException("the schema names " + name + ", which is not one of its properties");
      }
      return field;
    }

    /** Whether a property's type is a list that admits null (["string", "null"]). */
    private static boolean admitsNull(JsonNode spec) {
      for (JsonNode kind : spec.path("type")) {
        if ("null".equals(kind.asText())) {
          return true;
        }
      }
      return false;
    }

    /** The property's JSON type, less "null" (a null is read as absent, never typed). */
    private static int typeOf(String name, JsonNode spec) {
      JsonNode declared = spec.path("type");
      String type = declared.asText();
      if (declared.isArray()) {
        List<String> kinds = new ArrayList<>();
        declared.forEach(kind -> kinds.add(kind.asText()));
        kinds.remove("null");
        type = kinds.size() == 1 ? kinds.get(0) : kinds.toString();
      }
      switch (type) {
        case "string": return STRING;
        case "integer": return INTEGER;
        case "boolean": return BOOLEAN;
        case "object": return OBJECT;
        default:
          throw new IllegalArgumentException(name + ": JSON type '" + type + "' has no rule in EventCheck");
      }
    }

    /** The test that the value breaks `keyword` (the value is there). */
    private static FieldRule breaks(Field field, String keyword, JsonNode argument) {
      String where = field.name + ": keyword " + keyword + " " + argument;
      switch (keyword) {
        case "type": {
          int type = field.type;
          return value -> value.kind != type;
        }
        case "enum": {
          List<byte[]> options = new ArrayList<>();
          for (JsonNode option : argument) {
            if (option.isNull()) {
              continue; // an optional field's null: read as absent before any rule
            }
            if (!option.isTextual()) {
              throw new IllegalArgumentException(where + " has no rule in EventCheck (strings only)");
            }
            options.add(option.asText().getBytes(StandardCharsets.UTF_8));
          }
          byte[][] allowed = options.toArray(new byte[0][]);
          // By the value's UTF-8 bytes: a plain ASCII slice, or Java's text encoded
          // (an option with a lone surrogate has no UTF-8 form, nor could a value match it).
          // A few options: compared one by one, by length first (no hash to compute).
          return value -> value.kind != STRING || !oneOf(value.utf8, allowed);
        }
        case "const":
          return equals(argument, where);
        case "minimum": {
          if (!argument.isIntegralNumber() || !argument.canConvertToLong()) {
            throw new IllegalArgumentException(where + " has no rule in EventCheck (integers only)");
          }
          long minimum = argument.asLong();
          BigInteger big = BigInteger.valueOf(minimum);
          // Any number, by value (jsonschema's minimum; never a bool).
          return value -> (value.kind == INTEGER && value.integer < minimum)
              || (value.kind == FLOAT && value.number < minimum)
              || (value.kind == BIG_INTEGER && value.big.compareTo(big) < 0);
        }
        case "maxLength": {
          int limit = argument.asInt();
          return value -> value.kind == STRING
              && (value.ascii ? value.utf8.numBytes() > limit : longer(value.text, limit));
        }
        case "minLength": {
          int limit = argument.asInt();
          // A code point is one or two UTF-16 units: counted only under 2 x limit units.
          return value -> value.kind == STRING && (value.ascii ? value.utf8.numBytes() < limit
              : value.text.length() < 2 * limit && codePoints(value.text) < limit);
        }
        case "pattern": {
          FixedShape shape = FixedShape.parse(argument.asText());
          if (shape != null) {
            return value -> value.kind == STRING && !(value.ascii ? shape.matches(value.utf8) : shape.matches(value.text));
          }
          // jsonschema uses re.search; find() is the same. UNIX_LINES: only "\n" ends a
          // line, so "$" matches where Python's does (at the end, or before a final "\n").
          Pattern pattern = Pattern.compile(argument.asText(), Pattern.UNIX_LINES);
          return value -> value.kind == STRING && !pattern.matcher(value.text()).find();
        }
        default:
          throw new IllegalArgumentException(where + " has no rule in EventCheck");
      }
    }

    /** A test that fails (breaks() is true) unless the value equals the constant, as jsonschema's equal. */
    private static FieldRule equals(JsonNode constant, String where) {
      if (constant.isTextual()) {
        byte[] text = constant.asText().getBytes(StandardCharsets.UTF_8); // by UTF-8 bytes, as enum
        return value -> !(value.kind == STRING && sameBytes(value.utf8, text));
      }
      if (constant.isIntegralNumber() && constant.canConvertToLong()) {
        long number = constant.asLong();
        // Numbers by value (1.0 equals 1); a bool never equals a number.
        return value -> !((value.kind == INTEGER && value.integer == number)
            || (value.kind == FLOAT && value.number == number));
      }
      throw new IllegalArgumentException(where + " has no rule in EventCheck (a string or integer const only)");
    }

    private Conditional conditional(Contract contract, JsonNode branch) {
      JsonNode condition = branch.path("if");
      JsonNode then = branch.path("then");
      Set<String> keys = new HashSet<>();
      branch.fieldNames().forEachRemaining(keys::add);
      keys.removeAll(Set.of("if", "then", "$comment"));
      Set<String> conditionKeys = new HashSet<>();
      condition.fieldNames().forEachRemaining(conditionKeys::add);
      Set<String> thenKeys = new HashSet<>();
      then.fieldNames().forEachRemaining(thenKeys::add);
      if (!keys.isEmpty() || !conditionKeys.equals(Set.of("properties", "required"))
          || !(thenKeys.equals(Set.of("required")) || thenKeys.equals(Set.of("required", "properties")))
          || !notNullOnly(then)) {
        throw new IllegalArgumentException("allOf branch has no rule in EventCheck: " + branch);
      }
      Conditional out = new Conditional();
      for (Iterator<Map.Entry<String, JsonNode>> it = condition.get("properties").fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> property = it.next();
        Field field = field(contract, property.getKey());
        JsonNode spec = property.getValue();
        String where = "allOf condition on " + field.name + ": " + spec;
        FieldRule fails;
        if (spec.size() == 1 && spec.has("const")) {
          fails = equals(spec.get("const"), where);
        } else if (spec.size() == 1 && spec.has("enum")) {
          fails = breaks(field, "enum", spec.get("enum"));
        } else {
          throw new IllegalArgumentException(where + " has no rule in EventCheck");
        }
        out.conditions.put(field, fails);
      }
      for (JsonNode name : condition.get("required")) {
        out.ifRequired.add(field(contract, name.asText()));
      }
      for (JsonNode name : then.get("required")) {
        out.thenRequired.add(field(contract, name.asText()));
      }
      return out;
    }

    /**
     * A `then` whose properties (if any) are each {"not": {"type": "null"}} on a field it
     * requires: that restates "required, and not null", which a required field read with
     * null as absent already is.
     */
    private static boolean notNullOnly(JsonNode then) {
      Set<String> required = new HashSet<>();
      then.path("required").forEach(name -> required.add(name.asText()));
      for (Iterator<Map.Entry<String, JsonNode>> it = then.path("properties").fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> property = it.next();
        JsonNode spec = property.getValue();
        boolean notNull = spec.size() == 1 && spec.path("not").size() == 1
            && "null".equals(spec.path("not").path("type").asText());
        if (!notNull || !required.contains(property.getKey())) {
          return false;
        }
      }
      return true;
    }

    /** custom's own keywords: maxProperties, propertyNames {maxLength}, additionalProperties {type string, maxLength}. */
    private void compileCustom(Contract contract, JsonNode spec) {
      String name = contract.custom.name;
      if (spec.has("maxProperties")) {
        contract.customMaxKeys = spec.get("maxProperties").asInt();
        contract.customCountReason = reason(name, "maxProperties");
      }
      JsonNode names = spec.path("propertyNames");
      for (Iterator<String> it = names.fieldNames(); it.hasNext(); ) {
        String keyword = it.next();
        if (!keyword.equals("maxLength")) {
          throw new IllegalArgumentException(name + ".propertyNames: " + keyword + " has no rule in EventCheck");
        }
        contract.customKeyMaxLength = names.get("maxLength").asInt();
        contract.customKeysReason = reason(name, "propertyNames");
      }
      JsonNode values = spec.path("additionalProperties");
      for (Iterator<String> it = values.fieldNames(); it.hasNext(); ) {
        String keyword = it.next();
        if (keyword.equals("type") && values.get("type").asText().equals("string")) {
          contract.customValuesAreStrings = true;
          contract.customTypeReason = reason(name, "type");
        } else if (keyword.equals("maxLength")) {
          contract.customValueMaxLength = values.get("maxLength").asInt();
          contract.customLengthReason = reason(name, "maxLength");
        } else {
          throw new IllegalArgumentException(name + ".additionalProperties: " + keyword + " "
              + values.get(keyword) + " has no rule in EventCheck");
        }
      }
    }
  }
}
