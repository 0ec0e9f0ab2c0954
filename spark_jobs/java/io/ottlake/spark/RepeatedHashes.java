package io.ottlake.spark;

import java.io.Serializable;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.apache.spark.sql.Encoder;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.expressions.Aggregator;

/**
 * The values that occur more than once in a column of longs (nulls skipped), as one
 * binary value: the repeated values, ascending, 8 bytes each (big-endian); null when
 * the column holds more than {@code limit} values, which would not fit the driver well.
 *
 * <p>Why: bronze's dedup needs the 64-bit hashes of the event ids that repeat. Observed
 * as the checked rows are stored ({@code Dataset.observe}), this costs a long appended
 * a row and one sort on the driver (10M events: 80 MB, ~1 s) instead of a pass over the
 * stored rows with a hash aggregate of every id and its shuffle.
 *
 * <p>Like any metric of a map stage, a task Spark re-runs adds its values twice: they
 * then look repeated. The dedup only uses these hashes to pick the copies it ranks by
 * their event id, so a value wrongly here costs a few rows ranked, never a wrong row.
 */
public final class RepeatedHashes extends Aggregator<Long, RepeatedHashes.Values, byte[]> {
  private static final long serialVersionUID = 1L;

  private final long limit;

  public RepeatedHashes(long limit) {
    this.limit = limit;
  }

  /** The values seen, in arrival order; {@code overflow} once past the limit. */
  public static final class Values implements Serializable {
    private static final long serialVersionUID = 1L;
    long[] values = new long[1024];
    int size;
    boolean overflow;

    private void writeObject(java.io.ObjectOutputStream out) throws java.io.IOException {
      values = Arrays.copyOf(values, size); // the values, not the room kept for more
      out.defaultWriteObject();
    }

    void add(long value) {
      if (size == values.length) {
        values = Arrays.copyOf(values, Math.max(1024, values.length * 2));
      }
      values[size++] = value;
    }
  }

  @Override
  public Values zero() {
    return new Values();
  }

  @Override
  public Values reduce(Values buffer, Long value) {
    if (value != null && !buffer.overflow) {
      if (buffer.size >= limit) {
        drop(buffer);
      } else {
        buffer.add(value);
      }
    }
    return buffer;
  }

  @Override
  public Values merge(Values into, Values other) {
    if (into.overflow || other.overflow || (long) into.size + other.size > limit) {
      drop(into);
      return into;
    }
    if (into.size + other.size > into.values.length) {
      into.values = Arrays.copyOf(into.values, into.size + other.size);
    }
    System.arraycopy(other.values, 0, into.values, into.size, other.size);
    into.size += other.size;
    return into;
  }

  @Override
  public byte[] finish(Values buffer) {
    if (buffer.overflow) {
      return null;
    }
    long[] sorted = buffer.values;
    Arrays.sort(sorted, 0, buffer.size);
    ByteBuffer out = ByteBuffer.allocate(8 * Math.max(1, buffer.size / 2));
    int written = 0;
    for (int i = 1; i < buffer.size; i++) {
      if (sorted[i] == sorted[i - 1] && (written == 0 || out.getLong(8 * (written - 1)) != sorted[i])) {
        out.putLong(8 * written, sorted[i]);
        written++;
      }
    }
    return Arrays.copyOf(out.array(), 8 * written);
  }

  private static void drop(Values buffer) {
    buffer.overflow = true;
    buffer.values = new long[0];
    buffer.size = 0;
  }

  @Override
  public Encoder<Values> bufferEncoder() {
    return Encoders.javaSerialization(Values.class);
  }

  @Override
  public Encoder<byte[]> outputEncoder() {
    return Encoders.BINARY();
  }
}
