"""Joint histogram and value range kernels (entropies: ``entropy``; a
reference binned once for many moving images: ``binned``).

Bin assignment reproduces ``np.histogramdd`` exactly: half-open bins, the last
one closed, edges given by the caller (computed by ``np.linspace`` in the
Python layer, in the dtype NumPy would use), so values on an edge land where
``np.searchsorted(edges, x, side="right") - 1`` puts them.

Edges that ``np.linspace`` made are ``k * step + edges[0]`` in their own
dtype (the last one is the stop value itself).  When the edges given are
exactly that, and a float estimate of the bin is provably never more than
one bin high (``_fast_estimate`` checks both, once per call), a value's bin
is found without reading the edge array: one edge, recomputed in the edges'
dtype, says whether the estimate or the bin below it is right.  That loop
vectorises; any other edges are walked (``_walk_edges``).
"""
import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from .entropy import entropies

from .._config import HISTOGRAM_BLOCK, HISTOGRAM_FLUSH, HISTOGRAM_MANY_COPIES


# Pairs are binned in blocks: a vectorised pass writes each pair's joint bin
# to a small buffer, then a scalar pass counts them.  Per-thread counts are
# int32 and are added to int64 every HISTOGRAM_FLUSH pairs.  Chunks of HISTOGRAM_MANY_COPIES
# pairs or more count consecutive pairs into four interleaved tables: runs
# of one bin (a uniform background) otherwise wait on the previous increment
# of the same counter (measured, 512^2 with 60% background: 0.32 -> 0.23 ms,
# no cost on the camera pair).  Smaller chunks keep one table: zeroing and
# merging four cost more than they save there.


@njit(cache=True, nogil=True)
def _add_copies(copies, counts):
    """counts += the sum of the int32 copies (rows); the copies are zeroed."""
    for k in range(copies.shape[0]):
        for i in range(counts.size):
            counts[i] += copies[k, i]
    copies[:] = 0


def _min_max(values, start, stop):  # pragma: no cover - Numba uses the overload
    raise NotImplementedError


@overload(_min_max, jit_options={"nogil": True})
def _min_max_impl(values, start, stop):
    """(min, max, finite) of ``values[start:stop]`` (1-D, contiguous), in
    the values' dtype; ``finite`` is False if any value is NaN or inf.

    Floats are compared as integers: flipping every bit but the sign of a
    negative float's bit pattern gives keys ordered as the floats are, with
    NaNs above +inf or below -inf.  Integer min/max vectorises without
    fast-math (a float min/max reduction does not), and one pass then
    answers both questions.  -0.0 sorts below 0.0, which changes no edge.
    """
    if isinstance(values.dtype, types.Float):
        wide = values.dtype.bitwidth == 64
        int_type = np.int64 if wide else np.int32
        float_type = np.float64 if wide else np.float32
        shift = 63 if wide else 31
        magnitude = 0x7FFF_FFFF_FFFF_FFFF if wide else 0x7FFF_FFFF
        inf_key = 0x7FF0_0000_0000_0000 if wide else 0x7F80_0000

        def float_min_max(values, start, stop):
            bits = values.view(int_type)[start:stop]
            lo = np.int64(magnitude)
            hi = -lo - 1
            for i in range(bits.size):
                b = np.int64(bits[i])
                key = b ^ ((b >> shift) & magnitude)
                lo = min(lo, key)
                hi = max(hi, key)
            finite = lo >= -inf_key and hi < inf_key
            out = np.empty(2, int_type)
            out[0] = lo ^ ((lo >> shift) & magnitude)
            out[1] = hi ^ ((hi >> shift) & magnitude)
            as_float = out.view(float_type)
            return as_float[0], as_float[1], finite
        return float_min_max

    def int_min_max(values, start, stop):
        part = values[start:stop]
        lo = part[0]
        hi = part[0]
        for i in range(part.size):
            lo = min(lo, part[i])
            hi = max(hi, part[i])
        return lo, hi, True
    return int_min_max


@njit(cache=True, nogil=True)
def value_range(values, start, stop):
    """(min, max, finite) of ``values[start:stop]`` (1-D, contiguous,
    ``start < stop``); ``finite`` is False if any value is NaN or infinite,
    and min and max are then meaningless."""
    return _min_max(values, start, stop)


@njit(cache=True, nogil=True)
def value_ranges(values0, values1):
    """``value_range`` of two whole arrays."""
    return (_min_max(values0, 0, values0.size), _min_max(values1, 0, values1.size))


