package io.ottlake.spark;

import java.util.Objects;

import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.codegen.CodegenContext;
import org.apache.spark.sql.catalyst.expressions.codegen.Block;
import org.apache.spark.sql.catalyst.expressions.codegen.CodeGenerator;
import org.apache.spark.sql.catalyst.expressions.codegen.ExprCode;
import org.apache.spark.sql.classic.SparkSession;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.unsafe.types.UTF8String;

import scala.StringContext;
import scala.collection.immutable.IndexedSeq;
import scala.collection.immutable.Seq;
import scala.jdk.javaapi.CollectionConverters;
import scala.runtime.AbstractFunction1;

/**
 * EventCheck as a Catalyst expression: {@code name(line, object_ts_ms)}, the line a
 * string, its raw object's write time (epoch ms) a long, the check's row out as Spark's
 * own internal row.
 *
 * <p>Why not a Java UDF: a UDF's result is a {@code Row} of Java values, which Spark
 * converts field by field into its internal row (CatalystTypeConverters: a type
 * dispatch per value, every string encoded to UTF-8 again), and its input a
 * {@code byte[]} the caller made by casting the line. Here the check writes the
 * internal values itself and reads the line's bytes as Spark holds them.
 *
 * <p>Generated code calls the check as {@link #eval} does (a null line gives null; a
 * null write time is passed on: the check then has no fallback for received_ts). It is
 * generated, not left to CodegenFallback, which would keep the projection out of
 * whole-stage code: the check's struct would then be copied into an UnsafeRow before
 * its fields are read (the checks of 3M lines: 12.0-12.2 s that way, warm).
 */
public final class EventCheckExpression extends Expression implements java.io.Serializable {
  private static final long serialVersionUID = 1L;

  private final Expression line;
  private final Expression objectTsMs;
  private final EventCheck check;
  private final DataType type;
  private final Seq<Expression> children;

  public EventCheckExpression(Expression line, Expression objectTsMs, EventCheck check, DataType type) {
    this.line = line;
    this.objectTsMs = objectTsMs;
    this.check = check;
    this.type = type;
    this.children = CollectionConverters.asScala(java.util.List.of(line, objectTsMs)).toList();
  }

  /**
   * Registers {@code name(line, object_ts_ms)} in the session, checking lines against
   * `rulebook` into rows of `type` (the caller owns the layout: contract_checks.py). The
   * rulebook is compiled now: a bad one fails here, with EventCheck's reason.
   */
  public static void register(SparkSession spark, String name, String rulebook, DataType type) {
    EventCheck check = new EventCheck(rulebook);
    spark.sessionState().functionRegistry().createOrReplaceTempFunction(name, new Builder(name, check, type),
        "java_udf");
  }

  /** Builds the expression from a call's arguments. */
  private static final class Builder extends AbstractFunction1<Seq<Expression>, Expression>
      implements java.io.Serializable {
    private static final long serialVersionUID = 1L;
    private final String name;
    private final EventCheck check;
    private final DataType type;

    Builder(String name, EventCheck check, DataType type) {
      this.name = name;
      this.check = check;
      this.type = type;
    }

    @Override
    public Expression apply(Seq<Expression> arguments) {
      if (arguments.size() != 2) {
        throw new IllegalArgumentException(
            name + " takes 2 arguments (line, object_ts_ms), not " + arguments.size());
      }
      return new EventCheckExpression(arguments.apply(0), arguments.apply(1), check, type);
    }
  }

  @Override
  public Object eval(InternalRow input) {
    Object text = line.eval(input);
    if (text == null) {
      return null;
    }
    Object ts = objectTsMs.eval(input);
    return check.check(((UTF8String) text).getBytes(), (Long) ts);
  }

  @Override
  public ExprCode doGenCode(CodegenContext ctx, ExprCode ev) {
    ExprCode text = line.genCode(ctx);
    ExprCode ts = objectTsMs.genCode(ctx);
    String checker = ctx.addReferenceObj("eventCheck", check, EventCheck.class.getName());
    Block code = code(
        "$\n$\nboolean $ = $;\n$ $ = null;\nif (!$) {\n  $ = $.check($.getBytes(), $ ? null : Long.valueOf($));\n}",
        text.code(), ts.code(), ev.isNull(), text.isNull(), CodeGenerator.javaType(type), ev.value(),
        ev.isNull(), ev.value(), checker, text.value(), ts.isNull(), ts.value());
    return ev.copy(code, ev.isNull(), ev.value());
  }

  /** Spark's code"..." interpolation: `template`'s each "$" replaced by the next of `args`. */
  private static Block code(String template, Object... args) {
    Seq<String> parts = CollectionConverters.asScala(java.util.List.of(template.split("\\$", -1))).toList();
    return new Block.BlockHelper(new StringContext(parts)).code(
        CollectionConverters.asScala(java.util.List.of(args)).toList());
  }

  @Override
  public boolean nullable() {
    return line.nullable();
  }

  @Override
  public DataType dataType() {
    return type;
  }

  @Override
  public Seq<Expression> children() {
    return children;
  }

  @Override
  public Expression withNewChildrenInternal(IndexedSeq<Expression> children) {
    return new EventCheckExpression(children.apply(0), children.apply(1), check, type);
  }

  /** What plans print of it: the arguments, not the rulebook and the check's type. */
  @Override
  public scala.collection.Iterator<Object> flatArguments() {
    return CollectionConverters.asScala(java.util.List.<Object>of(line, objectTsMs).iterator());
  }

  // A case class's Product, which Spark's tree nodes copy and compare by.

  @Override
  public int productArity() {
    return 4;
  }

  @Override
  public Object productElement(int n) {
    switch (n) {
      case 0:
        return line;
      case 1:
        return objectTsMs;
      case 2:
        return check;
      case 3:
        return type;
      default:
        throw new IndexOutOfBoundsException(String.valueOf(n));
    }
  }

  @Override
  public boolean canEqual(Object other) {
    return other instanceof EventCheckExpression;
  }

  @Override
  public boolean equals(Object other) {
    if (!(other instanceof EventCheckExpression)) {
      return false;
    }
    EventCheckExpression that = (EventCheckExpression) other;
    return line.equals(that.line) && objectTsMs.equals(that.objectTsMs) && check.equals(that.check)
        && type.equals(that.type);
  }

  @Override
  public int hashCode() {
    return Objects.hash(line, objectTsMs, check, type);
  }
}
