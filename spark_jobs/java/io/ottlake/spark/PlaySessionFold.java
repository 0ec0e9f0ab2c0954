package io.ottlake.spark;

import java.util.Arrays;
import java.util.Objects;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.api.java.UDF2;

import scala.collection.Seq;

/**
 * The play-session state machine of qoe-metrics.md section 1, folded over one
 * session's events: a Spark SQL function of (events, gap_ms) registered by
 * spark_jobs/transforms/sessions.py, which owns the column layout of both sides.
 *
 * <p>{@code events} is the session's array of event structs, in any order, fields by
 * position as sessions.FOLD_EVENT_FIELDS lists them: ts, seq, id, type, closes, fatal,
 * code, bitrate, playhead, time, then the session's dimensions (any number, any type).
 * The fold sorts them first, in the order Spark's {@code array_sort} gives structs:
 * field by field, nulls first, strings by their UTF-8 bytes (the key is (ts, seq, id);
 * the other fields only order copies of one event). Sorted here, the comparisons are
 * of Java values; {@code array_sort} compared the structs with an interpreted
 * ordering (~5% of the sessions stage's samples at 3M events). The result is the
 * accumulator after the last event, fields by position as sessions._ACC lists them,
 * then each dimension's first non-null value among the events up to the closing one
 * (section 1: events after closed change nothing). Null for an empty array (a
 * session always has an event).
 *
 * <p>Event types are the contract's names (schemas/player_event.schema.json); the
 * Python side computes {@code closes} and {@code fatal} (ended, view_end or a fatal
 * error) so that the rule lives in one place.
 */
public final class PlaySessionFold implements UDF2<Seq<Row>, Long, Row> {
  private static final long serialVersionUID = 1L;

  // Event fields, by position.
  private static final int TS = 0, SEQ = 1, ID = 2, TYPE = 3, CLOSES = 4, FATAL = 5, CODE = 6,
      BITRATE = 7, PLAYHEAD = 8, TIME = 9, DIMENSIONS = 10;

  // States of section 1 (the int the accumulator's `state` field holds).
  static final int IDLE = 0, STARTING = 1, PLAYING = 2, PAUSED = 3, SEEKING = 4,
      REBUFFERING = 5, CLOSED = 6;

  @Override
  public Row call(Seq<Row> events, Long gapMs) {
    if (events == null || events.isEmpty()) {
      return null;
    }
    Row[] sorted = new Row[events.size()];
    scala.collection.Iterator<Row> each = events.iterator();
    for (int i = 0; each.hasNext(); i++) {
      sorted[i] = each.next();
    }
    Arrays.sort(sorted, PlaySessionFold::compareEvents);
    Acc acc = new Acc(sorted[0].length() - DIMENSIONS, sorted[0].get(TIME));
    for (Row event : sorted) {
      acc.step(event, gapMs);
    }
    return acc.toRow();
  }

