package io.ottlake.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.util.GenericArrayData;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.unsafe.types.UTF8String;
import org.junit.jupiter.api.Test;

/** qoe-metrics.md section 5's worked example, folded in plain Java (no session). */
class PlaySessionFoldTest {
  private static final StructType EVENT = new StructType()
      .add("ts", DataTypes.LongType).add("seq", DataTypes.LongType).add("id", DataTypes.StringType)
      .add("type", DataTypes.StringType).add("closes", DataTypes.BooleanType).add("fatal", DataTypes.BooleanType)
      .add("code", DataTypes.StringType).add("bitrate", DataTypes.LongType).add("playhead", DataTypes.LongType)
      .add("time", DataTypes.TimestampType).add("cdn", DataTypes.StringType);
  private static final ArrayType EVENTS = DataTypes.createArrayType(EVENT);
  private static final long GAP_MS = 30 * 60_000L;

  private static InternalRow event(long ts, long seq, String type, Long bitrate, Long playhead, String cdn) {
    boolean closes = type.equals("ended") || type.equals("view_end");
    return new GenericInternalRow(new Object[] {ts, seq, UTF8String.fromString("e" + seq), UTF8String.fromString(type),
        closes, false, null, bitrate, playhead, ts * 1000, cdn == null ? null : UTF8String.fromString(cdn)});
  }

  private static List<InternalRow> workedExample() {
    List<InternalRow> events = new ArrayList<>();
    Object[][] rows = {
        {0L, "view_start", null, null}, {500L, "player_ready", null, null}, {1000L, "play_request", null, null},
        {2200L, "buffer_start", null, null}, {3000L, "playing", 3000L, 0L}, {13000L, "heartbeat", 3000L, null},
        {20000L, "buffer_start", null, null}, {21500L, "buffer_end", null, null},
        {30000L, "rendition_change", 6000L, null}, {40000L, "pause", null, null},
        {50000L, "play_request", null, null}, {50400L, "playing", null, null}, {60000L, "ended", null, 60000L},
    };
    for (int seq = 0; seq < rows.length; seq++) {
      Object[] row = rows[seq];
      events.add(event((Long) row[0], seq, (String) row[1], (Long) row[2], (Long) row[3], seq == 0 ? null : "cdn-a"));
    }
    return events;
  }

  private static InternalRow fold(List<InternalRow> events) {
    KernelExpression.Kernel kernel = new PlaySessionFold().bind(EVENTS, DataTypes.LongType);
    return (InternalRow) kernel.apply(new GenericArrayData(events.toArray()), GAP_MS);
  }

  private static long field(InternalRow acc, String name) {
    StructType type = (StructType) new PlaySessionFold().resultType(EVENTS, DataTypes.LongType);
    return acc.getLong(type.fieldIndex(name));
  }

  @Test
  void theWorkedExampleInAnyOrder() {
    List<InternalRow> events = workedExample();
    Collections.reverse(events);
    InternalRow acc = fold(events);
    assertEquals(2000, field(acc, "startup_ms"));
    assertEquals(17000 + 18500 + 9600, field(acc, "play_ms"));
    assertEquals(1500, field(acc, "rebuffer_ms"));
    assertEquals(1, field(acc, "rebuffer_count"));
    assertEquals(10400, field(acc, "pause_ms"));
    assertEquals(3000L * 25500 + 6000L * 19600, field(acc, "kbps_ms"));
    assertEquals(45100, field(acc, "bitrate_play_ms"));
    assertEquals(1, field(acc, "upshift_count"));
    assertEquals(13, field(acc, "event_count"));
  }

  @Test
  void theResultTypeIsTheAccumulatorThenTheDimensions() {
    StructType type = (StructType) new PlaySessionFold().resultType(EVENTS, DataTypes.LongType);
    assertEquals("state", type.fields()[0].name());
    assertEquals(DataTypes.IntegerType, type.fields()[0].dataType());
    assertEquals("cdn", type.fields()[type.size() - 1].name()); // the first non-null value: cdn-a
    InternalRow acc = fold(workedExample());
    assertEquals("cdn-a", acc.getUTF8String(type.size() - 1).toString());
    assertTrue(type.fieldIndex("start_time") < type.fieldIndex("cdn"));
  }

  @Test
  void anEmptySessionFoldsToNullAndOnlyArraysOfStructsAreFolded() {
    assertNull(fold(new ArrayList<>()));
    DataType strings = DataTypes.createArrayType(DataTypes.StringType);
    assertThrows(IllegalArgumentException.class, () -> new PlaySessionFold().resultType(strings, DataTypes.LongType));
  }
}
