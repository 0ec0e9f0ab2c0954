"""Data-quality gates (DESIGN.md, `quality/`): great-expectations suites as code,
one per stage (`suites`), the gate that runs them before a stage publishes
(`gate.check`), the results table (`results`) and Data Docs (`docs`)."""
