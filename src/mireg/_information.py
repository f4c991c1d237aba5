"""Mutual information from value ranges, bin edges and counts: the steps
that ``metrics``, ``gradient.alignment`` and ``AlignmentMetric`` share.

The kernels they run (serial or parallel, see ``_parallel``):

=========================== ==============================================
``checked_ranges``          ``_kernels.ranges.value_ranges``
``joint_counts``            ``_kernels.histogram.joint_histogram``
``information_from_ranges`` ``joint_histogram``, then
                            ``_kernels.entropy.edge_entropies``
``information_from_counts`` ``_kernels.entropy.entropies``
=========================== ==============================================

The counts kernel is compiled for each pair of dtypes; the entropies, which
do not depend on them, are a kernel of their own, compiled once.

``histogram_edges`` builds the edges ``np.histogramdd`` would, so the
counts are NumPy's and the entropies scikit-image's.  Values reach the
kernels as flat kernel views (``_validation.kernel_view``) of one size.
"""

from __future__ import annotations

import math

import numpy as np

from . import _twins
from ._config import SERIAL_PAIR_SECONDS, SERIAL_RANGE_SECONDS
from ._kernels import histogram, ranges
from ._kernels.entropy import edge_entropies, entropies
from ._parallel import run_kernel

__all__ = [
    "LOG_TABLE",
    "binning_scale",
    "scaled_values",
    "checked_ranges",
    "histogram_edges",
    "kernel_edges",
    "joint_counts",
    "information_from_counts",
    "information_from_ranges",
]

# log(c) for the counts most bins hold; entropies() falls back to np.log above
LOG_TABLE = np.log(np.maximum(np.arange(1 << 16, dtype=np.float64), 1.0))

_FLOAT64 = np.dtype(np.float64)


def checked_ranges(values0, values1, names):
    """((min0, max0), (min1, max1)) of two flat kernel views of one size, in
    one pass each; ValueError naming the argument on NaN or inf."""
    found = run_kernel(
        ranges.value_ranges,
        ranges.value_ranges_parallel,
        values0,
        values1,
        size=values0.size,
        seconds_per_item=SERIAL_RANGE_SECONDS,
        twin=_twins.value_ranges,
    )
    for (_, _, finite), values, name in zip(found, (values0, values1), names):
        if not finite:
            _raise_nonfinite(values, name)
    return found[0][:2], found[1][:2]


def _raise_nonfinite(values, name):
    n_nan = int(np.count_nonzero(np.isnan(values)))
    n_inf = int(np.count_nonzero(np.isinf(values)))
    raise ValueError(
        f"`{name}` contains {n_nan} NaN and {n_inf} infinite value(s); mask or replace them first"
    )


def binning_scale(lo, hi, common_dtype, n_bins):
    """The power of two ``k`` by which values of range [lo, hi] are scaled
    (``np.ldexp(values, k)``) before they are binned on float64 edges: 0
    for any range within [2**-200 * n_bins, 2**200], which keeps NumPy's
    edges and counts to the bit.

    Only the bins matter, and scaling by a power of two is exact, so it
    changes no bin while keeping the arithmetic finite where it would not
    be: a width that overflows the edges' dtype (``+-1e308``), bins so
    narrow that their densities ``count / width0 / width1`` overflow
    (``a * 1e-300``, where NumPy's own densities still fit scikit-image's
    value comes out), or subnormal edges (``a * 1e-310``), which lose the
    bits that tell bins apart."""
    if common_dtype != _FLOAT64 or not lo < hi:
        # float32 and float16 edges keep NumPy's (or its too-wide error)
        return 0
    width = float(hi) - float(lo)
    if 2.0**-200 * n_bins <= width <= 2.0**200:
        return 0
    if math.isinf(width):  # the halves' difference is finite
        return -(math.frexp(float(hi) / 2 - float(lo) / 2)[1] + 1)
    return -math.frexp(width)[1]


def scaled_values(values, value_range, k):
    """``values`` and their (min, max) scaled by ``2**k`` (see
    :func:`binning_scale`); a new array unless ``k`` is 0."""
    if k == 0:
        return values, value_range
    lo, hi = value_range
    return np.ldexp(values, k), (np.ldexp(lo, k), np.ldexp(hi, k))


