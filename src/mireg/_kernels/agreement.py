"""Pluim's gradient agreement of one pixel, the fixed-order sums of it,
and the merging of per-chunk results: what the fused kernels of
``gradient`` share, and ``agreement_stacks``, the kernel for images of
more than three dimensions (from two gradient stacks).

For the gradients gA and gB of the smoothed images A and B at a pixel:

    value = min(dot^2 / (|gA|^2 |gB|^2), 1) * min(|gA|, |gB|)

(``cos^2`` of the angle between the gradients, clipped to 1, times the
smaller magnitude), or 0 where ``|gA| <= 1e-8`` or ``|gB| <= 1e-8``
(``np.isclose(|g|, 0)``).  That test is made on the squared magnitude
against ``threshold``, the largest double whose square root is <= 1e-8, so
it decides exactly as ``np.isclose(np.sqrt(g2), 0)``.  Squared magnitudes
and dot products add the components in axis order, as
``np.sum(stack, axis=0)`` does.  The value is symmetric in A and B to the
bit.

Sums of values are made in a fixed order (``lane_sum`` per row, the rows
of a plane added in order, ``ordered_sum`` over rows or planes), so they
do not depend on how rows are dealt to threads.
"""

import numpy as np
from numba import njit

from .chunks import ceil_div
from .jit import CALLEE
from .ranges import min_max


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def agreement_value(na2, nb2, dot, threshold):
    """The agreement of a pixel from ``|gA|^2``, ``|gB|^2`` and ``gA . gB``
    (see above)."""
    q = dot * dot / (na2 * nb2)
    q = 1.0 if q > 1.0 else q
    m = na2 if na2 < nb2 else nb2
    v = q * np.sqrt(m)
    return v if (na2 > threshold) & (nb2 > threshold) else 0.0


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def pixel2(a0, a1, b0, b1, threshold):
    """``agreement_value`` of 2-component gradients (a0, a1), (b0, b1)."""
    return agreement_value(a0 * a0 + a1 * a1, b0 * b0 + b1 * b1, a0 * b0 + a1 * b1, threshold)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def pixel3(a0, a1, a2, b0, b1, b2, threshold):
    """``agreement_value`` of 3-component gradients."""
    return agreement_value(
        a0 * a0 + a1 * a1 + a2 * a2,
        b0 * b0 + b1 * b1 + b2 * b2,
        a0 * b0 + a1 * b1 + a2 * b2,
        threshold,
    )


@njit(cache=True, nogil=True, **CALLEE)
def lane_sum(values):
    """Sum in eight interleaved lanes, then pairwise: a fixed order."""
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    n = values.size
    i = 0
    while i + 8 <= n:
        s0 += values[i]
        s1 += values[i + 1]
        s2 += values[i + 2]
        s3 += values[i + 3]
        s4 += values[i + 4]
        s5 += values[i + 5]
        s6 += values[i + 6]
        s7 += values[i + 7]
        i += 8
    while i < n:
        s0 += values[i]
        i += 1
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))


@njit(cache=True, nogil=True, **CALLEE)
def ordered_sum(values):
    """Sum from first to last."""
    total = 0.0
    for i in range(values.size):
        total += values[i]
    return total


@njit(cache=True, nogil=True)
def neighbours(p, n):
    """Lines (next, prev) and scale of the difference at line ``p`` of an
    axis of length ``n``: central inside, one-sided at the ends, and
    (p, p) for ``n == 1`` (a size-1 axis has no gradient component)."""
    if n == 1:
        return p, p, 1.0
    if p == 0:
        return 1, 0, 1.0
    if p == n - 1:
        return p, p - 1, 1.0
    return p + 1, p - 1, 0.5


@njit(cache=True, nogil=True, inline="always")
def fold_extremes(x, start, n, lo, hi, finite):
    """Fold samples ``x[start:start + n]`` into the running (min, max,
    finite) of an image: one vectorised pass over a line that is about to
    be smoothed (``gradient``'s ``check`` and ``track``)."""
    line_lo, line_hi, line_ok = min_max(x, start, start + n)
    return min(lo, line_lo), max(hi, line_hi), finite and line_ok


@njit(cache=True, nogil=True, **CALLEE)
def chunks_with_work(n, n_chunks):
    """How many of ``chunk_bounds(n, n_chunks, c)`` hold at least one of
    the ``n`` rows (planes): the parallel kernels run only those, so every
    chunk's extremes are of samples it read."""
    return ceil_div(n, ceil_div(n, n_chunks))


@njit(cache=True, nogil=True, **CALLEE)
def chunk_results(n_run, xa, xb):
    """Per-chunk (finite, min a, max a, min b, max b) arrays for ``merge_chunks``."""
    return (
        np.ones(n_run, np.bool_),
        np.empty(n_run, xa.dtype),
        np.empty(n_run, xa.dtype),
        np.empty(n_run, xb.dtype),
        np.empty(n_run, xb.dtype),
    )


@njit(cache=True, nogil=True, **CALLEE)
def merge_chunks(values, oks, lo_a, hi_a, lo_b, hi_b):
    """(sum of ``values``, finite, min a, max a, min b, max b) of per-chunk
    results: the per-row (plane) sums added in order, the extremes of the
    chunks merged."""
    a0, a1, b0, b1 = lo_a[0], hi_a[0], lo_b[0], hi_b[0]
    for c in range(oks.size):
        a0 = lo_a[c] if lo_a[c] < a0 else a0
        a1 = hi_a[c] if hi_a[c] > a1 else a1
        b0 = lo_b[c] if lo_b[c] < b0 else b0
        b1 = hi_b[c] if hi_b[c] > b1 else b1
    return ordered_sum(values), oks.all(), a0, a1, b0, b1


@njit(cache=True, nogil=True, **CALLEE)
def apply_mask(values, mask):
    """Zero the values where ``mask`` (uint8, of their size) is 0."""
    for i in range(values.size):
        values[i] = values[i] if mask[i] else 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def agreement_stacks(ga, gb, threshold, mask, out_map, row_sums):
    """Gradient information of two gradient stacks (ndim, n) of any ndim,
    flat per component: values into ``out_map`` (if size n), summed where
    ``mask`` (if not empty) in the fixed chunks ``row_sums.size`` gives.
    The fallback for more than three dimensions."""
    ndim, n = ga.shape
    values = np.empty(n)
    for i in range(n):
        na2 = ga[0, i] * ga[0, i]
        nb2 = gb[0, i] * gb[0, i]
        dot = ga[0, i] * gb[0, i]
        for d in range(1, ndim):
            na2 += ga[d, i] * ga[d, i]
            nb2 += gb[d, i] * gb[d, i]
            dot += ga[d, i] * gb[d, i]
        values[i] = agreement_value(na2, nb2, dot, threshold)
    if mask.size:
        apply_mask(values, mask)
    if out_map.size == n:
        out_map[:] = values
    n_rows = row_sums.size
    step = n // n_rows
    for r in range(n_rows):
        row_sums[r] = lane_sum(values[r * step : (r + 1) * step])
    return ordered_sum(row_sums)
