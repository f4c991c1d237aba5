"""Cubic B-spline prefiltering along an axis whose lines are strided.

``scipy.ndimage.spline_filter`` filters one line at a time, copying each
into a buffer: along the last axis that is cheap, along any other it reads
one value per cache line, and that pass costs several times the last
axis's (docs/performance.md).  ``prefilter_axis`` runs scipy's recursion on
every line of an axis at once, row by row, so its reads are contiguous and
vectorise.
Each line gets scipy's operations in scipy's order (``ni_splines.c``,
``apply_filter`` with the mirror boundary and one pole): the same bits.
"""

from numba import njit


@njit(cache=True, nogil=True)
def prefilter_axis(slab, gain, z, z_n_1):
    """Filter the lines ``slab[o, :, k]`` of ``slab`` (float64, ``(outer,
    n, inner)``, C-contiguous, ``n >= 2``) in place, as scipy's
    ``spline_filter1d(..., order=3, mode="mirror")`` filters each line:

    gain; causal start ``c[0] = (c[0] + z^(n-1) c[n-1] + sum_i z^i (c[i] +
    z^(n-1) c[n-1-i])) / (1 - z^(2(n-1)))``; ``c[i] += z c[i-1]``;
    anticausal start ``c[n-1] = (z c[n-2] + c[n-1]) z / (z^2 - 1)``;
    ``c[i] = z (c[i+1] - c[i])``.  ``gain``, ``z`` (the pole) and ``z_n_1``
    (``pow(z, n - 1)``) come from the caller, computed as scipy does.
    """
    outer, n, inner = slab.shape
    norm = 1 - z_n_1 * z_n_1
    anti = z * z - 1
    for o in range(outer):
        c = slab[o]
        for i in range(n):
            for k in range(inner):
                c[i, k] *= gain
        first = c[0]
        last = c[n - 1]
        for k in range(inner):
            first[k] = first[k] + z_n_1 * last[k]
        z_i = z
        for i in range(1, n - 1):
            row = c[i]
            mirror = c[n - 1 - i]
            for k in range(inner):
                first[k] += z_i * (row[k] + z_n_1 * mirror[k])
            z_i *= z
        for k in range(inner):
            first[k] /= norm
        for i in range(1, n):
            row = c[i]
            previous = c[i - 1]
            for k in range(inner):
                row[k] += z * previous[k]
        before = c[n - 2]
        for k in range(inner):
            last[k] = (z * before[k] + last[k]) * z / anti
        for i in range(n - 2, -1, -1):
            row = c[i]
            after = c[i + 1]
            for k in range(inner):
                row[k] = z * (after[k] - row[k])
