"""The metric benchmarks' cases: images, implementations, result checks.

Shared by the pytest-benchmark suite ``benchmarks/pytest/bench_metrics.py``,
the asv suite ``benchmarks/asv/metrics.py``, the report script
``benchmarks/report/report_metrics.py`` and the gradient cases
(:mod:`benchmarks.cases.gradient`).  The images are those of ``mireg bench``
(:func:`mireg.cli.bench.image_pair`); the fast-histogram NMI is a peer.
"""

from __future__ import annotations

import functools

import fast_histogram
import numpy as np
import skimage.metrics

import mireg
import mireg.reference
from benchmarks.cases import compile_mireg
from mireg.cli.bench import image_pair as image_pair_float64

BINS = 100

compile_mireg(registration=False)

# (size label, shape, dtype): float64 at every size, other dtypes at 512^2
CASES = [
    ("256^2", (256, 256), "float64"),
    ("512^2", (512, 512), "float64"),
    ("512^2", (512, 512), "float32"),
    ("512^2", (512, 512), "uint8"),
    ("2048^2", (2048, 2048), "float64"),
    ("128^3", (128, 128, 128), "float64"),
]


def to_dtype(image, dtype):
    """``image`` in ``dtype``; uint8 stretched from its minimum and maximum."""
    if dtype == "uint8":
        lo, hi = image.min(), image.max()
        return np.round(255.0 * (image - lo) / (hi - lo)).astype(np.uint8)
    return image.astype(dtype)


@functools.cache
def image_pair(shape, dtype):
    """``mireg.cli.bench.image_pair`` (two modalities of one scene: skimage's
    camera resized for 2-D, a smooth random volume for 3-D, from a fixed
    random state) in ``dtype``.  Cached; treat the arrays as read-only."""
    image, other = image_pair_float64(shape)
    return to_dtype(image, dtype), to_dtype(other, dtype)


def _entropy(counts, total):
    p = counts[counts > 0] / total
    return -np.sum(p * np.log(p))


def fast_histogram_nmi(image0, image1, bins=BINS):
    """NMI on ``fast_histogram.histogram2d``: a peer, not a drop-in (its
    last bin is open, so the maximum values of each image are dropped)."""
    a, b = image0.ravel(), image1.ravel()
    counts = fast_histogram.histogram2d(
        a, b, bins=bins, range=[[a.min(), a.max()], [b.min(), b.max()]]
    )
    total = counts.sum()
    h0 = _entropy(counts.sum(axis=1), total)
    h1 = _entropy(counts.sum(axis=0), total)
    return (h0 + h1) / _entropy(counts, total)


def numpy_joint_histogram(image0, image1, bins=BINS):
    return np.histogramdd([image0.ravel(), image1.ravel()], bins=bins)[0]


def fast_histogram_joint_histogram(image0, image1, bins=BINS):
    a, b = image0.ravel(), image1.ravel()
    return fast_histogram.histogram2d(
        a, b, bins=bins, range=[[a.min(), a.max()], [b.min(), b.max()]]
    )


def mireg_joint_histogram(image0, image1, bins=BINS):
    return mireg.joint_histogram(image0, image1, bins=bins)[0]


NMI_IMPLEMENTATIONS = {
    "mireg": mireg.normalized_mutual_information,
    "skimage": skimage.metrics.normalized_mutual_information,
    "reference": mireg.reference.normalized_mutual_information,
    "fast_histogram": fast_histogram_nmi,
}
# The drop-ins agree to rounding.  The peer drops the pixels at each image's
# maximum (~0.1% of camera's are saturated): ~7e-4 relative at 512^2.
NMI_RTOL = {"mireg": 1e-12, "skimage": 1e-12, "reference": 1e-12, "fast_histogram": 3e-3}

JOINT_HISTOGRAM_IMPLEMENTATIONS = {
    "mireg": mireg_joint_histogram,
    "numpy.histogramdd": numpy_joint_histogram,
    "fast_histogram": fast_histogram_joint_histogram,
}


def check_joint_histogram(name, counts, expected, image0, image1):
    """Exact for the drop-ins; the peer must miss exactly the pixels at
    either image's maximum (its last bin is open at the top)."""
    if name != "fast_histogram":
        np.testing.assert_array_equal(counts, expected)
        return
    at_max = np.count_nonzero((image0 == image0.max()) | (image1 == image1.max()))
    assert counts.shape == expected.shape
    assert counts.sum() == expected.sum() - at_max


@functools.cache
def mireg_nmi(shape, dtype):
    """mireg's NMI of the pair; the first call also compiles the kernels."""
    return mireg.normalized_mutual_information(*image_pair(shape, dtype), bins=BINS)