  /** Two event structs as array_sort orders them: field by field, nulls first. */
  static int compareEvents(Row a, Row b) {
    for (int i = 0; i < a.length(); i++) {
      int order = compareValues(a.get(i), b.get(i));
      if (order != 0) {
        return order;
      }
    }
    return 0;
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  static int compareValues(Object a, Object b) {
    if (a == null || b == null) {
      return a == null ? (b == null ? 0 : -1) : 1;
    }
    if (a instanceof String) {
      return compareUtf8((String) a, (String) b);
    }
    if (a instanceof Row) {
      return compareEvents((Row) a, (Row) b);
    }
    return ((Comparable) a).compareTo(b);
  }

  /**
   * Strings in the order of their UTF-8 bytes, which is code point order (Spark's
   * order for strings): UTF-16 order differs from it only where a surrogate (half of a
   * code point past U+FFFF) meets a unit at or above U+E000.
   */
  static int compareUtf8(String a, String b) {
    int shorter = Math.min(a.length(), b.length());
    for (int i = 0; i < shorter; i++) {
      char x = a.charAt(i), y = b.charAt(i);
      if (x != y) {
        boolean xHalf = Character.isSurrogate(x), yHalf = Character.isSurrogate(y);
        if (xHalf != yHalf) {
          return xHalf ? 1 : -1;
        }
        return x - y;
      }
    }
    return a.length() - b.length();
  }

  /** The running state: one mutable object per session, never shared. */
  static final class Acc {
    int state = IDLE;
    boolean inAd, fromPaused, firstFrame, requested, requestedBeforeFrame;
    Long bitrate, prevTs;
    String prevId;
    long startupMs, playMs, adMs, rebufferMs, seekMs, pauseMs, kbpsMs, bitratePlayMs;
    long rebufferCount, seekCount, errorCount, upshiftCount, downshiftCount, eventCount;
    boolean fatal;
    String fatalCode;
    boolean playbackFailure, completed;
    Long maxPlayhead;
    Object endTime;
    Row closedAt;
    final Object startTime; // the first event's time: the session's start_time
    final Object[] dimensions;

    Acc(int dimensionCount, Object startTime) {
      this.startTime = startTime;
      dimensions = new Object[dimensionCount];
    }

    void step(Row event, long gapMs) {
      String id = event.isNullAt(ID) ? null : event.getString(ID);
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
      String type = event.getString(TYPE);
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
      boolean seekFrom = type.equals("seek_start")
          && (state == PLAYING || state == REBUFFERING || state == PAUSED);
      boolean rebufferFrom = type.equals("buffer_start") && state == PLAYING && !inAd;
      int next = nextState(type, closes, seekFrom, rebufferFrom);

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
      if (type.equals("error")) errorCount++;
      if (type.equals("rendition_change") && eventBitrate != null && bitrateKnown) {
        if (eventBitrate > bitrate) upshiftCount++;
        if (eventBitrate < bitrate) downshiftCount++;
      }
      if (type.equals("ad_break_start")) inAd = true;
      else if (type.equals("ad_break_end")) inAd = false;
      boolean isPlaying = type.equals("playing");
      if (isPlaying && !firstFrame) requestedBeforeFrame = requested;
      if (type.equals("play_request")) requested = true;
      // Only the first fatal error is ever folded: it closes the session.
      if (isFatal) {
        fatal = true;
        fatalCode = event.isNullAt(CODE) ? null : event.getString(CODE);
        if (firstFrame) playbackFailure = true;
      }
      if (isPlaying) firstFrame = true;
      if (type.equals("ended")) completed = true;
      if (eventBitrate != null) bitrate = eventBitrate;
      if (!event.isNullAt(PLAYHEAD)) {
        long playhead = event.getLong(PLAYHEAD);
        maxPlayhead = maxPlayhead == null ? playhead : Math.max(maxPlayhead, playhead);
      }
      // Section 2 says end_time is "the last event"; section 1 says events after
      // closed "count only in event_count": end_time is the last event that counts.
      endTime = event.get(TIME);
      if (closes) closedAt = RowFactory.create(ts, event.isNullAt(SEQ) ? null : event.getLong(SEQ), id);
      for (int i = 0; i < dimensions.length; i++) {
        if (dimensions[i] == null && !event.isNullAt(DIMENSIONS + i)) {
          dimensions[i] = event.get(DIMENSIONS + i);
        }
      }
      eventCount++;
      prevTs = ts;
      prevId = id;
      state = next;
    }

    /** The transition table of section 1, row by row, first match wins. */
    private int nextState(String type, boolean closes, boolean seekFrom, boolean rebufferFrom) {
      if (closes) return CLOSED; // fatal error, ended, view_end
      // After the first frame, a resume stays paused until `playing`.
      if (type.equals("play_request") && (state == IDLE || (state == PAUSED && !firstFrame))) return STARTING;
      if (type.equals("playing")) return PLAYING;
      if (type.equals("pause")
          && (state == STARTING || state == PLAYING || state == REBUFFERING || state == SEEKING)) return PAUSED;
      if (seekFrom) return SEEKING; // seeking during starting is startup
      if (type.equals("seek_end") && state == SEEKING && fromPaused) return PAUSED;
      if (rebufferFrom) return REBUFFERING;
      if (type.equals("buffer_end") && state == REBUFFERING) return PLAYING;
      return state;
    }

    Row toRow() {
      Object[] fields = {state, inAd, fromPaused, firstFrame, requested, requestedBeforeFrame,
          bitrate, prevTs, prevId, startupMs, playMs, adMs, rebufferMs, seekMs, pauseMs, kbpsMs,
          bitratePlayMs, rebufferCount, seekCount, errorCount, upshiftCount, downshiftCount, eventCount,
          fatal, fatalCode, playbackFailure, completed, maxPlayhead, endTime, closedAt, startTime};
      Object[] row = java.util.Arrays.copyOf(fields, fields.length + dimensions.length);
      System.arraycopy(dimensions, 0, row, fields.length, dimensions.length);
      return RowFactory.create(row);
    }
  }
}
