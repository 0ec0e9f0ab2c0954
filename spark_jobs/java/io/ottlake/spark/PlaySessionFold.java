package io.ottlake.spark;

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
 * <p>{@code events} is the session's array of event structs sorted by (ts, seq, id),
 * fields by position as sessions.FOLD_EVENT_FIELDS lists them: ts, seq, id, type, closes,
 * fatal, code, bitrate, playhead, time, then the session's dimensions (any number, any
 * type). The result is the accumulator after the last event, fields by position as
 * sessions._ACC lists them, then each dimension's first non-null value among the
 * events up to the closing one (section 1: events after closed change nothing).
 * Null for an empty array (a session always has an event).
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
    Acc acc = new Acc(events.head().length() - DIMENSIONS);
    scala.collection.Iterator<Row> each = events.iterator();
    while (each.hasNext()) {
      acc.step(each.next(), gapMs);
    }
    return acc.toRow();
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
    final Object[] dimensions;

    Acc(int dimensionCount) {
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
          fatal, fatalCode, playbackFailure, completed, maxPlayhead, endTime, closedAt};
      Object[] row = java.util.Arrays.copyOf(fields, fields.length + dimensions.length);
      System.arraycopy(dimensions, 0, row, fields.length, dimensions.length);
      return RowFactory.create(row);
    }
  }
}
