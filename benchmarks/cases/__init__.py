"""Benchmark cases, shared by the asv suites (``benchmarks/asv``), the
pytest-benchmark suites (``benchmarks/pytest``) and the report scripts
(``benchmarks/report``).

* :mod:`~benchmarks.cases.metrics` -- image pairs, NMI and joint histogram
  implementations (mireg, scikit-image, the reference, NumPy,
  fast-histogram) and their result checks;
* :mod:`~benchmarks.cases.gradient` -- gradient information, alignment and
  gradient similarity of mireg and the reference, and their checks;
* :mod:`~benchmarks.cases.registration` -- registration cases of known
  truth, the error metric, and the mireg and reference runners;
* :mod:`~benchmarks.cases.peers` -- the SimpleITK and dipy runners;
* :mod:`~benchmarks.cases.batch` -- the pairs of the batch report.
"""

import functools


@functools.cache
def compile_mireg(registration=True):
    """``mireg.warmup(registration=...)``, once per process.  Until mireg's
    kernels have compiled, its first metric calls and registrations in a
    process run twins (the same bits, slower) and a warm-up call would not
    compile them: a timing would measure the twins."""
    import mireg

    mireg.warmup(registration=registration)
