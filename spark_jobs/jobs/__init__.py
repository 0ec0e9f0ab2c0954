"""Job entry points: `main(argv)` for spark-submit, `run(...)` for the batch command.

Each job reads what changed since its last run, transforms, and writes with Delta
MERGE; emr.steps lists them in order, and emr.local runs that list in one SparkSession.
"""
