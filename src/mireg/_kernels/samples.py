"""A pyramid level's reference samples and moving gradients.

Sample table rows (``records.LevelData.table``, read by
``cost._accumulate``): index coordinate embedded in 3-D (3), smoothed
gradient embedded in 3-D (3), its squared norm, intensity bin.
Gradients are ``np.gradient``'s of the smoothed image (central
differences inside, one-sided at the borders) divided by the voxel spacing,
the same bits, computed where they are needed: at the samples for the
reference, interleaved in float32 for the moving image.  Arrays are 3-D; a
2-D image is (1, rows, cols) and has 2 gradient components (row, col).
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _neighbours(p, n):
    # np.gradient's stencil at p: (lower, upper, divisor)
    if p == 0:
        return 0, 1, 1.0
    if p == n - 1:
        return n - 2, n - 1, 1.0
    return p - 1, p + 1, 2.0


@njit(cache=True, nogil=True)
def interleaved_gradient(smooth, spacing, out):
    """Gradient of ``smooth`` (3-D, float64) into ``out``, float32
    ``(d0, d1, d2, k)``, ``k = spacing.size`` components for the last k
    axes: ``np.gradient``'s ``(f[p+1] - f[p-1]) / 2.0`` inside,
    ``(f[1] - f[0]) / 1.0`` and ``(f[n-1] - f[n-2]) / 1.0`` at the ends,
    then ``/ spacing``.  ``out`` comes from NumPy: a large array allocated
    here would be a fresh mapping faulted in one small page at a time."""
    d0, d1, d2 = smooth.shape
    k = spacing.size
    h2 = spacing[k - 1]
    h1 = spacing[k - 2]
    h0 = spacing[0]
    for i in range(d0):
        i0, i1, q0 = _neighbours(i, d0)
        for j in range(d1):
            j0, j1, q1 = _neighbours(j, d1)
            for m in (0, d2 - 1):
                m0, m1, q2 = _neighbours(m, d2)
                if k == 3:
                    out[i, j, m, 0] = (smooth[i1, j, m] - smooth[i0, j, m]) / q0 / h0
                out[i, j, m, k - 2] = (smooth[i, j1, m] - smooth[i, j0, m]) / q1 / h1
                out[i, j, m, k - 1] = (smooth[i, j, m1] - smooth[i, j, m0]) / q2 / h2
            # inside the last axis, a loop LLVM vectorises: no per-sample
            # neighbour tests, and x / q as x * (1 / q), exact for q = 1 or 2
            r0, r1 = 1.0 / q0, 1.0 / q1
            line, row = out[i, j], smooth[i, j]
            lo0, hi0, lo1, hi1 = smooth[i0, j], smooth[i1, j], smooth[i, j0], smooth[i, j1]
            for m in range(1, d2 - 1):
                if k == 3:
                    line[m, 0] = (hi0[m] - lo0[m]) * r0 / h0
                line[m, k - 2] = (hi1[m] - lo1[m]) * r1 / h1
                line[m, k - 1] = (row[m + 1] - row[m - 1]) * 0.5 / h2
    return out


@njit(cache=True, nogil=True)
def fill_table(image, smooth, spacing, keep, lo, scale, n_bins):
    """Rows for the pixels where ``keep`` is set, in C order (``np.nonzero``'s).

    ``image``, ``smooth`` (its Gaussian-smoothed version) and ``keep`` are
    3-D; ``spacing`` has one value per gradient component (the last k axes).
    The squared norm is summed in float64 before the rounding to float32;
    the bin is ``clip(int((value - lo) * scale), 0, n_bins - 1)``.
    """
    d0, d1, d2 = image.shape
    k = spacing.size
    h0, h1, h2 = spacing[0], spacing[k - 2], spacing[k - 1]
    n = 0
    for i in range(d0):
        for j in range(d1):
            for m in range(d2):
                if keep[i, j, m]:
                    n += 1
    table = np.zeros((n, 8), np.float32)
    last = n_bins - 1
    s = 0
    for i in range(d0):
        for j in range(d1):
            for m in range(d2):
                if not keep[i, j, m]:
                    continue
                row = table[s]
                row[0] = i
                row[1] = j
                row[2] = m
                # as interleaved_gradient, at this sample only
                i0, i1, q0 = _neighbours(i, d0)
                j0, j1, q1 = _neighbours(j, d1)
                m0, m1, q2 = _neighbours(m, d2)
                g1 = (smooth[i, j1, m] - smooth[i, j0, m]) / q1 / h1
                g2 = (smooth[i, j, m1] - smooth[i, j, m0]) / q2 / h2
                if k == 3:
                    g0 = (smooth[i1, j, m] - smooth[i0, j, m]) / q0 / h0
                    row[3] = g0
                    norm2 = g0 * g0 + g1 * g1 + g2 * g2
                else:
                    norm2 = g1 * g1 + g2 * g2
                row[4] = g1
                row[5] = g2
                row[6] = norm2
                b = int((image[i, j, m] - lo) * scale)
                row[7] = min(max(b, 0), last)
                s += 1
    return table
