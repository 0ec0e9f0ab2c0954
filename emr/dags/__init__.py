"""Airflow DAG files for Amazon MWAA (copy ottlake_batch.py to the environment's dags/)."""
