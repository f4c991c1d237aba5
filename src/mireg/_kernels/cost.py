"""The registration cost: one fused pass per evaluation.

For each reference sample: map its index coordinate through the affine
``matrix`` into the moving image, skip it if it falls outside (Studholme's
overlap-invariant NMI: outside is not zero, it is not there), interpolate the
moving intensity (cubic B-spline from precomputed coefficients, or linear),
count the pair in the joint histogram, and add Pluim's gradient term for the
moving image's smoothed gradient at that point (linearly interpolated,
rotated into the reference frame by ``grad_rotation``) against the
reference's precomputed gradient.

Kernels read a level's data from the records of ``records.py``: a
``LevelData`` (samples, moving image, binning), a ``Transform`` (how Powell's
scaled coordinates become the index map) and, to score, a ``Criterion``.
2-D and 3-D share the per-sample loop (2-D is a (1, rows, cols) volume,
with unrolled planar taps); masks and subsampling are settled in the sample
table before the loop.
G is summed per fixed sub-chunk of ``G_CHUNK`` samples and the sub-sums are
added in order, so the serial and parallel kernels give the same bits.
"""

import numpy as np
from numba import njit, prange

from .._config import G_CHUNK, WEIGHT_ONE
from .chunks import ceil_div, chunk_bounds
from .entropy import entropies
from .interpolate import (
    corner2,
    cubic2_bordered,
    cubic3_bordered,
    lerp2,
    lerp2_pair,
    lerp3,
    lerp3_triple,
)
from .jit import CALLEE
from .modes import AFFINE, ALIGNMENT, MI, SIMILARITY, TRANSLATION

_EPS_MAG2 = 1e-16  # |g| <= 1e-8, np.isclose(|g|, 0)'s threshold, squared


@njit(cache=True, nogil=True, inline="always")
def _count_windowed(counts, row, f, last):
    # the moving value at bin position f (bin centres at integers) shared
    # between its two nearest bins (a linear Parzen window), so the cost
    # moves with the pose continuously, not in steps; in fixed point, so the
    # integer sums give the same bits in any order (serial or parallel)
    if f <= 0.0:
        counts[row, 0] += WEIGHT_ONE
    elif f >= last:
        counts[row, last] += WEIGHT_ONE
    else:
        b = int(f)
        w = int((f - b) * WEIGHT_ONE)
        counts[row, b] += WEIGHT_ONE - w
        counts[row, b + 1] += w


@njit(cache=True, nogil=True, inline="always")
def _gradient_term(gm0, gm1, gm2, rot, r0, r1, r2, rmag2):
    # moving gradient rotated into the reference frame: rot @ gm
    g0 = rot[0, 0] * gm0 + rot[0, 1] * gm1 + rot[0, 2] * gm2
    g1 = rot[1, 0] * gm0 + rot[1, 1] * gm1 + rot[1, 2] * gm2
    g2 = rot[2, 0] * gm0 + rot[2, 1] * gm1 + rot[2, 2] * gm2
    mmag2 = g0 * g0 + g1 * g1 + g2 * g2
    if mmag2 <= _EPS_MAG2 or rmag2 <= _EPS_MAG2:
        return 0.0
    dot = g0 * r0 + g1 * r1 + g2 * r2
    w = min(dot * dot / (mmag2 * rmag2), 1.0)
    return w * np.sqrt(min(mmag2, rmag2))


@njit(cache=True, nogil=True, inline="always")
def _gradient_term_2d(gm1, gm2, rot, r1, r2, rmag2):
    # _gradient_term for a planar image: only the lower-right 2x2 of rot
    g1 = rot[1, 1] * gm1 + rot[1, 2] * gm2
    g2 = rot[2, 1] * gm1 + rot[2, 2] * gm2
    mmag2 = g1 * g1 + g2 * g2
    if mmag2 <= _EPS_MAG2 or rmag2 <= _EPS_MAG2:
        return 0.0
    dot = g1 * r1 + g2 * r2
    w = min(dot * dot / (mmag2 * rmag2), 1.0)
    return w * np.sqrt(min(mmag2, rmag2))


