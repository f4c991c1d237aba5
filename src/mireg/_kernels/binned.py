"""A reference image binned once, many moving images (``AlignmentMetric``).

The reference's bins are computed once (``bin_indices``); each call bins
only the moving image's values, with the kernels and exactness of
``histogram``, into the same count tables.  ``mask`` arguments are flat
uint8 (1 = counted) or empty for everywhere.
"""
import numpy as np
from numba import njit, prange

from .._config import HISTOGRAM_BLOCK, HISTOGRAM_FLUSH
from .histogram import (_add_copies, _edge_at, _estimate, _fast_estimate,
                        _linspace_step, _merged_counts, _tables, _walked_bin, value_range)


@njit(cache=True, nogil=True)
def _bin_values(values, edges, fit, index):
    """``index[j]`` = the bin of ``values[j]``; ``fit`` is
    ``_fast_estimate(edges)``.  Values outside the edges (uncounted ones)
    get some index in [-1, n - 1]."""
    scale, offset, fast = fit
    if fast:
        step = _linspace_step(edges)
        last = np.float64(edges.size - 2)
        for j in range(values.size):
            x = np.float64(values[j])
            k = min(max(_estimate(x, scale, offset), 0.0), last)
            index[j] = np.int32(k - (1.0 if x < _edge_at(k, step, edges[0]) else 0.0))
    else:
        for j in range(values.size):
            index[j] = _walked_bin(np.float64(values[j]), edges, scale)


@njit(cache=True, nogil=True)
def bin_indices(values, edges, mask):
    """The bin ``np.histogramdd`` gives each value for ``edges`` (int32),
    -1 where ``mask`` is 0.  Every counted value lies within the edges."""
    bins = np.empty(values.size, np.int32)
    _bin_values(values, edges, _fast_estimate(edges), bins)
    if mask.size:
        for i in range(values.size):
            if not mask[i]:
                bins[i] = -1
    return bins


@njit(cache=True, nogil=True)
def masked_value_range(values, mask, start, stop):
    """(min, max, finite, any) of ``values[start:stop]`` where ``mask``.

    ``finite`` is of every value, counted or not; ``any`` is False (and
    min, max meaningless) if no value in the range is counted.
    """
    if not mask.size:
        lo, hi, finite = value_range(values, start, stop)
        return lo, hi, finite, True
    lo = values[start]
    hi = values[start]
    found = False
    z = values[start] * 0
    for i in range(start, stop):
        x = values[i]
        z += x * 0
        if mask[i]:
            if found:
                lo = min(lo, x)
                hi = max(hi, x)
            else:
                lo = x
                hi = x
                found = True
    return lo, hi, z == 0, found


@njit(cache=True, nogil=True, parallel=True)
def masked_value_range_parallel(values, mask, n_chunks):
    """``masked_value_range`` of all values, in ``n_chunks`` parallel chunks."""
    size = values.size
    step = (size + n_chunks - 1) // n_chunks
    los = np.empty(n_chunks, values.dtype)
    his = np.empty(n_chunks, values.dtype)
    oks = np.ones(n_chunks, np.bool_)
    founds = np.zeros(n_chunks, np.bool_)
    for c in prange(n_chunks):
        start = c * step
        stop = min(size, start + step)
        if start < stop:
            los[c], his[c], oks[c], founds[c] = masked_value_range(values, mask, start, stop)
    lo = values[0]
    hi = values[0]
    found = False
    for c in range(n_chunks):
        if founds[c]:
            lo = min(lo, los[c]) if found else los[c]
            hi = max(hi, his[c]) if found else his[c]
            found = True
    return lo, hi, oks.all(), found


@njit(cache=True, nogil=True)
def _count_binned(bins0, values1, edges1, fit1, copies, spill, flush_every):
    """``_count_pairs`` with the first value's bin given (-1: not counted),
    into the same (n0 + 1) x (n1 + 1) tables; uncounted values may lie
    outside the edges."""
    row = edges1.size
    copies[:] = 0
    four = copies.shape[0] == 4
    index = np.empty(HISTOGRAM_BLOCK, np.int32)
    size = bins0.size
    for flush in range(0, size, flush_every):
        stop = min(size, flush + flush_every)
        for block in range(flush, stop, HISTOGRAM_BLOCK):
            end = min(block + HISTOGRAM_BLOCK, stop)
            _bin_values(values1[block:end], edges1, fit1, index)
            rows = bins0[block:end]
            if four:
                for j in range(end - block):
                    if rows[j] >= 0:
                        copies[j & 3, rows[j] * row + index[j]] += 1
            else:
                for j in range(end - block):
                    if rows[j] >= 0:
                        copies[0, rows[j] * row + index[j]] += 1
        if spill.size:
            _add_copies(copies, spill)


@njit(cache=True, nogil=True)
def joint_histogram_binned(bins0, n_bins0, values1, edges1):
    """Joint histogram (int64, (n_bins0, edges1.size - 1)) of pixels whose
    first bin ``bins0`` is given (-1: not counted) and second value is
    binned as ``joint_histogram`` does."""
    copies, spill = _tables(1, bins0.size, n_bins0 + 1, edges1.size)
    _count_binned(bins0, values1, edges1, _fast_estimate(edges1), copies[0], spill[0],
                  HISTOGRAM_FLUSH)
    return _merged_counts(copies, spill, n_bins0, edges1.size - 1)


@njit(cache=True, nogil=True, parallel=True)
def joint_histogram_binned_parallel(bins0, n_bins0, values1, edges1, n_chunks):
    """``joint_histogram_binned`` with private tables per chunk: the same
    counts."""
    fit1 = _fast_estimate(edges1)
    size = bins0.size
    step = (size + n_chunks - 1) // n_chunks
    copies, spill = _tables(n_chunks, step, n_bins0 + 1, edges1.size)
    for c in prange(n_chunks):
        start = min(size, c * step)
        stop = min(size, start + step)
        _count_binned(bins0[start:stop], values1[start:stop], edges1, fit1, copies[c],
                      spill[c], HISTOGRAM_FLUSH)
    return _merged_counts(copies, spill, n_bins0, edges1.size - 1)
