"""Report scripts: each prints Markdown tables for the README and reviews,
``python benchmarks/report/report_*.py`` (``--help`` for the options)."""
