"""mireg's benchmarks, one folder per harness, the cases they share in one.

* ``cases/`` -- what is measured: images, registration cases, the
  implementations and peers, and the checks of their results;
* ``asv/`` -- asv suites (``asv run``; ``benchmark_dir`` of ``asv.conf.json``);
* ``pytest/`` -- pytest-benchmark suites
  (``python -m pytest benchmarks/pytest/bench_metrics.py --benchmark-enable``);
* ``report/`` -- scripts that print the README's tables
  (``python benchmarks/report/report_metrics.py``); ``cold_start.py`` here
  runs ``report/cold_start.py`` (first use, cold and warm Numba cache).
"""
