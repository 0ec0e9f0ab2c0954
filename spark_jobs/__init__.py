"""spark_jobs: see ../shared/DESIGN.md (not built yet)."""