@njit(cache=True, nogil=True, **CALLEE)
def _accumulate(level, matrix, grad_rotation, counts, g_partial, start, stop):
    """Accumulate samples [start, stop) of ``level`` (a ``LevelData``) into
    ``counts`` (reference bin, moving bin) and the per-G_CHUNK gradient sums
    ``g_partial``; returns the overlap count.

    ``matrix`` (4x4) maps reference to moving index coordinates,
    ``grad_rotation`` (3x3) turns moving gradients into the reference frame.
    The table holds one float32 row per reference sample (see
    ``records.LevelData``): one stream of 32 bytes a sample instead of four
    arrays, because at full resolution the per-sample reads, not the
    arithmetic, set the pace.
    """
    table = level.table
    moving = level.moving
    grad = level.moving_grad
    moving_mask = level.moving_mask
    has_mask = level.has_moving_mask
    lo = level.moving_lo
    scale = level.moving_scale
    n_bins = level.n_bins
    cubic = level.cubic
    parzen = level.parzen
    use_gradient = level.use_gradient
    d0, d1, d2 = moving.shape
    if cubic:  # the coefficients' border (_levels.bordered)
        d1 -= 3
        d2 -= 3
        if d0 > 1:
            d0 -= 3
    planar = d0 == 1
    m = matrix
    overlap = 0
    last = n_bins - 1
    # the planes of a 2-D image, taken once (a view per sample costs)
    plane = moving[0]
    grad_plane = grad[0]
    for c0 in range(start, stop, G_CHUNK):
        g_sum = 0.0
        for s in range(c0, min(stop, c0 + G_CHUNK)):
            x0 = np.float64(table[s, 0])
            x1 = np.float64(table[s, 1])
            x2 = np.float64(table[s, 2])
            y1 = m[1, 0] * x0 + m[1, 1] * x1 + m[1, 2] * x2 + m[1, 3]
            y2 = m[2, 0] * x0 + m[2, 1] * x1 + m[2, 2] * x2 + m[2, 3]
            y0 = 0.0 if planar else m[0, 0] * x0 + m[0, 1] * x1 + m[0, 2] * x2 + m[0, 3]
            if not (0.0 <= y0 <= d0 - 1.0 and 0.0 <= y1 <= d1 - 1.0 and 0.0 <= y2 <= d2 - 1.0):
                continue
            if has_mask and not moving_mask[int(y0 + 0.5), int(y1 + 0.5), int(y2 + 0.5)]:
                continue
            overlap += 1
            j, k, u, v = corner2(d1, d2, y1, y2)
            if planar:
                if cubic:
                    value = cubic2_bordered(plane, y1, y2)
                else:
                    value = lerp2(plane, j, k, u, v)
            else:
                i = min(int(y0), d0 - 2)
                t = y0 - i
                if cubic:
                    value = cubic3_bordered(moving, y0, y1, y2)
                else:
                    value = lerp3(moving, i, j, k, t, u, v)
            row = int(table[s, 7])
            x = (value - lo) * scale
            if parzen:
                _count_windowed(counts, row, x - 0.5, last)
            else:  # whole counts (read from the log table)
                counts[row, min(max(int(x), 0), last)] += 1
            if use_gradient:
                if planar:
                    gm1, gm2 = lerp2_pair(grad_plane, j, k, u, v)
                    g_sum += _gradient_term_2d(
                        gm1,
                        gm2,
                        grad_rotation,
                        np.float64(table[s, 4]),
                        np.float64(table[s, 5]),
                        np.float64(table[s, 6]),
                    )
                else:
                    gm0, gm1, gm2 = lerp3_triple(grad, i, j, k, t, u, v)
                    g_sum += _gradient_term(
                        gm0,
                        gm1,
                        gm2,
                        grad_rotation,
                        np.float64(table[s, 3]),
                        np.float64(table[s, 4]),
                        np.float64(table[s, 5]),
                        np.float64(table[s, 6]),
                    )
        g_partial[c0 // G_CHUNK] = g_sum
    return overlap


@njit(cache=True, nogil=True, **CALLEE)
def _finish(counts, n_bins, g_partial, overlap, log_table):
    # (H0, H1, H01, G, overlap) from the counts and the G sub-sums, in order
    if overlap == 0:
        return 0.0, 0.0, 0.0, 0.0, 0
    ones = np.ones(n_bins)  # unit bin widths
    h0, h1, h01 = entropies(counts, ones, ones, log_table)
    g = 0.0
    for x in g_partial:
        g += x
    return h0, h1, h01, g, overlap


@njit(cache=True, nogil=True, parallel=True)
def evaluate_parallel(level, matrix, grad_rotation, n_chunks):
    """(H0, H1, H01, G, overlap) of ``level`` (a ``LevelData``) under the
    index map ``matrix`` and gradient rotation ``grad_rotation``, the
    samples split over ``n_chunks`` threads.

    Chunk boundaries fall on G_CHUNK multiples, so the G sub-sums, and so
    the result, are the same bits as ``evaluate_grid``'s.
    """
    n = level.table.shape[0]
    n_bins = level.n_bins
    # allocated and summed outside this function: in a parallel one each
    # np.zeros and .sum() would be a parfor, compiled as a function of its own
    partial, overlaps, g_partial = _chunk_buffers(n_chunks, n_bins, ceil_div(n, G_CHUNK))
    for c in prange(n_chunks):
        start, stop = chunk_bounds(n, n_chunks, c, G_CHUNK)
        overlaps[c] = _accumulate(level, matrix, grad_rotation, partial[c], g_partial, start, stop)
    counts, overlap = _merged(partial, overlaps)
    return _finish(counts, n_bins, g_partial, overlap, level.log_table)


@njit(cache=True, nogil=True, **CALLEE)
def _chunk_buffers(n_chunks, n_bins, n_g):
    """``evaluate_parallel``'s per-chunk counts and overlaps, and G's
    sub-sums, zeroed."""
    partial = np.zeros((n_chunks, n_bins, n_bins), np.int64)
    return partial, np.zeros(n_chunks, np.int64), np.zeros(n_g)


@njit(cache=True, nogil=True, **CALLEE)
def _merged(partial, overlaps):
    """The chunks' counts added into the first chunk's, and their overlap."""
    counts = partial[0]
    overlap = overlaps[0]
    for c in range(1, partial.shape[0]):
        overlap += overlaps[c]
        for a in range(partial.shape[1]):
            for b in range(partial.shape[2]):
                counts[a, b] += partial[c, a, b]
    return counts, overlap


@njit(cache=True, nogil=True, **CALLEE)
def _product(a, b):
    # a @ b for the 3x3 and 4x4 matrices here, by scalar loops: Numba's
    # ``@`` compiles a BLAS call with its layout and type checks into a
    # process's first registration (docs/performance.md, seventh pass)
    n, m, q = a.shape[0], a.shape[1], b.shape[1]
    out = np.empty((n, q))
    for i in range(n):
        for j in range(q):
            acc = 0.0
            for k in range(m):
                acc += a[i, k] * b[k, j]
            out[i, j] = acc
    return out


@njit(cache=True, nogil=True)
def parameter_matrices(x, transform):
    """Scaled Powell coordinates -> (4x4 index matrix, 3x3 gradient rotation).

    ``p = transform.origin + x * transform.units`` are the parameters (see
    mireg.transforms and ``records.Transform``) of the world map
    ``L (r - center) + center + t``.  The index matrix is
    ``mov_inverse @ world @ ref_grid`` (all embedded in 3-D), the
    rotation ``L^T`` (the gradient of moving(L r + ...) is L^T grad; for an
    affine ``L`` too, Pluim's G compares the directions of gradients so
    mapped).  The rotation is in world axes: :func:`gradient_rotation` turns
    it into the one between the images' own grid axes.
    """
    # scalar loops, not array expressions or ``@``: each of those compiles
    # NumPy's broadcasting (or a BLAS call) with its error messages
    n = x.size
    p = np.empty(n)
    for i in range(n):
        p[i] = transform.origin[i] + x[i] * transform.units[i]
    ndim = transform.ndim
    center = transform.center
    off = 3 - ndim
    linear = np.zeros((3, 3))
    for a in range(3):
        linear[a, a] = 1.0
    n_linear = 0
    if transform.kind == AFFINE:
        # the linear part's entries, row by row
        for a in range(ndim):
            for b in range(ndim):
                linear[off + a, off + b] = p[a * ndim + b]
        n_linear = ndim * ndim
    elif transform.kind != TRANSLATION:
        if ndim == 2:
            c, s = np.cos(p[0]), np.sin(p[0])
            linear[1, 1], linear[1, 2], linear[2, 1], linear[2, 2] = c, -s, s, c
            n_linear = 1
        else:
            theta = np.sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2])
            k = np.zeros((3, 3))
            k[0, 1], k[0, 2] = -p[2], p[1]
            k[1, 0], k[1, 2] = p[2], -p[0]
            k[2, 0], k[2, 1] = -p[1], p[0]
            if theta < 1e-8:
                kk = _product(k, k)
                for a in range(3):
                    for b in range(3):
                        linear[a, b] += k[a, b] + 0.5 * kk[a, b]
            else:
                for a in range(3):
                    for b in range(3):
                        k[a, b] /= theta
                kk = _product(k, k)
                sin_t, cos_t = np.sin(theta), 1.0 - np.cos(theta)
                for a in range(3):
                    for b in range(3):
                        linear[a, b] += sin_t * k[a, b] + cos_t * kk[a, b]
            n_linear = 3
        if transform.kind == SIMILARITY:
            scale = np.exp(p[n_linear + ndim])
            for a in range(off, 3):
                for b in range(off, 3):
                    linear[a, b] *= scale
    shift = np.zeros(3)
    for a in range(ndim):
        shift[off + a] = p[n_linear + a]
    physical = np.zeros((4, 4))
    physical[3, 3] = 1.0
    rotation = np.empty((3, 3))
    for a in range(3):
        moved = 0.0  # (linear @ center)[a]
        for b in range(3):
            physical[a, b] = linear[a, b]
            rotation[a, b] = linear[b, a]
            moved += linear[a, b] * center[b]
        physical[a, 3] = center[a] + shift[a] - moved
    return _product(transform.mov_inverse, _product(physical, transform.ref_grid)), rotation


