"""A reference image binned once, many moving images (``AlignmentMetric``).

The reference's bins are computed once (``bin_indices``); each call bins
only the moving image's values (``joint_histogram_binned`` and its parallel
twin), with the bin search and count tables of ``binning``, so the counts
are those of ``histogram.joint_histogram``.  ``mask`` arguments are flat
uint8 (1 = counted) or empty for everywhere; the masked range scan is in
``ranges``.
"""

import numpy as np
from numba import njit, prange

from .._config import HISTOGRAM_BLOCK, HISTOGRAM_FLUSH
from .binning import (
    add_copies,
    count_tables,
    edge_at,
    estimate,
    fast_estimate,
    linspace_step,
    merged_counts,
    walked_bin,
)
from .chunks import ceil_div, chunk_bounds
from .jit import CALLEE


@njit(cache=True, nogil=True, **CALLEE)
def _bin_values(values, edges, fit, index):
    """``index[j]`` = the bin of ``values[j]``; ``fit`` is
    ``fast_estimate(edges)``.  Values outside the edges (uncounted ones)
    get some index in [-1, n - 1]."""
    scale, offset, fast = fit
    if fast:
        step = linspace_step(edges)
        last = np.float64(edges.size - 2)
        for j in range(values.size):
            x = np.float64(values[j])
            k = min(max(estimate(x, scale, offset), 0.0), last)
            index[j] = np.int32(k - (1.0 if x < edge_at(k, step, edges[0]) else 0.0))
    else:
        for j in range(values.size):
            index[j] = walked_bin(np.float64(values[j]), edges, scale)


@njit(cache=True, nogil=True)
def bin_indices(values, edges, mask):
    """The bin ``np.histogramdd`` gives each value for ``edges`` (int32),
    -1 where ``mask`` is 0.  Every counted value lies within the edges."""
    bins = np.empty(values.size, np.int32)
    _bin_values(values, edges, fast_estimate(edges), bins)
    if mask.size:
        for i in range(values.size):
            if not mask[i]:
                bins[i] = -1
    return bins


@njit(cache=True, nogil=True)
def _count_binned(bins0, values1, edges1, fit1, copies, spill, flush_every):
    """``histogram._count_pairs`` with the first value's bin given (-1: not
    counted), into the same (n0 + 1) x (n1 + 1) tables; uncounted values
    may lie outside the edges."""
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
            add_copies(copies, spill)


@njit(cache=True, nogil=True)
def joint_histogram_binned(bins0, n_bins0, values1, edges1):
    """Joint histogram (int64, (n_bins0, edges1.size - 1)) of pixels whose
    first bin ``bins0`` is given (-1: not counted) and second value is
    binned as ``joint_histogram`` does."""
    copies, spill = count_tables(1, bins0.size, n_bins0 + 1, edges1.size)
    _count_binned(
        bins0, values1, edges1, fast_estimate(edges1), copies[0], spill[0], HISTOGRAM_FLUSH
    )
    return merged_counts(copies, spill, n_bins0, edges1.size - 1)


@njit(cache=True, nogil=True, parallel=True)
def joint_histogram_binned_parallel(bins0, n_bins0, values1, edges1, n_chunks):
    """``joint_histogram_binned`` with private tables per chunk: the same
    counts."""
    fit1 = fast_estimate(edges1)
    size = bins0.size
    copies, spill = count_tables(n_chunks, ceil_div(size, n_chunks), n_bins0 + 1, edges1.size)
    for c in prange(n_chunks):
        start, stop = chunk_bounds(size, n_chunks, c)
        _count_binned(
            bins0[start:stop],
            values1[start:stop],
            edges1,
            fit1,
            copies[c],
            spill[c],
            HISTOGRAM_FLUSH,
        )
    return merged_counts(copies, spill, n_bins0, edges1.size - 1)
