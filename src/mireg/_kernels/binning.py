"""How a value finds its histogram bin, and the tables bins are counted in:
the building blocks of ``histogram`` (two images binned together) and
``binned`` (a reference binned once, many moving images).

Bin assignment reproduces ``np.histogramdd`` exactly: half-open bins, the
last one closed, edges given by the caller (computed by ``np.linspace`` in
the Python layer, in the dtype NumPy would use), so values on an edge land
where ``np.searchsorted(edges, x, side="right") - 1`` puts them.  ``edges``
are float32 or float64 (their own dtype).

Edges that ``np.linspace`` made are ``k * step + edges[0]`` in their own
dtype (the last one is the stop value itself).  When the edges given are
exactly that, and a float estimate of the bin is provably never more than
one bin high (``fast_estimate`` checks both, once per call), a value's bin
is found without reading the edge array: one edge, recomputed in the
edges' dtype, says whether the estimate or the bin below it is right
(``linspace_bin``).  That loop vectorises; any other edges are walked
(``walked_bin``).

Counts go to flat row-major tables of (n0 + 1) x (n1 + 1): one row and
column more than there are bins, for values on the stop edge (see
``linspace_bin``), folded into the last bin by ``merged_counts``.  Each
chunk of pairs counts into int32 tables of its own (``count_tables``),
added to an int64 spill (``add_copies``) before they could overflow.
Chunks of ``HISTOGRAM_MANY_COPIES`` pairs or more count consecutive pairs
into four interleaved tables: a run of pairs in one bin (a uniform
background) would otherwise wait on the previous increment of the same
counter.  Smaller chunks keep one table: zeroing and merging four cost
more than they save there.
"""

import numpy as np
from numba import njit, types
from numba.extending import overload

from .._config import HISTOGRAM_FLUSH, HISTOGRAM_MANY_COPIES
from .jit import CALLEE

# ---------------------------------------------------------------- bins


def edge_at(k, step, first):  # pragma: no cover - Numba uses the overload
    """Edge ``k`` as ``np.linspace`` computes it; see the overload."""
    raise NotImplementedError


@overload(edge_at, jit_options={"nogil": True})
def _edge_at_impl(k, step, first):
    """Edge ``k`` (a float64 holding an integer) as ``np.linspace`` computes
    it in the dtype of ``step`` and ``first``: ``k * step + first``."""
    if isinstance(step, types.Float) and step.bitwidth == 32:
        return lambda k, step, first: np.float32(k) * step + first
    return lambda k, step, first: k * step + first


@njit(cache=True, nogil=True, inline="always")
def _bin_scale(edges):
    n = edges.size - 1
    width = np.float64(edges[n]) - np.float64(edges[0])
    # a range that overflows float64 gives scale 0: every value is walked
    return n / width if np.isfinite(width) and width > 0.0 else 0.0


@njit(cache=True, nogil=True, **CALLEE)
def linspace_step(edges):
    """``np.linspace``'s step for these edges, in their dtype."""
    n = edges.size - 1
    return (edges[n] - edges[0]) / np.float32(n)


@njit(cache=True, nogil=True, inline="always")
def estimate(x, scale, offset):
    """The bin estimate of ``x`` (float64), biased up by half a bin."""
    return np.floor(x * scale + offset)


@njit(cache=True, nogil=True)
def fast_estimate(edges):
    """(scale, offset, fast) for ``linspace_bin``.

    ``fast`` says the vectorised binning is exact for these edges: edge
    ``k < n`` is ``edge_at(k)`` to the bit, and the estimate
    ``x * scale + offset`` (biased up by half a bin) is, at every edge
    ``e_k``, at least ``k`` and below ``k + 1``.  The estimate grows with
    ``x``, so any ``x`` in bin ``k`` then floors to ``k`` or ``k + 1``, and
    one recomputed edge decides.  This checks the very arithmetic the
    kernels do, so rounding anywhere (the edges' dtype, a range far from
    zero) can only send the edges to the walking path, never misbin.
    """
    n = edges.size - 1
    scale = _bin_scale(edges)
    offset = 0.5 - np.float64(edges[0]) * scale
    if scale == 0.0:
        return scale, offset, False
    step = linspace_step(edges)
    for k in range(n + 1):
        if k < n and edge_at(np.float64(k), step, edges[0]) != edges[k]:
            return scale, offset, False
        t = np.float64(edges[k]) * scale + offset
        if (k < n and t < k) or (k > 0 and not t < k + 1):
            return scale, offset, False
    return scale, offset, True


