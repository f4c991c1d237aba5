"""pytest-benchmark suites: ``python -m pytest benchmarks/pytest/bench_*.py
--benchmark-enable`` (pyproject's ``addopts`` disables benchmarks)."""
