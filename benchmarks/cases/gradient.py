"""The gradient benchmarks' cases: sizes, functions, result checks.

Shared by the pytest-benchmark suite ``benchmarks/pytest/bench_gradient.py``,
the asv suite ``benchmarks/asv/gradient.py`` and the report script
``benchmarks/report/report_gradient.py``.  Images are those of the metric
cases (:func:`benchmarks.cases.metrics.image_pair`): two 'modalities' of
skimage's camera (2-D) or of a smooth random volume (3-D).
"""

from __future__ import annotations

import functools

import numpy as np

import mireg
import mireg.reference

from .metrics import image_pair

SIGMA = 1.5
BINS = 100

CASES = [
    ("256^2", (256, 256), "float64"),
    ("256^2", (256, 256), "float32"),
    ("512^2", (512, 512), "float64"),
    ("512^2", (512, 512), "float32"),
    ("2048^2", (2048, 2048), "float64"),
    ("2048^2", (2048, 2048), "float32"),
    ("128^3", (128, 128, 128), "float64"),
    ("128^3", (128, 128, 128), "float32"),
]

FUNCTIONS = {
    "gradient_information": lambda module, a, b: module.gradient_information(a, b, sigma=SIGMA),
    "alignment": lambda module, a, b: module.alignment(a, b, sigma=SIGMA, bins=BINS),
    "gradient_similarity": lambda module, a, b: module.gradient_similarity(a, b, sigma=SIGMA),
}
IMPLEMENTATIONS = {"mireg": mireg, "reference": mireg.reference}
RTOL = 1e-9
# The reference is skipped where one call takes longer than this.
REFERENCE_LIMIT_SECONDS = 10.0


@functools.cache
def mireg_result(function, shape, dtype):
    """mireg's result for the pair; the first call also compiles the kernels."""
    return FUNCTIONS[function](mireg, *image_pair(shape, dtype))


def check(function, result, shape, dtype):
    """Assert ``result`` is mireg's for ``function`` on the pair, to ``RTOL``."""
    np.testing.assert_allclose(
        result, mireg_result(function, shape, dtype), rtol=RTOL, atol=0, err_msg=function
    )
