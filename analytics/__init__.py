"""What analysts use: SQL over the lake's Delta tables (DuckDB through delta-rs, or
Spark SQL) and the day's QoE report. A component: it imports the contract and the
core, never another component."""
