"""pytest-benchmark suite: mireg's gradient information, alignment and
gradient similarity against mireg.reference, one group per function, size
and dtype (so the ratio reads off each group's table).

Run with::

    PYTHONPATH=src python -m pytest benchmarks/pytest/bench_gradient.py --benchmark-enable -q

(pyproject's ``addopts`` disables benchmarks by default);
``benchmarks/report/report_gradient.py`` prints the README's tables.  Every
benchmark checks its result against mireg's, so none can silently time
broken code.  Sizes, functions and checks: :mod:`benchmarks.cases.gradient`.
"""

from __future__ import annotations

import functools
import timeit

import numpy as np
import pytest

import mireg

from ..cases.gradient import (
    BINS,
    CASES,
    FUNCTIONS,
    IMPLEMENTATIONS,
    REFERENCE_LIMIT_SECONDS,
    SIGMA,
    check,
    image_pair,
    mireg_result,
)


@pytest.mark.parametrize("implementation", list(IMPLEMENTATIONS))
@pytest.mark.parametrize(
    ("size", "shape", "dtype"), CASES, ids=[f"{size}-{dtype}" for size, _, dtype in CASES]
)
@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_gradient(benchmark, function, size, shape, dtype, implementation):
    image0, image1 = image_pair(shape, dtype)
    mireg_result(function, shape, dtype)  # warm-up: compile outside the timing
    module = IMPLEMENTATIONS[implementation]
    run = functools.partial(FUNCTIONS[function], module, image0, image1)
    benchmark.group = f"{function}-{size}-{dtype}"
    benchmark.extra_info["pixels"] = int(np.prod(shape))
    if implementation == "reference":
        start = timeit.default_timer()
        result = run()
        seconds = timeit.default_timer() - start
        if seconds > REFERENCE_LIMIT_SECONDS:
            pytest.skip(f"the reference takes {seconds:.0f} s a call here")
        check(function, result, shape, dtype)
        result = benchmark.pedantic(run, rounds=3 if seconds > 0.1 else 10, iterations=1)
    else:
        result = benchmark(run)
    check(function, result, shape, dtype)


@pytest.mark.parametrize(
    ("size", "shape", "dtype"),
    [c for c in CASES if c[2] == "float64"],
    ids=[f"{s}-{d}" for s, _, d in CASES if d == "float64"],
)
def test_alignment_metric(benchmark, size, shape, dtype):
    """One evaluation of a registration's cost: the reference's work done once."""
    image0, image1 = image_pair(shape, dtype)
    metric = mireg.AlignmentMetric(image0, sigma=SIGMA, bins=BINS)
    metric(image1)
    benchmark.group = f"alignment-{size}-{dtype}"
    result = benchmark(metric, image1)
    check("alignment", result, shape, dtype)
