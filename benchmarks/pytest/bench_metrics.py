"""pytest-benchmark suite: mireg's NMI against scikit-image, the reference
and a fast-histogram peer, one group per image size and dtype.

Run with::

    PYTHONPATH=src python -m pytest benchmarks/pytest/bench_metrics.py --benchmark-enable -q

(pyproject's ``addopts`` disables benchmarks by default.)  Every benchmark
checks its result against mireg's, so none can silently time broken code.
Images, implementations and checks: :mod:`benchmarks.cases.metrics`.
"""

from __future__ import annotations

import numpy as np
import pytest

from ..cases.metrics import (
    BINS,
    CASES,
    JOINT_HISTOGRAM_IMPLEMENTATIONS,
    NMI_IMPLEMENTATIONS,
    NMI_RTOL,
    check_joint_histogram,
    image_pair,
    mireg_joint_histogram,
    mireg_nmi,
)


@pytest.mark.parametrize("implementation", list(NMI_IMPLEMENTATIONS))
@pytest.mark.parametrize(
    ("size", "shape", "dtype"), CASES, ids=[f"{size}-{dtype}" for size, _, dtype in CASES]
)
def test_nmi(benchmark, size, shape, dtype, implementation):
    image0, image1 = image_pair(shape, dtype)
    expected = mireg_nmi(shape, dtype)  # warm-up: compile outside the timing
    benchmark.group = f"nmi-{size}-{dtype}"
    result = benchmark(NMI_IMPLEMENTATIONS[implementation], image0, image1, bins=BINS)
    np.testing.assert_allclose(result, expected, rtol=NMI_RTOL[implementation])


@pytest.mark.parametrize("implementation", list(JOINT_HISTOGRAM_IMPLEMENTATIONS))
def test_joint_histogram(benchmark, implementation):
    image0, image1 = image_pair((512, 512), "float64")
    expected = mireg_joint_histogram(image0, image1)
    benchmark.group = "joint_histogram-512^2-float64"
    counts = benchmark(JOINT_HISTOGRAM_IMPLEMENTATIONS[implementation], image0, image1)
    check_joint_histogram(implementation, counts, expected, image0, image1)