@njit(cache=True, nogil=True)
def gradient_rotation(rotation, level):
    """The world-axes gradient rotation of :func:`parameter_matrices` as
    ``level`` (a ``LevelData``) uses it: from the moving image's grid axes
    (its gradient stack's components) to the reference's (the sample
    table's), ``world_to_reference @ rotation @ moving_to_world``.  Grids
    whose axes are the world's (``level.oriented`` False) take ``rotation``
    itself, untouched."""
    if not level.oriented:
        return rotation
    return _product(level.world_to_reference, _product(rotation, level.moving_to_world))


@njit(cache=True, nogil=True)
def evaluate_grid(xs, transform, level):
    """(H0, H1, H01, G, overlap) at each row of scaled parameters ``xs``
    (a global search grid, or one pose), serial, in one call: no Python
    between evaluations.  Returns an (n, 5) array; G is 0.0 unless
    ``level.use_gradient``, and every column 0 where nothing overlaps."""
    n = level.table.shape[0]
    n_bins = level.n_bins
    out = np.empty((xs.shape[0], 5))
    counts = np.zeros((n_bins, n_bins), np.int64)
    g_partial = np.zeros(ceil_div(n, G_CHUNK))
    for q in range(xs.shape[0]):
        matrix, rotation = parameter_matrices(xs[q], transform)
        rotation = gradient_rotation(rotation, level)
        for a in range(n_bins):  # scalar loops: no slice assignment to compile
            for b in range(n_bins):
                counts[a, b] = 0
        # np.int64(0), not 0: a literal start would compile a second specialisation
        overlap = _accumulate(level, matrix, rotation, counts, g_partial, np.int64(0), n)
        h0, h1, h01, g, overlap = _finish(counts, n_bins, g_partial, overlap, level.log_table)
        out[q, 0], out[q, 1], out[q, 2], out[q, 3], out[q, 4] = h0, h1, h01, g, overlap
    return out


