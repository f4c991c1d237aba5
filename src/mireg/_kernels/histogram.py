"""Joint histogram, value range and entropy kernels.

Bin assignment reproduces ``np.histogramdd`` exactly: half-open bins, the last
one closed, edges given by the caller (computed by ``np.linspace`` in the
Python layer, in the same dtype NumPy would use).  A float estimate of the bin
is corrected against the real edges, so values on an edge land where
``np.searchsorted(edges, x, side="right") - 1`` puts them.
"""
import numpy as np
from numba import njit, prange


# Pairs are binned in blocks: a vectorisable pass estimates each bin from
# the value and flags values within ``tol`` (in bins) of an edge, a rare pass
# walks the real edges for the flagged ones, then a scatter pass counts.
# Reading the edge array for every value instead costs ~1.5x.
_BLOCK = 2048


@njit(cache=True, nogil=True, inline="always")
def _walk_edges(x, edges, k, last_bin):
    k = min(max(k, 0), last_bin)
    while k > 0 and x < edges[k]:
        k -= 1
    while k < last_bin and x >= edges[k + 1]:
        k += 1
    return k


@njit(cache=True, nogil=True, inline="always")
def _bin_scale(edges):
    n = edges.size - 1
    width = edges[n] - edges[0]
    # a range that overflows float64 gives scale 0: every value is flagged
    # and the edge walk finds its bin
    return n / width if np.isfinite(width) and width > 0.0 else 0.0


@njit(cache=True, nogil=True)
def value_range(values, start, stop):
    """(min, max, finite) of ``values[start:stop]``; four independent lanes.

    ``finite`` is False if any value is NaN or infinite (``x * 0`` is NaN
    exactly for those); min and max are then meaningless.
    """
    lo0 = values[start]
    lo1, lo2, lo3 = lo0, lo0, lo0
    hi0, hi1, hi2, hi3 = lo0, lo0, lo0, lo0
    z0 = values[start] * 0
    z1, z2, z3 = z0, z0, z0
    i = start
    while i + 4 <= stop:
        x0, x1, x2, x3 = values[i], values[i + 1], values[i + 2], values[i + 3]
        lo0, lo1, lo2, lo3 = min(lo0, x0), min(lo1, x1), min(lo2, x2), min(lo3, x3)
        hi0, hi1, hi2, hi3 = max(hi0, x0), max(hi1, x1), max(hi2, x2), max(hi3, x3)
        z0 += x0 * 0
        z1 += x1 * 0
        z2 += x2 * 0
        z3 += x3 * 0
        i += 4
    while i < stop:
        x0 = values[i]
        lo0, hi0 = min(lo0, x0), max(hi0, x0)
        z0 += x0 * 0
        i += 1
    lo = min(min(lo0, lo1), min(lo2, lo3))
    hi = max(max(hi0, hi1), max(hi2, hi3))
    return lo, hi, (z0 + z1 + z2 + z3) == 0


@njit(cache=True, nogil=True, parallel=True)
def value_ranges_parallel(values0, values1, n_chunks):
    """``value_range`` of two arrays, each in ``n_chunks`` chunks, in one
    parallel launch: ((min0, max0, finite0), (min1, max1, finite1))."""
    step0 = (values0.size + n_chunks - 1) // n_chunks
    step1 = (values1.size + n_chunks - 1) // n_chunks
    los0 = np.empty(n_chunks, values0.dtype)
    his0 = np.empty(n_chunks, values0.dtype)
    oks0 = np.ones(n_chunks, np.bool_)
    los1 = np.empty(n_chunks, values1.dtype)
    his1 = np.empty(n_chunks, values1.dtype)
    oks1 = np.ones(n_chunks, np.bool_)
    for task in prange(2 * n_chunks):
        c = task % n_chunks
        if task < n_chunks:
            start, stop = c * step0, min(values0.size, (c + 1) * step0)
            if start < stop:
                los0[c], his0[c], oks0[c] = value_range(values0, start, stop)
            else:
                los0[c], his0[c] = values0[0], values0[0]
        else:
            start, stop = c * step1, min(values1.size, (c + 1) * step1)
            if start < stop:
                los1[c], his1[c], oks1[c] = value_range(values1, start, stop)
            else:
                los1[c], his1[c] = values1[0], values1[0]
    return ((los0.min(), his0.max(), oks0.all()),
            (los1.min(), his1.max(), oks1.all()))


