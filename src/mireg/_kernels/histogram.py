"""Joint histogram kernels: the counts of ``np.histogramdd`` of two images
(``mireg.joint_histogram``, and the counts whose entropies
``entropy.edge_entropies`` takes for ``mireg.mutual_information`` and
``mireg.alignment``): ``joint_histogram`` and ``joint_histogram_parallel``.

How a value finds its bin, and the tables counts go to, are in ``binning``;
the range scan that comes first in ``ranges``.  Each image pair is binned in
blocks: a vectorised pass writes each pair's joint bin to a small buffer
(``_bin_pairs``), then a scalar pass counts them (``_count_pairs``).  The
parallel kernel counts chunks of pairs into tables of its own and merges
them: integer counts, so the same bits as the serial kernel.

These are the kernels compiled for every pair of dtypes a user's images
come in; what does not depend on the images' dtypes (the entropies) is a
kernel of its own, compiled once, rather than part of each.
"""

import numpy as np
from numba import njit, prange

from .._config import HISTOGRAM_BLOCK, HISTOGRAM_FLUSH
from .binning import (
    add_copies,
    count_tables,
    fast_estimate,
    linspace_bin,
    linspace_step,
    merged_counts,
    walked_bin,
)
from .chunks import ceil_div, chunk_bounds
from .jit import CALLEE


@njit(cache=True, nogil=True, **CALLEE)
def _bin_pairs(values0, values1, edges0, edges1, fit0, fit1, fast, index):
    """``index[j]`` = the joint bin of ``(values0[j], values1[j])`` in a
    table of (n0 + 1) x (n1 + 1); ``fit`` = ``fast_estimate(edges)``."""
    row = edges1.size  # n1 + 1
    if fast:
        step0, step1 = linspace_step(edges0), linspace_step(edges1)
        scale0, offset0 = fit0[0], fit0[1]
        scale1, offset1 = fit1[0], fit1[1]
        row_f = np.float64(row)
        for j in range(values0.size):
            k0 = linspace_bin(np.float64(values0[j]), scale0, offset0, step0, edges0[0])
            k1 = linspace_bin(np.float64(values1[j]), scale1, offset1, step1, edges1[0])
            index[j] = np.int32(k0 * row_f + k1)
    else:
        for j in range(values0.size):
            k0 = walked_bin(np.float64(values0[j]), edges0, fit0[0])
            k1 = walked_bin(np.float64(values1[j]), edges1, fit1[0])
            index[j] = k0 * row + k1


@njit(cache=True, nogil=True)
def _count_pairs(values0, values1, edges0, edges1, fit0, fit1, fast, copies, spill, flush_every):
    """Count the joint bins of all pairs (the (n0 + 1) x (n1 + 1) table of
    ``_bin_pairs``) into ``copies`` (int32, one or four tables, see
    ``binning.count_tables``; zeroed here).  If ``spill`` (int64, the table)
    is not empty, the copies are added to it every ``flush_every`` pairs
    (``HISTOGRAM_FLUSH``), before they could overflow.  Blocks are read last
    to first: the range pass just read the chunk first to last, so its end
    is still in this core's cache."""
    copies[:] = 0
    four = copies.shape[0] == 4
    index = np.empty(HISTOGRAM_BLOCK, np.int32)
    size = values0.size
    for flush in range(0, size, flush_every):
        stop = min(size, flush + flush_every)
        n_blocks = ceil_div(stop - flush, HISTOGRAM_BLOCK)
        for b in range(n_blocks - 1, -1, -1):
            block = flush + b * HISTOGRAM_BLOCK
            end = min(block + HISTOGRAM_BLOCK, stop)
            _bin_pairs(
                values0[block:end], values1[block:end], edges0, edges1, fit0, fit1, fast, index
            )
            if four:  # the constant mask lets LLVM unroll by four
                for j in range(end - block):
                    copies[j & 3, index[j]] += 1
            else:
                for j in range(end - block):
                    copies[0, index[j]] += 1
        if spill.size:
            add_copies(copies, spill)


@njit(cache=True, nogil=True, inline="always")
def _fits(edges0, edges1):
    fit0, fit1 = fast_estimate(edges0), fast_estimate(edges1)
    return fit0, fit1, fit0[2] and fit1[2]


@njit(cache=True, nogil=True)
def joint_histogram(values0, values1, edges0, edges1):
    """Counts of value pairs in the bins given by ``edges0`` x ``edges1``.

    ``values0`` and ``values1`` are 1-D, contiguous and of equal length;
    every value lies within its edges' range.  ``edges`` are float32 or
    float64, increasing.  Returns int64 counts,
    ``(edges0.size - 1, edges1.size - 1)``.
    """
    fit0, fit1, fast = _fits(edges0, edges1)
    copies, spill = count_tables(1, values0.size, edges0.size, edges1.size)
    _count_pairs(
        values0, values1, edges0, edges1, fit0, fit1, fast, copies[0], spill[0], HISTOGRAM_FLUSH
    )
    return merged_counts(copies, spill, edges0.size - 1, edges1.size - 1)


@njit(cache=True, nogil=True, parallel=True)
def joint_histogram_parallel(values0, values1, edges0, edges1, n_chunks):
    """``joint_histogram`` with private tables per chunk, merged.

    Integer counts make the merge order irrelevant: the result is the same
    bits as the serial kernel's.
    """
    fit0, fit1, fast = _fits(edges0, edges1)
    size = values0.size
    copies, spill = count_tables(n_chunks, ceil_div(size, n_chunks), edges0.size, edges1.size)
    for c in prange(n_chunks):
        start, stop = chunk_bounds(size, n_chunks, c)
        _count_pairs(
            values0[start:stop],
            values1[start:stop],
            edges0,
            edges1,
            fit0,
            fit1,
            fast,
            copies[c],
            spill[c],
            HISTOGRAM_FLUSH,
        )
    return merged_counts(copies, spill, edges0.size - 1, edges1.size - 1)
