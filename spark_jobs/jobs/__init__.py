"""Job entry points: `main(argv)` for spark-submit, `run(...)` for the batch command.

Each job reads what changed since its last run, transforms, and writes with Delta
MERGE; `spark_jobs.batch` runs them in order in one SparkSession.
"""