def histogram_edges(lo, hi, common_dtype, n_bins, name="image"):
    """Bin edges exactly as ``np.histogramdd`` builds them for data whose
    minimum and maximum (in the stacked dtype) are ``lo`` and ``hi``.

    A range whose width overflows the edges' dtype (NumPy then makes NaN
    edges and fails obscurely) raises ValueError naming ``name``.
    """
    if common_dtype == _FLOAT64 and lo != hi:
        # the usual case, without NumPy scalars: the same edges
        if not math.isfinite(float(hi) - float(lo)):
            _raise_too_wide(lo, hi, n_bins, common_dtype, name)
        return np.linspace(float(lo), float(hi), n_bins + 1)
    first = np.asarray(lo).astype(common_dtype)[()]
    last = np.asarray(hi).astype(common_dtype)[()]
    if first == last:
        # numpy widens an empty range by 0.5 on each side, in scalar arithmetic
        first = first - 0.5
        last = last + 0.5
    with np.errstate(over="ignore", invalid="ignore"):
        edges = np.linspace(first, last, n_bins + 1)
    if not np.isfinite(edges).all():
        _raise_too_wide(lo, hi, n_bins, edges.dtype, name)
    return edges


def _raise_too_wide(lo, hi, n_bins, dtype, name):
    raise ValueError(
        f"`{name}` spans [{lo}, {hi}], a range too wide to split into {n_bins} bins in {dtype}"
    )


def kernel_edges(edges):
    """Bin edges as the histogram kernels take them: float32 and float64
    as they are, float16 widened (exactly) to float32."""
    return edges if edges.dtype.itemsize >= 4 else edges.astype(np.float32)


def joint_counts(values0, values1, edges0, edges1):
    """Joint histogram (int64) of two flat kernel views on these edges."""
    return run_kernel(
        histogram.joint_histogram,
        histogram.joint_histogram_parallel,
        values0,
        values1,
        kernel_edges(edges0),
        kernel_edges(edges1),
        size=values0.size,
        seconds_per_item=SERIAL_PAIR_SECONDS,
        twin=_twins.joint_histogram,
    )


def information_from_counts(counts, edges0, edges1, normalized, names=("image0", "image1")):
    """MI (or NMI) of an int64 joint histogram with bin edges ``edges0``,
    ``edges1``, computed exactly as :func:`mireg.mutual_information`
    computes it from its own histogram.  For callers that bin one image
    once and many others against it (``mireg.AlignmentMetric``)."""
    widths0 = _moderate(np.diff(edges0).astype(np.float64))
    widths1 = _moderate(np.diff(edges1).astype(np.float64))
    h0, h1, h01 = _twins.kernel_or_twin(
        entropies, _twins.entropies, counts, widths0, widths1, LOG_TABLE, size=counts.size
    )
    return _from_entropies(h0, h1, h01, normalized, names)


def _moderate(widths):
    """Bin widths scaled by a power of two (exactly) when they are so small
    or large that the densities ``count / width0 / width1`` could overflow
    or underflow; entropies do not change with a common scale of the
    widths.  Ordinary widths are returned as they are."""
    top = float(widths.max())
    if 2.0**-200 <= top <= 2.0**200:
        return widths
    return np.ldexp(widths, -math.frexp(top)[1])


def information_from_ranges(
    values0, values1, common, range0, range1, n_bins, normalized, names=("image0", "image1")
):
    """:func:`mireg.mutual_information` of two flat kernel views of the same
    size whose minimum and maximum (in their own dtypes) are already known
    and finite, e.g. from a pass that read them for something else
    (``mireg.alignment``); ``common`` is the dtype ``np.histogramdd`` stacks
    the original images in, ``n_bins`` a pair from ``bins_pair``."""
    values0, range0 = scaled_values(
        values0, range0, binning_scale(*range0, np.dtype(common), n_bins[0])
    )
    values1, range1 = scaled_values(
        values1, range1, binning_scale(*range1, np.dtype(common), n_bins[1])
    )
    edges0 = histogram_edges(*range0, common, n_bins[0], names[0])
    edges1 = histogram_edges(*range1, common, n_bins[1], names[1])
    counts = joint_counts(values0, values1, edges0, edges1)
    if edges0.dtype.itemsize == 2:  # float16 widths: NumPy's, from np.diff
        return information_from_counts(counts, edges0, edges1, normalized, names)
    h0, h1, h01 = _twins.kernel_or_twin(
        edge_entropies, _twins.edge_entropies, counts, edges0, edges1, LOG_TABLE, size=counts.size
    )
    return _from_entropies(h0, h1, h01, normalized, names)


def _from_entropies(h0, h1, h01, normalized, names):
    """MI or NMI from the marginal and joint entropies."""
    if not normalized:
        return np.float64(h0 + h1 - h01)
    if h01 == 0.0:
        raise ValueError(
            f"the joint histogram of `{names[0]}` and `{names[1]}` has a single "
            f"occupied bin (both images constant, or bins=1): their joint entropy "
            f"is 0 and NMI = 0/0 is undefined"
        )
    return np.float64((h0 + h1) / h01)