@njit(cache=True, nogil=True, parallel=True)
def value_ranges_parallel(values0, values1, n_chunks):
    """``value_ranges`` of two arrays of one size, in ``n_chunks`` chunks.

    Chunk ``c`` of both arrays is read by one task, the same split as
    ``joint_histogram_parallel``'s: the thread that bins a chunk next finds
    it in its own cache.
    """
    size = values0.size
    step = (size + n_chunks - 1) // n_chunks
    los0 = np.empty(n_chunks, values0.dtype)
    his0 = np.empty(n_chunks, values0.dtype)
    oks0 = np.ones(n_chunks, np.bool_)
    los1 = np.empty(n_chunks, values1.dtype)
    his1 = np.empty(n_chunks, values1.dtype)
    oks1 = np.ones(n_chunks, np.bool_)
    for c in prange(n_chunks):
        start, stop = c * step, min(size, (c + 1) * step)
        if start < stop:
            los0[c], his0[c], oks0[c] = _min_max(values0, start, stop)
            los1[c], his1[c], oks1[c] = _min_max(values1, start, stop)
        else:  # an empty chunk changes nothing
            los0[c], his0[c] = values0[0], values0[0]
            los1[c], his1[c] = values1[0], values1[0]
    return ((los0.min(), his0.max(), oks0.all()),
            (los1.min(), his1.max(), oks1.all()))


# ------------------------------------------------------------------------
# Bins.  ``edges`` are float32 or float64 (their own dtype); counts go to a
# flat row-major table of edges0.size x edges1.size: one row and column more
# than there are bins, for stop values (see ``_linspace_bin``).


def _edge_at(k, step, first):  # pragma: no cover - Numba uses the overload
    raise NotImplementedError


@overload(_edge_at, jit_options={"nogil": True})
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


@njit(cache=True, nogil=True)
def _linspace_step(edges):
    """``np.linspace``'s step for these edges, in their dtype."""
    n = edges.size - 1
    return (edges[n] - edges[0]) / np.float32(n)


@njit(cache=True, nogil=True, inline="always")
def _estimate(x, scale, offset):
    return np.floor(x * scale + offset)


@njit(cache=True, nogil=True)
def _fast_estimate(edges):
    """(scale, offset, fast) for ``_linspace_bin``.

    ``fast`` says the vectorised binning is exact for these edges: edge
    ``k < n`` is ``_edge_at(k)`` to the bit, and the estimate
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
    step = _linspace_step(edges)
    for k in range(n + 1):
        if k < n and _edge_at(np.float64(k), step, edges[0]) != edges[k]:
            return scale, offset, False
        t = np.float64(edges[k]) * scale + offset
        if (k < n and t < k) or (k > 0 and not t < k + 1):
            return scale, offset, False
    return scale, offset, True


@njit(cache=True, nogil=True, inline="always")
def _linspace_bin(x, scale, offset, step, edge0):
    """The bin of ``x`` (float64, within the edges) as a float64, for
    edges that ``_fast_estimate`` passed.  ``x`` on the stop value may
    give ``n``, one past the last bin: callers count it there and fold it
    into the last bin (``_merged_counts``), which saves a clamp per value."""
    k = _estimate(x, scale, offset)
    return k - (1.0 if x < _edge_at(k, step, edge0) else 0.0)


@njit(cache=True, nogil=True, inline="always")
def _walk_edges(x, edges, k, last_bin):
    k = min(max(k, 0), last_bin)
    while k > 0 and x < edges[k]:
        k -= 1
    while k < last_bin and x >= edges[k + 1]:
        k += 1
    return k


@njit(cache=True, nogil=True, inline="always")
def _walked_bin(x, edges, scale):
    """The bin of ``x`` (within the edges) by walking from an estimate."""
    t = (x - np.float64(edges[0])) * scale
    k = int(min(max(t, 0.0), np.float64(edges.size)))
    return _walk_edges(x, edges, k, edges.size - 2)


@njit(cache=True, nogil=True)
def _bin_pairs(values0, values1, edges0, edges1, fit0, fit1, fast, index):
    """``index[j]`` = the joint bin of ``(values0[j], values1[j])`` in a
    table of (n0 + 1) x (n1 + 1); ``fit`` = ``_fast_estimate(edges)``."""
    row = edges1.size  # n1 + 1
    if fast:
        step0, step1 = _linspace_step(edges0), _linspace_step(edges1)
        scale0, offset0 = fit0[0], fit0[1]
        scale1, offset1 = fit1[0], fit1[1]
        row_f = np.float64(row)
        for j in range(values0.size):
            k0 = _linspace_bin(np.float64(values0[j]), scale0, offset0, step0, edges0[0])
            k1 = _linspace_bin(np.float64(values1[j]), scale1, offset1, step1, edges1[0])
            index[j] = np.int32(k0 * row_f + k1)
    else:
        for j in range(values0.size):
            k0 = _walked_bin(np.float64(values0[j]), edges0, fit0[0])
            k1 = _walked_bin(np.float64(values1[j]), edges1, fit1[0])
            index[j] = k0 * row + k1


@njit(cache=True, nogil=True)
def _count_pairs(values0, values1, edges0, edges1, fit0, fit1, fast, copies, spill,
                 flush_every):
    """Count the joint bins of all pairs (the (n0 + 1) x (n1 + 1) table of
    ``_bin_pairs``) into ``copies`` (int32, one or four tables, see
    ``_tables``; zeroed here).  If ``spill`` (int64, the table) is not
    empty, the copies are added to it every ``flush_every`` pairs
    (``HISTOGRAM_FLUSH``), before they could overflow.  Blocks are read last to
    first: the range pass just read the chunk first to last, so its end is
    still in this core's cache."""
    copies[:] = 0
    four = copies.shape[0] == 4
    index = np.empty(HISTOGRAM_BLOCK, np.int32)
    size = values0.size
    for flush in range(0, size, flush_every):
        stop = min(size, flush + flush_every)
        n_blocks = (stop - flush + HISTOGRAM_BLOCK - 1) // HISTOGRAM_BLOCK
        for b in range(n_blocks - 1, -1, -1):
            block = flush + b * HISTOGRAM_BLOCK
            end = min(block + HISTOGRAM_BLOCK, stop)
            _bin_pairs(values0[block:end], values1[block:end], edges0, edges1,
                       fit0, fit1, fast, index)
            if four:  # the constant mask lets LLVM unroll by four
                for j in range(end - block):
                    copies[j & 3, index[j]] += 1
            else:
                for j in range(end - block):
                    copies[0, index[j]] += 1
        if spill.size:
            _add_copies(copies, spill)