@njit(cache=True, nogil=True)
def _accumulate_pairs(values0, values1, edges0, edges1, tol0, tol1, counts, start, stop):
    last0 = edges0.size - 2
    last1 = edges1.size - 2
    n1 = last1 + 1
    lo0, lo1 = edges0[0], edges1[0]
    scale0, scale1 = _bin_scale(edges0), _bin_scale(edges1)
    flat = counts.reshape(-1)
    index = np.empty(_BLOCK, np.int64)
    near_edge = np.empty(_BLOCK, np.bool_)
    for block in range(start, stop, _BLOCK):
        m = min(_BLOCK, stop - block)
        n_near = 0
        for j in range(m):
            t0 = (np.float64(values0[block + j]) - lo0) * scale0
            t1 = (np.float64(values1[block + j]) - lo1) * scale1
            k0 = min(int(t0), last0)
            k1 = min(int(t1), last1)
            f0 = t0 - k0
            f1 = t1 - k1
            near = (f0 < tol0) | (f0 > 1.0 - tol0) | (f1 < tol1) | (f1 > 1.0 - tol1)
            near_edge[j] = near
            n_near += near
            index[j] = k0 * n1 + k1
        if n_near:
            for j in range(m):
                if near_edge[j]:
                    k0 = index[j] // n1
                    k1 = index[j] - k0 * n1
                    k0 = _walk_edges(np.float64(values0[block + j]), edges0, k0, last0)
                    k1 = _walk_edges(np.float64(values1[block + j]), edges1, k1, last1)
                    index[j] = k0 * n1 + k1
        for j in range(m):
            flat[index[j]] += 1


@njit(cache=True, nogil=True)
def joint_histogram(values0, values1, edges0, edges1, tol0, tol1):
    """Counts of value pairs in the bins given by ``edges0`` x ``edges1``.

    ``values0`` and ``values1`` are 1-D and of equal length; every value lies
    within its edges' range.  ``tol`` bounds, in bins, how far the estimate
    ``(x - edges[0]) * n / (edges[-1] - edges[0])`` can stray from the bin
    the edges give (see ``metrics.edge_tolerance``).  Returns int64 counts.
    """
    counts = np.zeros((edges0.size - 1, edges1.size - 1), np.int64)
    _accumulate_pairs(values0, values1, edges0, edges1, tol0, tol1, counts, 0, values0.size)
    return counts


@njit(cache=True, nogil=True)
def _sum_partials(partial):
    """Sum per-chunk histograms (leading axis): integer counts, so the
    order of the chunks does not change a bit."""
    counts = partial[0].copy()
    for c in range(1, partial.shape[0]):
        counts += partial[c]
    return counts


@njit(cache=True, nogil=True, parallel=True)
def joint_histogram_parallel(values0, values1, edges0, edges1, tol0, tol1, n_chunks):
    """``joint_histogram`` with one private histogram per chunk, merged.

    Integer counts make the merge order irrelevant: the result is the same
    bits as the serial kernel's.
    """
    size = values0.size
    step = (size + n_chunks - 1) // n_chunks
    partial = np.zeros((n_chunks, edges0.size - 1, edges1.size - 1), np.int64)
    for c in prange(n_chunks):
        start = c * step
        stop = min(size, start + step)
        _accumulate_pairs(values0, values1, edges0, edges1, tol0, tol1,
                          partial[c], start, stop)
    return _sum_partials(partial)


