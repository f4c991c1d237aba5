"""The reference samples of a pyramid level: one float32 table row each.

Row layout (see ``cost._accumulate``): index coordinate embedded in 3-D
(3), smoothed gradient embedded in 3-D (3), its squared norm, intensity bin.
"""
import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def fill_table(image, gradient, keep, lo, scale, n_bins):
    """Rows for the pixels where ``keep`` is set, in C order (``np.nonzero``'s).

    ``image`` and ``keep`` are 3-D (a 2-D image as (1, rows, cols)),
    ``gradient`` is (k, ...) with k = 2 (row, col) for a 2-D image, 3 for a
    volume.  The squared norm is summed in float64 before the rounding to
    float32; the bin is ``clip(int((value - lo) * scale), 0, n_bins - 1)``.
    """
    d0, d1, d2 = image.shape
    k = gradient.shape[0]
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
                norm2 = 0.0
                for a in range(k):
                    g = gradient[a, i, j, m]
                    row[6 - k + a] = g
                    norm2 += g * g
                row[6] = norm2
                b = int((image[i, j, m] - lo) * scale)
                row[7] = min(max(b, 0), last)
                s += 1
    return table
