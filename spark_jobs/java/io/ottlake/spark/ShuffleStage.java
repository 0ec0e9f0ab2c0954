package io.ottlake.spark;

import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.execution.LogicalRDD;
import org.apache.spark.sql.execution.LogicalRDD$;

/**
 * A frame computed once and stored as the shuffle files of its last exchange, then read
 * by every query that follows as a plain scan of those files.
 *
 * <p>{@link #of} runs the frame's plan up to its last shuffle (the map side: every row
 * computed, serialized and written, compressed, to the local shuffle files, which is what
 * Spark writes fastest) and returns a frame over the reduce side of that shuffle. Every
 * query on the returned frame reads the same shuffle output again: the map side is not
 * run a second time, as for any RDD whose shuffle has been computed. Nothing is held in
 * memory (unlike {@code persist}, which builds columnar batches, or {@code
 * localCheckpoint}, which keeps the rows as objects), and if an executor loses its
 * shuffle files, Spark recomputes them from the frame's lineage, as it would for any
 * shuffle. The files go when the frame is garbage collected (Spark's ContextCleaner).
 *
 * <p>Why: bronze reads its checked rows several times (the tally, the dedup, the
 * quarantine, the gate, the append). Stored as Parquet, the rows were encoded once for
 * the staging and once more for bronze; at 3M events writing the staging cost 7 to 10 s
 * over the checks, the shuffle files about nothing (see BENCHMARKS.md).
 *
 * <p>It is built on Spark's own pieces, as {@code Dataset.localCheckpoint} is (a logical
 * plan over an RDD of the frame's rows), without the checkpoint.
 */
public final class ShuffleStage {
  private ShuffleStage() {}

  /** {@code frame}, which ends in a repartition, computed up to that shuffle. */
  public static Dataset<Row> of(Dataset<Row> frame) {
    org.apache.spark.sql.classic.Dataset<Row> classic = (org.apache.spark.sql.classic.Dataset<Row>) frame;
    // Executing the adaptive plan materializes its shuffle stages now; the RDD it returns
    // reads their output.
    RDD<InternalRow> rows = classic.queryExecution().executedPlan().execute();
    LogicalRDD plan = LogicalRDD$.MODULE$.fromDataset(rows, classic, false);
    return org.apache.spark.sql.classic.Dataset$.MODULE$.ofRows(classic.sparkSession(), plan);
  }

  /**
   * What {@code frame} observed under {@code name} ({@code Dataset.observe}) while {@link #of}
   * computed it, as the JSON of the metrics' row; null when it observed nothing by that name.
   * The metrics are aggregated as the map side runs, so they cost no pass of their own.
   */
  public static String observed(Dataset<Row> frame, String name) {
    org.apache.spark.sql.classic.Dataset<Row> classic = (org.apache.spark.sql.classic.Dataset<Row>) frame;
    scala.Option<Row> metrics = classic.queryExecution().observedMetrics().get(name);
    return metrics.isDefined() ? metrics.get().json() : null;
  }
}
