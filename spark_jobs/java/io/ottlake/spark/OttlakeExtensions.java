package io.ottlake.spark;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

import org.apache.spark.sql.SparkSessionExtensions;
import org.apache.spark.sql.catalyst.FunctionIdentifier;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.ExpressionInfo;
import org.apache.spark.unsafe.types.UTF8String;

import scala.Tuple3;
import scala.collection.immutable.Seq;
import scala.runtime.AbstractFunction1;
import scala.runtime.BoxedUnit;

/**
 * ottlake's SQL functions, registered in every session that names this class in
 * {@code spark.sql.extensions} (Spark's supported way to extend a session by
 * configuration alone: {@code spark-submit --conf spark.sql.extensions=...} on EMR, the
 * same setting in spark_jobs/spark.py's local session):
 *
 * <ul>
 *   <li>{@code ottlake_event_check(line, object_ts_ms, rulebook)}: bronze's check of one
 *       raw line (EventCheck), the rulebook a string literal;
 *   <li>{@code ottlake_play_session_fold(events, gap_ms)}: the play-session fold
 *       (PlaySessionFold).
 * </ul>
 *
 * <p>First it checks that the session's Spark and Scala are the ones the jar was compiled
 * against (build.properties, written by spark_jobs/jars.py): the functions are Catalyst
 * expressions, whose classes are Spark's internals and change between releases
 * (spark_jobs/java/NON_PUBLIC_APIS.md), so a session with another Spark refuses the jar
 * in one line naming both versions instead of failing later in generated code.
 */
public final class OttlakeExtensions extends AbstractFunction1<SparkSessionExtensions, BoxedUnit> {
  public static final String EVENT_CHECK = "ottlake_event_check";
  public static final String PLAY_SESSION_FOLD = "ottlake_play_session_fold";

  @Override
  public BoxedUnit apply(SparkSessionExtensions extensions) {
    requireCompiledSpark(runtimeSparkVersion(), scala.util.Properties.versionNumberString());
    extensions.injectFunction(function(EVENT_CHECK, EventCheck.class, new FunctionBuilder(EVENT_CHECK, 3) {
      @Override
      Expression build(Seq<Expression> arguments) {
        return new KernelExpression(EVENT_CHECK, arguments.apply(0), arguments.apply(1),
            new EventCheck(literal(arguments.apply(2))));
      }
    }));
    extensions.injectFunction(function(PLAY_SESSION_FOLD, PlaySessionFold.class,
        new FunctionBuilder(PLAY_SESSION_FOLD, 2) {
          @Override
          Expression build(Seq<Expression> arguments) {
            return new KernelExpression(PLAY_SESSION_FOLD, arguments.apply(0), arguments.apply(1),
                new PlaySessionFold());
          }
        }));
    return BoxedUnit.UNIT;
  }

  private static Tuple3<FunctionIdentifier, ExpressionInfo, scala.Function1<Seq<Expression>, Expression>> function(
      String name, Class<?> kernel, FunctionBuilder builder) {
    return new Tuple3<>(FunctionIdentifier.apply(name), new ExpressionInfo(kernel.getName(), name), builder);
  }

  /** Builds a call's expression from its arguments, after checking how many there are. */
  private abstract static class FunctionBuilder extends AbstractFunction1<Seq<Expression>, Expression>
      implements java.io.Serializable {
    private static final long serialVersionUID = 1L;
    private final String name;
    private final int arity;

    FunctionBuilder(String name, int arity) {
      this.name = name;
      this.arity = arity;
    }

    abstract Expression build(Seq<Expression> arguments);

    @Override
    public Expression apply(Seq<Expression> arguments) {
      if (arguments.size() != arity) {
        throw new IllegalArgumentException(name + " takes " + arity + " arguments, not " + arguments.size());
      }
      return build(arguments);
    }

    /** A string literal argument's value (the rulebook). */
    String literal(Expression argument) {
      Object value = argument.foldable() ? argument.eval(null) : null;
      if (!(value instanceof UTF8String)) {
        throw new IllegalArgumentException(name + ": the rulebook must be a string literal");
      }
      return value.toString();
    }
  }

  // --- the Spark and Scala the jar was compiled against -------------------------------

  static final String BUILD_INFO = "build.properties";

  /** org.apache.spark.SPARK_VERSION (a Scala package object: `package` is a Java keyword). */
  static String runtimeSparkVersion() {
    try {
      Class<?> spark = Class.forName("org.apache.spark.package$");
      Object module = spark.getField("MODULE$").get(null);
      return (String) spark.getMethod("SPARK_VERSION").invoke(module);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("cannot read this session's Spark version: " + e, e);
    }
  }

  /** Refuses a session whose Spark or Scala is not the jar's, in one line naming both. */
  static void requireCompiledSpark(String sparkVersion, String scalaVersion) {
    Properties built = buildInfo();
    String builtSpark = built.getProperty("spark.version");
    String builtScala = built.getProperty("scala.binary.version");
    if (!release(sparkVersion).equals(builtSpark) || !binary(scalaVersion).equals(builtScala)) {
      throw new IllegalStateException("ottlake's jar was compiled for Spark " + builtSpark + " (Scala " + builtScala
          + ") but this session runs Spark " + sparkVersion + " (Scala " + scalaVersion
          + "): build it against this Spark (python -m spark_jobs.jars build) or run the Spark it was built for");
    }
  }

  static Properties buildInfo() {
    Properties properties = new Properties();
    try (InputStream in = OttlakeExtensions.class.getResourceAsStream(BUILD_INFO)) {
      if (in == null) {
        throw new IllegalStateException("ottlake's jar has no " + BUILD_INFO + ": rebuild it");
      }
      properties.load(in);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read ottlake's " + BUILD_INFO + ": " + e, e);
    }
    return properties;
  }

  /** "4.1.1" of "4.1.1" or a vendor's "4.1.1-amzn-0": the release, without a build suffix. */
  static String release(String version) {
    int end = 0;
    while (end < version.length() && (Character.isDigit(version.charAt(end)) || version.charAt(end) == '.')) {
      end++;
    }
    return version.substring(0, end);
  }

  /** "2.13" of "2.13.16": Scala's binary version. */
  static String binary(String version) {
    String[] parts = release(version).split("\\.");
    return parts.length < 2 ? version : parts[0] + "." + parts[1];
  }
}
