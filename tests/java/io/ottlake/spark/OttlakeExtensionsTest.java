package io.ottlake.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** The jar's record of the Spark it was compiled against, and the refusal of another. */
class OttlakeExtensionsTest {
  @Test
  void versionsAreComparedWithoutAVendorsSuffix() {
    assertEquals("4.1.1", OttlakeExtensions.release("4.1.1-amzn-0"));
    assertEquals("4.1.1", OttlakeExtensions.release("4.1.1"));
    assertEquals("2.13", OttlakeExtensions.binary("2.13.17"));
  }

  @Test
  void theJarRecordsTheSparkItWasCompiledAgainst() {
    String spark = OttlakeExtensions.buildInfo().getProperty("spark.version");
    assertEquals(OttlakeExtensions.runtimeSparkVersion(), spark); // compiled against the Spark it runs with here
    OttlakeExtensions.requireCompiledSpark(spark + "-amzn-1", scala.util.Properties.versionNumberString());
  }

  @Test
  void anotherSparkOrScalaIsRefusedInOneLineNamingBoth() {
    String built = OttlakeExtensions.buildInfo().getProperty("spark.version");
    IllegalStateException spark = assertThrows(IllegalStateException.class,
        () -> OttlakeExtensions.requireCompiledSpark("4.0.2", "2.13.16"));
    assertEquals("ottlake's jar was compiled for Spark " + built + " (Scala 2.13) but this session runs Spark 4.0.2"
        + " (Scala 2.13.16): build it against this Spark (python -m spark_jobs.jars build) or run the Spark it was"
        + " built for", spark.getMessage());
    IllegalStateException scala = assertThrows(IllegalStateException.class,
        () -> OttlakeExtensions.requireCompiledSpark(built, "2.12.18"));
    assertEquals(-1, scala.getMessage().indexOf('\n'));
  }
}