@njit(cache=True, nogil=True)
def measure(h0, h1, h01, g, overlap, criterion):
    """The measure (larger is better) from ``evaluate_grid``'s statistics, by
    ``criterion`` (a ``records.Criterion``); -inf below its minimum
    overlap."""
    if overlap < criterion.min_overlap or h01 <= 0.0:
        return -np.inf
    if criterion.metric == MI:
        return h0 + h1 - h01
    nmi = (h0 + h1) / h01
    if criterion.metric != ALIGNMENT:
        return nmi
    # Pluim's product itself where the power is 1: no pow, no rounding of its own
    return nmi * (g if criterion.gradient_power == 1.0 else g**criterion.gradient_power)


@njit(cache=True, nogil=True, **CALLEE)
def objective_at(x, criterion, transform, level):
    """The cost Powell minimises: minus the measure, and 0.0 (the worst
    possible, but finite, so Powell's bracketing arithmetic stays finite)
    where too little overlaps."""
    # evaluate_grid's work for one pose written out, not called: every
    # level of calls between Powell and the sample loop is compiled again
    # with it
    matrix, rotation = parameter_matrices(x, transform)
    rotation = gradient_rotation(rotation, level)
    n = level.table.shape[0]
    counts = np.zeros((level.n_bins, level.n_bins), np.int64)
    g_partial = np.zeros(ceil_div(n, G_CHUNK))
    overlap = _accumulate(level, matrix, rotation, counts, g_partial, np.int64(0), n)
    h0, h1, h01, g, overlap = _finish(counts, level.n_bins, g_partial, overlap, level.log_table)
    v = measure(h0, h1, h01, g, overlap, criterion)
    return 0.0 if v == -np.inf else -v