@njit(cache=True, nogil=True, inline="always")
def linspace_bin(x, scale, offset, step, edge0):
    """The bin of ``x`` (float64, within the edges) as a float64, for
    edges that ``fast_estimate`` passed.  ``x`` on the stop value may
    give ``n``, one past the last bin: callers count it there and fold it
    into the last bin (``merged_counts``), which saves a clamp per value."""
    k = estimate(x, scale, offset)
    return k - (1.0 if x < edge_at(k, step, edge0) else 0.0)


@njit(cache=True, nogil=True, inline="always")
def _walk_edges(x, edges, k, last_bin):
    k = min(max(k, 0), last_bin)
    while k > 0 and x < edges[k]:
        k -= 1
    while k < last_bin and x >= edges[k + 1]:
        k += 1
    return k


@njit(cache=True, nogil=True, inline="always")
def walked_bin(x, edges, scale):
    """The bin of ``x`` (within the edges) by walking from an estimate."""
    t = (x - np.float64(edges[0])) * scale
    k = int(min(max(t, 0.0), np.float64(edges.size)))
    return _walk_edges(x, edges, k, edges.size - 2)


# -------------------------------------------------------------- tables


@njit(cache=True, nogil=True)
def count_tables(n_chunks, size, rows, columns):
    """Uninitialised int32 count copies, (n_chunks, 1 or 4, rows * columns),
    and zeroed int64 spills, (n_chunks, rows * columns or 0), of a flat
    ``rows`` x ``columns`` table for ``n_chunks`` chunks of at most
    ``size`` pairs: four copies from ``HISTOGRAM_MANY_COPIES`` pairs, a
    spill only above ``HISTOGRAM_FLUSH``."""
    table = rows * columns
    n_copies = 4 if size >= HISTOGRAM_MANY_COPIES else 1
    copies = np.empty((n_chunks, n_copies, table), np.int32)
    spill = np.zeros((n_chunks, table if size > HISTOGRAM_FLUSH else 0), np.int64)
    return copies, spill


@njit(cache=True, nogil=True, **CALLEE)
def add_copies(copies, counts):
    """counts += the sum of the int32 copies (rows); the copies are zeroed."""
    for k in range(copies.shape[0]):
        for i in range(counts.size):
            counts[i] += copies[k, i]
    copies[:] = 0


@njit(cache=True, nogil=True)
def merged_counts(copies, spill, n0, n1):
    """The (n0, n1) int64 counts of per-chunk tables: ``copies`` (n_chunks,
    copies, table) int32 plus ``spill`` (n_chunks, table or 0) int64, the
    extra row and column (stop values, see ``linspace_bin``) folded into
    the last bin.  Integer sums: any order gives the same counts."""
    row = n1 + 1
    counts = np.zeros((n0, n1), np.int64)
    total = np.empty(row, np.int64)
    for i in range(n0 + 1):
        total[:] = 0
        for c in range(copies.shape[0]):
            for k in range(copies.shape[1]):
                part = copies[c, k, i * row : (i + 1) * row]
                for j in range(row):
                    total[j] += part[j]
            if spill.shape[1]:
                extra = spill[c, i * row : (i + 1) * row]
                for j in range(row):
                    total[j] += extra[j]
        out = counts[min(i, n0 - 1)]
        for j in range(n1):
            out[j] += total[j]
        out[n1 - 1] += total[n1]
    return counts