@njit(cache=True, nogil=True)
def _count_byte_pairs(codes0, codes1, offset0, offset1, counts, start, stop):
    for i in range(start, stop):
        counts[np.int64(codes0[i]) + offset0, np.int64(codes1[i]) + offset1] += 1


@njit(cache=True, nogil=True, parallel=True)
def byte_pair_counts(codes0, codes1, offset0, offset1, n_chunks):
    """Counts of every (value0, value1) pair of two 8-bit arrays: (256, 256).

    ``offset`` is 0 for uint8 and 128 for int8, so the row of value v is
    ``v + offset``.  One pass gives both the ranges and, folded with
    ``fold_byte_pairs``, the joint histogram.
    """
    size = codes0.size
    step = (size + n_chunks - 1) // n_chunks
    partial = np.zeros((n_chunks, 256, 256), np.int64)
    for c in prange(n_chunks):
        start = c * step
        stop = min(size, start + step)
        _count_byte_pairs(codes0, codes1, offset0, offset1, partial[c], start, stop)
    return _sum_partials(partial)


@njit(cache=True, nogil=True)
def fold_byte_pairs(pair_counts, bin_of_row, bin_of_col, n_bins0, n_bins1):
    """Sum (256, 256) value-pair counts into (n_bins0, n_bins1) bins."""
    counts = np.zeros((n_bins0, n_bins1), np.int64)
    for u in range(256):
        row = bin_of_row[u]
        if row < 0:
            continue
        for v in range(256):
            c = pair_counts[u, v]
            if c != 0:
                counts[row, bin_of_col[v]] += c
    return counts


@njit(cache=True, nogil=True)
def entropies(counts, widths0, widths1, log_table):
    """Marginal and joint entropies (H0, H1, H01) of a joint histogram.

    As ``scipy.stats.entropy`` of ``np.histogramdd(..., density=True)``:
    each count ``c`` is divided by its bin's widths, ``d = c / w0 / w1``,
    before normalising, so unequal bin widths (edges rounded to float32 or
    float16) weigh exactly as they do in scikit-image's NMI.  With
    ``T = sum(d)``, ``H = log T - sum(d log d) / T``, and
    ``log d = log c - log w0 - log w1`` with ``log c`` read from
    ``log_table`` (``log_table[c] == log(c)``) for the counts it covers:
    the log per bin, not the binning, was the cost here.
    """
    n0, n1 = counts.shape
    log_w0 = np.log(widths0)
    log_w1 = np.log(widths1)
    marginal0 = np.zeros(n0)
    marginal1 = np.zeros(n1)
    table_size = log_table.size
    n_occupied = 0
    total = 0.0
    d_log_d = 0.0
    for i in range(n0):
        w0 = widths0[i]
        row = 0.0
        for j in range(n1):
            c = counts[i, j]
            if c != 0:
                d = c / w0 / widths1[j]
                log_c = log_table[c] if c < table_size else np.log(np.float64(c))
                n_occupied += 1
                row += d
                marginal1[j] += d
                d_log_d += d * (log_c - log_w0[i] - log_w1[j])
        marginal0[i] = row
        total += row
    log_total = np.log(total)
    return (_marginal_entropy(marginal0, total, log_total),
            _marginal_entropy(marginal1, total, log_total),
            _single_bin_or(log_total - d_log_d / total, n_occupied))


@njit(cache=True, nogil=True, inline="always")
def _single_bin_or(entropy, n_occupied):
    # one occupied bin: exactly 0 (log T - d log d / T rounds to ~1e-16)
    return 0.0 if n_occupied == 1 else entropy


@njit(cache=True, nogil=True)
def _marginal_entropy(marginal, total, log_total):
    acc = 0.0
    n_occupied = 0
    for m in marginal:
        if m > 0.0:
            acc += m * np.log(m)
            n_occupied += 1
    return _single_bin_or(log_total - acc / total, n_occupied)


