package io.ottlake.spark;

import java.util.Objects;

import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.codegen.Block;
import org.apache.spark.sql.catalyst.expressions.codegen.CodeGenerator;
import org.apache.spark.sql.catalyst.expressions.codegen.CodegenContext;
import org.apache.spark.sql.catalyst.expressions.codegen.ExprCode;
import org.apache.spark.sql.types.DataType;

import scala.StringContext;
import scala.collection.immutable.IndexedSeq;
import scala.collection.immutable.Seq;
import scala.jdk.javaapi.CollectionConverters;

/**
 * One of ottlake's Java functions of two arguments (a {@link Kernel}: EventCheck,
 * PlaySessionFold) as a Catalyst expression: {@code name(first, second)}, taking and
 * returning Spark's own internal values (UTF8String, ArrayData, InternalRow, boxed
 * primitives).
 *
 * <p>Why not a Java UDF: a UDF's arguments and result are Java values ({@code Row},
 * {@code String}, {@code Seq}), which Spark converts value by value on both sides
 * (CatalystTypeConverters: a type dispatch per value, every string decoded or encoded
 * again): ~10% of bronze's first pass, and of the sessions' fold, in Java Flight
 * Recorder profiles at 3M events (BENCHMARKS.md).
 *
 * <p>The functions are registered by OttlakeExtensions, a SparkSessionExtensions provider
 * named in {@code spark.sql.extensions}, so that any session configured with ottlake's jar
 * has them (spark-submit on EMR as well as the local session).
 *
 * <p>A null first argument gives null without a call; the second is passed as it is,
 * null or not. The call is generated code: with CodegenFallback the projection would
 * leave whole-stage code, and a struct result be copied into an UnsafeRow before its
 * fields are read (the checks of 3M lines: 12.0-12.2 s that way, 10.3-11.0 s generated).
 */
public final class KernelExpression extends Expression implements java.io.Serializable {
  private static final long serialVersionUID = 1L;

  /** A function of two internal values; serializable, so that executors get it with the plan. */
  public interface Kernel extends java.io.Serializable {
    /** The result, an internal value of the type the function was registered with. */
    Object apply(Object first, Object second);

    /** The type of the results for arguments of these types; never a primitive type
     * (the generated code holds the result boxed, null or not). */
    DataType resultType(DataType first, DataType second);

    /** This kernel for arguments of these types (one that reads nested values needs them). */
    default Kernel bind(DataType first, DataType second) {
      return this;
    }
  }

  private final String name;
  private final Expression first;
  private final Expression second;
  private final Kernel kernel;
  private final Seq<Expression> children;
  private transient Kernel bound;
  private transient DataType type;

  public KernelExpression(String name, Expression first, Expression second, Kernel kernel) {
    this.name = name;
    this.first = first;
    this.second = second;
    this.kernel = kernel;
    this.children = CollectionConverters.asScala(java.util.List.of(first, second)).toList();
  }

  /** The kernel bound to the arguments' types (resolved by then). */
  private Kernel bound() {
    if (bound == null) {
      bound = kernel.bind(first.dataType(), second.dataType());
    }
    return bound;
  }

  @Override
  public Object eval(InternalRow input) {
    Object value = first.eval(input);
    return value == null ? null : bound().apply(value, second.eval(input));
  }

  @Override
  public ExprCode doGenCode(CodegenContext ctx, ExprCode ev) {
    ExprCode a = first.genCode(ctx);
    ExprCode b = second.genCode(ctx);
    String call = ctx.addReferenceObj("kernel", bound(), Kernel.class.getName().replace('$', '.'));
    String boxed = CodeGenerator.boxedType(second.dataType());
    String result = CodeGenerator.javaType(dataType()); // never a primitive (dataType)
    Block code = code(
        "$\n$\nboolean $ = $;\n$ $ = null;\nif (!$) {\n  $ = ($) $.apply($, $ ? null : ($) $);\n  $ = $ == null;\n}",
        a.code(), b.code(), ev.isNull(), a.isNull(), result, ev.value(),
        ev.isNull(), ev.value(), result, call, a.value(), b.isNull(), boxed, b.value(),
        ev.isNull(), ev.value());
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
    return true;
  }

  /** The kernel's result type for the arguments' types (resolved by then). */
  @Override
  public DataType dataType() {
    if (type == null) {
      DataType result = kernel.resultType(first.dataType(), second.dataType());
      if (CodeGenerator.isPrimitiveType(result)) {
        throw new IllegalArgumentException(name + ": a kernel's result cannot be of the primitive type " + result);
      }
      type = result;
    }
    return type;
  }

  @Override
  public Seq<Expression> children() {
    return children;
  }

  @Override
  public Expression withNewChildrenInternal(IndexedSeq<Expression> newChildren) {
    return new KernelExpression(name, newChildren.apply(0), newChildren.apply(1), kernel);
  }

  @Override
  public String prettyName() {
    return name;
  }

  /** What plans print of it: the arguments, not the kernel. */
  @Override
  public scala.collection.Iterator<Object> flatArguments() {
    return CollectionConverters.asScala(java.util.List.<Object>of(first, second).iterator());
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
        return name;
      case 1:
        return first;
      case 2:
        return second;
      case 3:
        return kernel;
      default:
        throw new IndexOutOfBoundsException(String.valueOf(n));
    }
  }

  @Override
  public boolean canEqual(Object other) {
    return other instanceof KernelExpression;
  }

  @Override
  public boolean equals(Object other) {
    if (!(other instanceof KernelExpression)) {
      return false;
    }
    KernelExpression that = (KernelExpression) other;
    return name.equals(that.name) && first.equals(that.first) && second.equals(that.second)
        && kernel.equals(that.kernel);
  }

  @Override
  public int hashCode() {
    return Objects.hash(name, first, second, kernel);
  }
}
