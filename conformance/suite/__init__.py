"""The conformance tests: one file per workflow. Run with `calls-conformance` (or pytest -p conformance.runner.plugin)."""