@njit(cache=True, nogil=True)
def edge_tolerance(edges):
    """How far, in bins, the float estimate of a value's bin can stray from
    the bin the edges give: the edges' own rounding (float16/32 edges stray
    by up to an ulp of their dtype) plus float64 arithmetic.  1.0 (walk the
    edges for every value) for degenerate edges."""
    n = edges.size - 1
    width = edges[n] - edges[0]
    if not (np.isfinite(width) and width > 0.0):
        return 1.0
    scale = n / width
    stray = 0.0
    for k in range(n + 1):
        if k > 0 and edges[k] <= edges[k - 1]:
            return 1.0
        stray = max(stray, abs((edges[k] - edges[0]) * scale - k))
    return min(1.0, stray + 1e-9 * max(1.0, n))


# ------------------------------------------------------------------------
# A reference image binned once, many moving images (AlignmentMetric).
# ``mask`` arguments are flat uint8 (1 = counted) or empty for everywhere.


@njit(cache=True, nogil=True)
def bin_indices(values, edges, tol, mask):
    """The bin ``np.histogramdd`` gives each value for ``edges`` (int32),
    -1 where ``mask`` is 0.  Every counted value lies within the edges."""
    last = edges.size - 2
    lo = edges[0]
    scale = _bin_scale(edges)
    bins = np.empty(values.size, np.int32)
    for i in range(values.size):
        if mask.size and not mask[i]:
            bins[i] = -1
            continue
        x = np.float64(values[i])
        t = (x - lo) * scale
        k = min(int(t), last)
        f = t - k
        if f < tol or f > 1.0 - tol:
            k = _walk_edges(x, edges, k, last)
        bins[i] = k
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
def _accumulate_binned(bins0, values1, edges1, tol1, counts, start, stop):
    """``_accumulate_pairs`` with the first value's bin given (-1: skip)."""
    last1 = edges1.size - 2
    n1 = last1 + 1
    lo1 = edges1[0]
    scale1 = _bin_scale(edges1)
    top = np.float64(n1)
    flat = counts.reshape(-1)
    index = np.empty(_BLOCK, np.int64)
    near_edge = np.empty(_BLOCK, np.bool_)
    for block in range(start, stop, _BLOCK):
        m = min(_BLOCK, stop - block)
        n_near = 0
        for j in range(m):
            # uncounted values may lie outside the edges: clamp before int()
            t1 = min(max((np.float64(values1[block + j]) - lo1) * scale1, 0.0), top)
            k1 = min(int(t1), last1)
            f1 = t1 - k1
            near = (f1 < tol1) | (f1 > 1.0 - tol1)
            near_edge[j] = near
            n_near += near
            index[j] = k1
        if n_near:
            for j in range(m):
                if near_edge[j]:
                    index[j] = _walk_edges(np.float64(values1[block + j]), edges1,
                                           index[j], last1)
        for j in range(m):
            k0 = bins0[block + j]
            if k0 >= 0:
                flat[k0 * n1 + index[j]] += 1


@njit(cache=True, nogil=True)
def joint_histogram_binned(bins0, n_bins0, values1, edges1, tol1):
    """Joint histogram (int64, (n_bins0, edges1.size - 1)) of pixels whose
    first bin ``bins0`` is given (-1: not counted) and second value is
    binned as ``joint_histogram`` does."""
    counts = np.zeros((n_bins0, edges1.size - 1), np.int64)
    _accumulate_binned(bins0, values1, edges1, tol1, counts, 0, bins0.size)
    return counts


@njit(cache=True, nogil=True, parallel=True)
def joint_histogram_binned_parallel(bins0, n_bins0, values1, edges1, tol1, n_chunks):
    """``joint_histogram_binned`` with a private histogram per chunk: the
    same counts."""
    size = bins0.size
    step = (size + n_chunks - 1) // n_chunks
    partial = np.zeros((n_chunks, n_bins0, edges1.size - 1), np.int64)
    for c in prange(n_chunks):
        start = c * step
        stop = min(size, start + step)
        _accumulate_binned(bins0, values1, edges1, tol1, partial[c], start, stop)
    return _sum_partials(partial)
