package io.ottlake.spark;

import java.util.Arrays;
import java.util.Objects;

import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.expressions.InterpretedOrdering;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * The play-session state machine of qoe-metrics.md section 1, folded over one
 * session's events: a Spark SQL function of (events, gap_ms), {@code ottlake_play_session_fold},
 * registered by OttlakeExtensions (a KernelExpression); spark_jobs/transforms/sessions.py
 * builds the events' structs and reads the accumulator's fields by name.
 *
 * <p>{@code events} is the session's array of event structs, in any order, fields by
 * position as sessions.FOLD_EVENT_FIELDS lists them: ts, seq, id, type, closes, fatal,
 * code, bitrate, playhead, time, then the session's dimensions (any number, any type).
 * The fold sorts them first, in the order Spark's {@code array_sort} gives structs:
 * field by field, nulls first, strings by their UTF-8 bytes (the key is (ts, seq, id),
 * compared here directly; the other fields only order copies of one event, compared
 * by Spark's ordering of the struct). Sorted here, {@code array_sort} compared every
 * pair with an interpreted ordering (~5% of the sessions stage's samples at 3M events).
 * The result is the accumulator after the last event, of the type resultType
 * gives (ACC_FIELDS, then each dimension's first non-null value among the
 * events up to the closing one (section 1: events after closed change nothing). Null
 * for an empty array (a session always has an event). Values in and out are Spark's
 * internal ones (UTF8String, timestamps as microseconds).
 *
 * <p>Event types are the contract's names (schemas/player_event.schema.json); the
 * Python side computes {@code closes} and {@code fatal} (ended, view_end or a fatal
 * error) so that the rule lives in one place.
 */
public final class PlaySessionFold implements KernelExpression.Kernel {
  private static final long serialVersionUID = 1L;

  // Event fields, by position.
  private static final int TS = 0, SEQ = 1, ID = 2, TYPE = 3, CLOSES = 4, FATAL = 5, CODE = 6,
      BITRATE = 7, PLAYHEAD = 8, TIME = 9, DIMENSIONS = 10;

  // States of section 1 (the int the accumulator's `state` field holds).
  static final int IDLE = 0, STARTING = 1, PLAYING = 2, PAUSED = 3, SEEKING = 4,
      REBUFFERING = 5, CLOSED = 6;

  // The event types the fold tells apart.
  private static final UTF8String PLAY_REQUEST = UTF8String.fromString("play_request"),
      PLAYING_EVENT = UTF8String.fromString("playing"), PAUSE = UTF8String.fromString("pause"),
      SEEK_START = UTF8String.fromString("seek_start"), SEEK_END = UTF8String.fromString("seek_end"),
      BUFFER_START = UTF8String.fromString("buffer_start"), BUFFER_END = UTF8String.fromString("buffer_end"),
      ERROR = UTF8String.fromString("error"), RENDITION_CHANGE = UTF8String.fromString("rendition_change"),
      AD_BREAK_START = UTF8String.fromString("ad_break_start"),
      AD_BREAK_END = UTF8String.fromString("ad_break_end"), ENDED = UTF8String.fromString("ended");

  private final StructType event; // null until bound to the events' type
  private transient InterpretedOrdering ordering;

  public PlaySessionFold() {
    this(null);
  }

  private PlaySessionFold(StructType event) {
    this.event = event;
  }

  // The accumulator's fields, in the order Acc.toRow writes them; then each dimension
  // of the events (their fields from DIMENSIONS on), with its name and type.
  private static final StructType ACC_FIELDS = new StructType()
      .add("state", DataTypes.IntegerType) // the section 1 state, numbered as above
      .add("in_ad", DataTypes.BooleanType)
      .add("from_paused", DataTypes.BooleanType) // the seek in force came from paused
      .add("first_frame", DataTypes.BooleanType)
      .add("requested", DataTypes.BooleanType) // a play_request has been seen
      .add("requested_before_frame", DataTypes.BooleanType) // ... before the first frame
      .add("bitrate", DataTypes.LongType) // the bitrate in force, kbps
      .add("prev_ts", DataTypes.LongType)
      .add("prev_id", DataTypes.StringType)
      .add("startup_ms", DataTypes.LongType) // time in starting
      .add("play_ms", DataTypes.LongType)
      .add("ad_ms", DataTypes.LongType)
      .add("rebuffer_ms", DataTypes.LongType)
      .add("seek_ms", DataTypes.LongType)
      .add("pause_ms", DataTypes.LongType)
      .add("kbps_ms", DataTypes.LongType) // played kbits x 1000, kept integral: no float drift
      .add("bitrate_play_ms", DataTypes.LongType)
      .add("rebuffer_count", DataTypes.LongType)
      .add("seek_count", DataTypes.LongType)
      .add("error_count", DataTypes.LongType)
      .add("upshift_count", DataTypes.LongType)
      .add("downshift_count", DataTypes.LongType)
      .add("event_count", DataTypes.LongType)
      .add("fatal", DataTypes.BooleanType)
      .add("fatal_code", DataTypes.StringType)
      .add("playback_failure", DataTypes.BooleanType)
      .add("completed", DataTypes.BooleanType)
      .add("max_playhead", DataTypes.LongType)
      .add("end_time", DataTypes.TimestampType)
      .add("closed_at", new StructType().add("ts", DataTypes.LongType).add("seq", DataTypes.LongType)
          .add("id", DataTypes.StringType)) // (ts, seq, id) of the event that closed
      .add("start_time", DataTypes.TimestampType); // the first event's time

  /** The accumulator's type for events of `events`' type: ACC_FIELDS, then the dimensions. */
  @Override
  public DataType resultType(DataType events, DataType gapMs) {
    StructType event = eventType(events);
    StructType result = ACC_FIELDS;
    for (int i = DIMENSIONS; i < event.size(); i++) {
      result = result.add(event.fields()[i].name(), event.fields()[i].dataType());
    }
    return result;
  }

  private static StructType eventType(DataType events) {
    if (!(events instanceof ArrayType) || !(((ArrayType) events).elementType() instanceof StructType)) {
      throw new IllegalArgumentException("PlaySessionFold folds an array of event structs, not " + events);
    }
    return (StructType) ((ArrayType) events).elementType();
  }

  @Override
  public KernelExpression.Kernel bind(DataType events, DataType gapMs) {
    return new PlaySessionFold(eventType(events));
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof PlaySessionFold && Objects.equals(((PlaySessionFold) other).event, event);
  }

  @Override
  public int hashCode() {
    return Objects.hashCode(event);
  }

  @Override
  public String toString() {
    return "PlaySessionFold";
  }

  /** The accumulator (an InternalRow) after the last of `events` (ArrayData), `gapMs` a Long. */
  @Override
  public Object apply(Object events, Object gapMs) {
    ArrayData array = (ArrayData) events;
    int count = array.numElements();
    if (count == 0) {
      return null;
    }
    int width = event.size();
    InternalRow[] sorted = new InternalRow[count];
    for (int i = 0; i < count; i++) {
      sorted[i] = array.getStruct(i, width);
    }
    Arrays.sort(sorted, this::compareEvents);
    Acc acc = new Acc(width - DIMENSIONS, time(sorted[0]));
    for (InternalRow each : sorted) {
      acc.step(each, (Long) gapMs, event);
    }
    return acc.toRow();
  }

  /** Two event structs as array_sort orders them: field by field, nulls first. */
  int compareEvents(InternalRow a, InternalRow b) {
    int order = compareLongs(a, b, TS);
    if (order == 0) {
      order = compareLongs(a, b, SEQ);
    }
    if (order == 0) {
      order = a.isNullAt(ID) || b.isNullAt(ID)
          ? Boolean.compare(!a.isNullAt(ID), !b.isNullAt(ID))
          : a.getUTF8String(ID).binaryCompare(b.getUTF8String(ID));
    }
    if (order == 0) { // copies of one event: the rest of the struct, as Spark orders it
      if (ordering == null) {
        ordering = InterpretedOrdering.forSchema(
            scala.jdk.javaapi.CollectionConverters.asScala(Arrays.asList(event.fields()).stream()
                .map(field -> field.dataType()).toList()).toSeq());
      }
      order = ordering.compare(a, b);
    }
    return order;
  }

  private static int compareLongs(InternalRow a, InternalRow b, int field) {
    boolean aNull = a.isNullAt(field), bNull = b.isNullAt(field);
    if (aNull || bNull) {
      return Boolean.compare(!aNull, !bNull);
    }
    return Long.compare(a.getLong(field), b.getLong(field));
  }

  private static Long time(InternalRow event) {
    return event.isNullAt(TIME) ? null : event.getLong(TIME);
  }

  /** The running state: one mutable object per session, never shared. */
  static final class Acc {
    int state = IDLE;
    boolean inAd, fromPaused, firstFrame, requested, requestedBeforeFrame;
    Long bitrate, prevTs;
    UTF8String prevId;
    long startupMs, playMs, adMs, rebufferMs, seekMs, pauseMs, kbpsMs, bitratePlayMs;
    long rebufferCount, seekCount, errorCount, upshiftCount, downshiftCount, eventCount;
    boolean fatal;
    UTF8String fatalCode;
    boolean playbackFailure, completed;
    Long maxPlayhead;
    Long endTime;
    InternalRow closedAt;
    final Long startTime; // the first event's time: the session's start_time
    final Object[] dimensions;

    Acc(int dimensionCount, Long startTime) {
      this.startTime = startTime;
      dimensions = new Object[dimensionCount];
    }

    void step(InternalRow event, long gapMs, StructType eventType) {
      UTF8String id = event.isNullAt(ID) ? null : event.getUTF8String(ID);
      // An exact duplicate (same event_id next to it after the sort) is skipped:
      // the input should have none. (event_id is never null in bronze.)
      if (Objects.equals(id, prevId)) {
        return;
      }
      if (state == CLOSED) {
        // "Events after closed change nothing and count only in event_count."
        eventCount++;
        prevId = id;
        return;
      }
      UTF8String kind = event.getUTF8String(TYPE);
      long ts = event.getLong(TS);
      boolean closes = event.getBoolean(CLOSES);
      boolean isFatal = event.getBoolean(FATAL);
      Long eventBitrate = event.isNullAt(BITRATE) ? null : event.getLong(BITRATE);

      // The time since the previous event belongs to the state in force after it,
      // unless the gap is over the limit (then to none; the state is kept).
      long elapsed = 0;
      if (prevTs != null) {
        long since = ts - prevTs;
        elapsed = since > gapMs ? 0 : since;
      }
      boolean seekFrom = kind.equals(SEEK_START)
          && (state == PLAYING || state == REBUFFERING || state == PAUSED);
      boolean rebufferFrom = kind.equals(BUFFER_START) && state == PLAYING && !inAd;
      int next = nextState(kind, closes, seekFrom, rebufferFrom);

      boolean contentPlay = state == PLAYING && !inAd;
      boolean bitrateKnown = bitrate != null;
      if (state == STARTING && !firstFrame) startupMs += elapsed;
      if (contentPlay) playMs += elapsed;
      if (state == PLAYING && inAd) adMs += elapsed;
      if (state == REBUFFERING) rebufferMs += elapsed;
      if (state == SEEKING) seekMs += elapsed;
      if (state == PAUSED) pauseMs += elapsed;
      if (contentPlay && bitrateKnown) {
        kbpsMs += bitrate * elapsed;
        bitratePlayMs += elapsed;
      }
      if (rebufferFrom) rebufferCount++;
      if (seekFrom) {
        seekCount++;
        fromPaused = state == PAUSED;
      }
      if (kind.equals(ERROR)) errorCount++;
      if (kind.equals(RENDITION_CHANGE) && eventBitrate != null && bitrateKnown) {
        if (eventBitrate > bitrate) upshiftCount++;
        if (eventBitrate < bitrate) downshiftCount++;
      }
      if (kind.equals(AD_BREAK_START)) inAd = true;
      else if (kind.equals(AD_BREAK_END)) inAd = false;
      boolean isPlaying = kind.equals(PLAYING_EVENT);
      if (isPlaying && !firstFrame) requestedBeforeFrame = requested;
      if (kind.equals(PLAY_REQUEST)) requested = true;
      // Only the first fatal error is ever folded: it closes the session.
      if (isFatal) {
        fatal = true;
        fatalCode = event.isNullAt(CODE) ? null : event.getUTF8String(CODE);
        if (firstFrame) playbackFailure = true;
      }
      if (isPlaying) firstFrame = true;
      if (kind.equals(ENDED)) completed = true;
      if (eventBitrate != null) bitrate = eventBitrate;
      if (!event.isNullAt(PLAYHEAD)) {
        long playhead = event.getLong(PLAYHEAD);
        maxPlayhead = maxPlayhead == null ? playhead : Math.max(maxPlayhead, playhead);
      }
      // Section 2 says end_time is "the last event"; section 1 says events after
      // closed "count only in event_count": end_time is the last event that counts.
      endTime = time(event);
      if (closes) closedAt = new GenericInternalRow(new Object[] {ts, event.isNullAt(SEQ) ? null : event.getLong(SEQ), id});
      for (int i = 0; i < dimensions.length; i++) {
        if (dimensions[i] == null && !event.isNullAt(DIMENSIONS + i)) {
          dimensions[i] = event.get(DIMENSIONS + i, eventType.fields()[DIMENSIONS + i].dataType());
        }
      }
      eventCount++;
      prevTs = ts;
      prevId = id;
      state = next;
    }

    /** The transition table of section 1, row by row, first match wins. */
    private int nextState(UTF8String kind, boolean closes, boolean seekFrom, boolean rebufferFrom) {
      if (closes) return CLOSED; // fatal error, ended, view_end
      // After the first frame, a resume stays paused until `playing`.
      if (kind.equals(PLAY_REQUEST) && (state == IDLE || (state == PAUSED && !firstFrame))) return STARTING;
      if (kind.equals(PLAYING_EVENT)) return PLAYING;
      if (kind.equals(PAUSE)
          && (state == STARTING || state == PLAYING || state == REBUFFERING || state == SEEKING)) return PAUSED;
      if (seekFrom) return SEEKING; // seeking during starting is startup
      if (kind.equals(SEEK_END) && state == SEEKING && fromPaused) return PAUSED;
      if (rebufferFrom) return REBUFFERING;
      if (kind.equals(BUFFER_END) && state == REBUFFERING) return PLAYING;
      return state;
    }

    InternalRow toRow() {
      Object[] fields = {state, inAd, fromPaused, firstFrame, requested, requestedBeforeFrame,
          bitrate, prevTs, prevId, startupMs, playMs, adMs, rebufferMs, seekMs, pauseMs, kbpsMs,
          bitratePlayMs, rebufferCount, seekCount, errorCount, upshiftCount, downshiftCount, eventCount,
          fatal, fatalCode, playbackFailure, completed, maxPlayhead, endTime, closedAt, startTime};
      Object[] row = java.util.Arrays.copyOf(fields, fields.length + dimensions.length);
      System.arraycopy(dimensions, 0, row, fields.length, dimensions.length);
      return new GenericInternalRow(row);
    }
  }
}
