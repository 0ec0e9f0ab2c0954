"""The platform the jobs target, in one place: the Amazon EMR release and the Spark,
Delta, Scala and Python it ships (EMR release guide: emr-spark-8.1.0, long-term
support to 2029, Spark 4.1.1, Delta 4.2.0, Scala 2.13, Python 3.11).

The local pins are the open-source builds of exactly these (`pyspark`, `delta-spark`
in pyproject.toml and constraints.txt, Delta's jars in spark_jobs.jars), so what
passes here runs there; tests/unit/test_platform.py fails when a pin and this page
disagree. Moving to a newer EMR release is an edit here and of those two pins, then
`make test`.
"""

from __future__ import annotations

EMR_RELEASE = "emr-spark-8.1.0"
SPARK_VERSION = "4.1.1"
DELTA_VERSION = "4.2.0"
SCALA_BINARY_VERSION = "2.13"
PYTHON_VERSION = "3.11"
# Delta's jar for this Spark line and Scala: io.delta:delta-spark_<spark major.minor>_<scala>.
DELTA_ARTIFACT = f"delta-spark_{'.'.join(SPARK_VERSION.split('.')[:2])}_{SCALA_BINARY_VERSION}"