@njit(cache=True, nogil=True)
def _merged_counts(copies, spill, n0, n1):
    """The (n0, n1) int64 counts of per-chunk tables: ``copies`` (n_chunks,
    copies, table) int32 plus ``spill`` (n_chunks, table or 0) int64, the
    extra row and column (stop values, see ``_linspace_bin``) folded into
    the last bin.  Integer sums: any order gives the same counts."""
    row = n1 + 1
    counts = np.zeros((n0, n1), np.int64)
    total = np.empty(row, np.int64)
    for i in range(n0 + 1):
        total[:] = 0
        for c in range(copies.shape[0]):
            for k in range(copies.shape[1]):
                part = copies[c, k, i * row:(i + 1) * row]
                for j in range(row):
                    total[j] += part[j]
            if spill.shape[1]:
                extra = spill[c, i * row:(i + 1) * row]
                for j in range(row):
                    total[j] += extra[j]
        out = counts[min(i, n0 - 1)]
        for j in range(n1):
            out[j] += total[j]
        out[n1 - 1] += total[n1]
    return counts


@njit(cache=True, nogil=True)
def _tables(n_chunks, size, rows, columns):
    """Uninitialised count copies and spills of a flat ``rows`` x
    ``columns`` table for ``n_chunks`` chunks of at most ``size`` pairs."""
    table = rows * columns
    n_copies = 4 if size >= HISTOGRAM_MANY_COPIES else 1
    copies = np.empty((n_chunks, n_copies, table), np.int32)
    spill = np.zeros((n_chunks, table if size > HISTOGRAM_FLUSH else 0), np.int64)
    return copies, spill


@njit(cache=True, nogil=True)
def _fits(edges0, edges1):
    fit0, fit1 = _fast_estimate(edges0), _fast_estimate(edges1)
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
    copies, spill = _tables(1, values0.size, edges0.size, edges1.size)
    _count_pairs(values0, values1, edges0, edges1, fit0, fit1, fast, copies[0], spill[0],
                 HISTOGRAM_FLUSH)
    return _merged_counts(copies, spill, edges0.size - 1, edges1.size - 1)


@njit(cache=True, nogil=True, parallel=True)
def joint_histogram_parallel(values0, values1, edges0, edges1, n_chunks):
    """``joint_histogram`` with private tables per chunk, merged.

    Integer counts make the merge order irrelevant: the result is the same
    bits as the serial kernel's.
    """
    fit0, fit1, fast = _fits(edges0, edges1)
    size = values0.size
    step = (size + n_chunks - 1) // n_chunks
    copies, spill = _tables(n_chunks, step, edges0.size, edges1.size)
    for c in prange(n_chunks):
        start = min(size, c * step)
        stop = min(size, start + step)
        _count_pairs(values0[start:stop], values1[start:stop], edges0, edges1,
                     fit0, fit1, fast, copies[c], spill[c], HISTOGRAM_FLUSH)
    return _merged_counts(copies, spill, edges0.size - 1, edges1.size - 1)


@njit(cache=True, nogil=True)
def _widths(edges):
    """``np.diff(edges)`` (in the edges' dtype) as float64."""
    widths = np.empty(edges.size - 1)
    for k in range(widths.size):
        widths[k] = edges[k + 1] - edges[k]
    return widths


@njit(cache=True, nogil=True)
def information(values0, values1, edges0, edges1, log_table):
    """``entropies`` of ``joint_histogram``'s counts, with the edges' own
    widths (float32 or float64 edges): one call for mutual information."""
    counts = joint_histogram(values0, values1, edges0, edges1)
    return entropies(counts, _widths(edges0), _widths(edges1), log_table)


@njit(cache=True, nogil=True)
def information_parallel(values0, values1, edges0, edges1, log_table, n_chunks):
    """``information`` on ``joint_histogram_parallel``'s counts."""
    counts = joint_histogram_parallel(values0, values1, edges0, edges1, n_chunks)
    return entropies(counts, _widths(edges0), _widths(edges1), log_table)
