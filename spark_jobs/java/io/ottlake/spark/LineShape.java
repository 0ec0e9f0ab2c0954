package io.ottlake.spark;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.api.java.UDF1;

/**
 * What bronze's checks need to know of a raw line's shape, in one pass over its
 * bytes (spark_jobs/transforms/contract_checks.py, "Which lines need the exact
 * views"): (quotes, escaped, keys), by position, as contract_checks.SHAPE_TYPE
 * names them.
 *
 * <ul>
 *   <li>quotes: how many double quotes the line has;
 *   <li>escaped: the line has a backslash (the scan stops there: the line is
 *       suspect whatever the counts say, and they are left partial);
 *   <li>keys: how many keys its top-level object has, duplicates counted: each
 *       string at depth 1 followed (after whitespace) by a colon.
 * </ul>
 *
 * <p>Exact for what it is used on: a line the typed parse read as one JSON object,
 * without a backslash. There every double quote opens or closes a string (no
 * escape can hide one), so braces, brackets and colons outside strings are
 * structure. On any other line the counts may mean nothing, and the checks do not
 * rely on them (a malformed line, or one that is not an object, is suspect anyway).
 * Replaces a literal replace() (Spark's UTF8String.replace compares the pattern at
 * every byte: 12% of the checks in a profile) and json_object_keys (a second JSON
 * parse of every line).
 */
public final class LineShape implements UDF1<byte[], Row> {
  private static final long serialVersionUID = 1L;

  @Override
  public Row call(byte[] line) {
    if (line == null) {
      return null;
    }
    int quotes = 0, keys = 0, depth = 0;
    boolean inString = false, afterString = false;
    for (byte b : line) {
      if (b == '\\') {
        return RowFactory.create(quotes, true, keys);
      }
      if (inString) {
        if (b == '"') {
          quotes++;
          inString = false;
          afterString = depth == 1;
        }
        continue;
      }
      switch (b) {
        case '"':
          quotes++;
          inString = true;
          break;
        case '{':
        case '[':
          depth++;
          afterString = false;
          break;
        case '}':
        case ']':
          depth--;
          afterString = false;
          break;
        case ':':
          if (afterString) {
            keys++;
          }
          afterString = false;
          break;
        case ' ':
        case '\t':
        case '\n':
        case '\r':
          break;
        default:
          afterString = false;
      }
    }
    return RowFactory.create(quotes, false, keys);
  }
}
