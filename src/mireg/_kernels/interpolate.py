"""Interpolation of the moving image inside the cost kernels.

Cubic B-splines from precomputed coefficients (``scipy.ndimage.spline_filter``
with ``mode='mirror'``, the same extension below), and (bi/tri)linear
interpolation of intensities and of interleaved gradient stacks.  All
``inline="always"``: they run once per sample in ``cost._accumulate``.
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def bspline_weights(t):
    t2 = t * t
    t3 = t2 * t
    w0 = (1.0 - t) * (1.0 - t) * (1.0 - t) / 6.0
    w1 = (3.0 * t3 - 6.0 * t2 + 4.0) / 6.0
    w2 = (-3.0 * t3 + 3.0 * t2 + 3.0 * t + 1.0) / 6.0
    w3 = t3 / 6.0
    return w0, w1, w2, w3


@njit(cache=True, nogil=True, inline="always")
def mirror(i, n):
    # scipy.ndimage's 'mirror' extension of spline coefficients
    if i < 0:
        return -i
    if i >= n:
        return 2 * n - 2 - i
    return i


@njit(cache=True, nogil=True, inline="always")
def _taps2(coef, a0, a1, u0, u1, u2, u3, v0, v1, v2, v3):
    # the 4 x 4 coefficients from (a0, a1), all inside ``coef``
    r = coef[a0]
    s = u0 * (v0 * r[a1] + v1 * r[a1 + 1] + v2 * r[a1 + 2] + v3 * r[a1 + 3])
    r = coef[a0 + 1]
    s += u1 * (v0 * r[a1] + v1 * r[a1 + 1] + v2 * r[a1 + 2] + v3 * r[a1 + 3])
    r = coef[a0 + 2]
    s += u2 * (v0 * r[a1] + v1 * r[a1 + 1] + v2 * r[a1 + 2] + v3 * r[a1 + 3])
    r = coef[a0 + 3]
    s += u3 * (v0 * r[a1] + v1 * r[a1 + 1] + v2 * r[a1 + 2] + v3 * r[a1 + 3])
    return s


@njit(cache=True, nogil=True, inline="always")
def _taps3(coef, a0, a1, a2, us, vs, w0, w1, w2, w3):
    # the 4 x 4 x 4 coefficients from (a0, a1, a2), all inside ``coef``:
    # four running sums, one per coefficient along the last axis, weighted
    # last: independent chains the CPU overlaps, where nested per-row sums
    # waited on each other (docs/performance.md, motion correction)
    c0 = 0.0
    c1 = 0.0
    c2 = 0.0
    c3 = 0.0
    for p in range(4):
        i = a0 + p
        for q in range(4):
            j = a1 + q
            uv = us[p] * vs[q]
            c0 += uv * coef[i, j, a2]
            c1 += uv * coef[i, j, a2 + 1]
            c2 += uv * coef[i, j, a2 + 2]
            c3 += uv * coef[i, j, a2 + 3]
    return w0 * c0 + w1 * c1 + w2 * c2 + w3 * c3


@njit(cache=True, nogil=True, inline="always")
def cubic2_bordered(coef, y0, y1):
    """``cubic2`` of coefficients given a mirrored border, one line before
    and two after along each axis (``_levels.bordered``): every tap lies inside,
    so no edge path (whose unrolled mirror branches each kernel would
    compile on first use)."""
    f0 = np.floor(y0)
    f1 = np.floor(y1)
    u0, u1, u2, u3 = bspline_weights(y0 - f0)
    v0, v1, v2, v3 = bspline_weights(y1 - f1)
    return _taps2(coef, int(f0), int(f1), u0, u1, u2, u3, v0, v1, v2, v3)


@njit(cache=True, nogil=True, inline="always")
def cubic3_bordered(coef, y0, y1, y2):
    """``cubic3`` of coefficients with the border of ``cubic2_bordered``."""
    f0, f1, f2 = np.floor(y0), np.floor(y1), np.floor(y2)
    w0, w1, w2, w3 = bspline_weights(y2 - f2)
    us = bspline_weights(y0 - f0)
    vs = bspline_weights(y1 - f1)
    return _taps3(coef, int(f0), int(f1), int(f2), us, vs, w0, w1, w2, w3)


@njit(cache=True, nogil=True, inline="always")
def cubic2(coef, y0, y1):
    n0, n1 = coef.shape
    f0 = np.floor(y0)
    f1 = np.floor(y1)
    a0 = int(f0) - 1
    a1 = int(f1) - 1
    u0, u1, u2, u3 = bspline_weights(y0 - f0)
    v0, v1, v2, v3 = bspline_weights(y1 - f1)
    if a0 >= 0 and a1 >= 0 and a0 + 3 < n0 and a1 + 3 < n1:
        return _taps2(coef, a0, a1, u0, u1, u2, u3, v0, v1, v2, v3)
    us = (u0, u1, u2, u3)
    vs = (v0, v1, v2, v3)
    s = 0.0
    for p in range(4):
        i = mirror(a0 + p, n0)
        row = 0.0
        for q in range(4):
            row += vs[q] * coef[i, mirror(a1 + q, n1)]
        s += us[p] * row
    return s


@njit(cache=True, nogil=True, inline="always")
def cubic3(coef, y0, y1, y2):
    n0, n1, n2 = coef.shape
    f0, f1, f2 = np.floor(y0), np.floor(y1), np.floor(y2)
    a0, a1, a2 = int(f0) - 1, int(f1) - 1, int(f2) - 1
    us = bspline_weights(y0 - f0)
    vs = bspline_weights(y1 - f1)
    w0, w1, w2, w3 = bspline_weights(y2 - f2)
    if a0 >= 0 and a1 >= 0 and a2 >= 0 and a0 + 3 < n0 and a1 + 3 < n1 and a2 + 3 < n2:
        return _taps3(coef, a0, a1, a2, us, vs, w0, w1, w2, w3)
    ws = (w0, w1, w2, w3)
    s = 0.0
    for p in range(4):
        i = mirror(a0 + p, n0)
        plane = 0.0
        for q in range(4):
            j = mirror(a1 + q, n1)
            row = 0.0
            for r in range(4):
                row += ws[r] * coef[i, j, mirror(a2 + r, n2)]
            plane += vs[q] * row
        s += us[p] * plane
    return s


@njit(cache=True, nogil=True, inline="always")
def corner2(n0, n1, y0, y1):
    # lower corner and fractions for linear interpolation on [0, n-1]
    i = min(int(y0), n0 - 2)
    j = min(int(y1), n1 - 2)
    return i, j, y0 - i, y1 - j


@njit(cache=True, nogil=True, inline="always")
def lerp2(a, i, j, t, u):
    return (1.0 - t) * ((1.0 - u) * a[i, j] + u * a[i, j + 1]) + t * (
        (1.0 - u) * a[i + 1, j] + u * a[i + 1, j + 1]
    )


@njit(cache=True, nogil=True, inline="always")
def lerp3(a, i, j, k, t, u, v):
    c00 = (1.0 - v) * a[i, j, k] + v * a[i, j, k + 1]
    c01 = (1.0 - v) * a[i, j + 1, k] + v * a[i, j + 1, k + 1]
    c10 = (1.0 - v) * a[i + 1, j, k] + v * a[i + 1, j, k + 1]
    c11 = (1.0 - v) * a[i + 1, j + 1, k] + v * a[i + 1, j + 1, k + 1]
    return (1.0 - t) * ((1.0 - u) * c00 + u * c01) + t * ((1.0 - u) * c10 + u * c11)


@njit(cache=True, nogil=True, inline="always")
def lerp2_pair(a, j, k, u, v):
    # both components of an interleaved (rows, cols, 2) gradient; scalar
    # indexing throughout (a[j, k] would build a view per corner)
    w00, w01 = (1.0 - u) * (1.0 - v), (1.0 - u) * v
    w10, w11 = u * (1.0 - v), u * v
    return (
        w00 * a[j, k, 0] + w01 * a[j, k + 1, 0] + w10 * a[j + 1, k, 0] + w11 * a[j + 1, k + 1, 0],
        w00 * a[j, k, 1] + w01 * a[j, k + 1, 1] + w10 * a[j + 1, k, 1] + w11 * a[j + 1, k + 1, 1],
    )


@njit(cache=True, nogil=True, inline="always")
def lerp3_triple(a, i, j, k, t, u, v):
    g0 = 0.0
    g1 = 0.0
    g2 = 0.0
    for di in range(2):
        wi = t if di else 1.0 - t
        for dj in range(2):
            wij = wi * (u if dj else 1.0 - u)
            for dk in range(2):
                w = wij * (v if dk else 1.0 - v)
                g0 += w * a[i + di, j + dj, k + dk, 0]
                g1 += w * a[i + di, j + dj, k + dk, 1]
                g2 += w * a[i + di, j + dj, k + dk, 2]
    return g0, g1, g2
