"""Cubic B-spline prefiltering, every line of an axis at once.

``scipy.ndimage.spline_filter`` filters one line at a time, copying each
into a buffer: along an axis other than the last it reads one value per
cache line, and that pass costs several times the last axis's
(docs/performance.md); along the last, each value waits on the one before
it (the recursion), so a line runs at the latency of its arithmetic.
``prefilter_axis`` runs scipy's recursion on all the lines of a strided
axis together, row by row, so its reads are contiguous and vectorise;
``prefilter_rows`` does the same for the last axis, a block of lines at a
time transposed into a small buffer.  Each line gets scipy's operations
in scipy's order (``ni_splines.c``, ``apply_filter`` with the mirror
boundary and one pole): the same bits.
"""

import numpy as np
from numba import njit

from .jit import CALLEE

# prefilter_rows: lines filtered together (a buffer of 16 lines of 2048
# samples stays in L1/L2 for the filter's passes) and the samples of a line
# copied per step of the transposition (measured: docs/performance.md)
ROWS_PER_BLOCK = 16
TRANSPOSE_TILE = 32


@njit(cache=True, nogil=True)
def prefilter_axis(source, slab, gain, z, z_n_1):
    """Filter the lines ``source[o, :, k]`` into ``slab`` (both float64,
    ``(outer, n, inner)``, C-contiguous, ``n >= 2``; ``source`` may be
    ``slab`` itself), as scipy's ``spline_filter1d(..., order=3,
    mode="mirror")`` filters each line:

    gain; causal start ``c[0] = (c[0] + z^(n-1) c[n-1] + sum_i z^i (c[i] +
    z^(n-1) c[n-1-i])) / (1 - z^(2(n-1)))``; ``c[i] += z c[i-1]``;
    anticausal start ``c[n-1] = (z c[n-2] + c[n-1]) z / (z^2 - 1)``;
    ``c[i] = z (c[i+1] - c[i])``.  ``gain``, ``z`` (the pole) and ``z_n_1``
    (``pow(z, n - 1)``) come from the caller, computed as scipy does.
    """
    for o in range(slab.shape[0]):
        _filter_columns(source[o], slab[o], gain, z, z_n_1)


@njit(cache=True, nogil=True)
def prefilter_rows(source, rows, gain, z, z_n_1):
    """Filter each row of ``source`` into ``rows`` (both float64, ``(m,
    n)``, C-contiguous, ``n >= 2``; ``source`` may be ``rows`` itself), as
    :func:`prefilter_axis` filters its lines: ``ROWS_PER_BLOCK`` rows at a
    time, transposed into a buffer whose columns are those rows."""
    m, n = rows.shape
    block = min(ROWS_PER_BLOCK, m)
    buffer = np.empty((n, block))
    for r0 in range(0, m, block):
        b = min(block, m - r0)
        lines = buffer if b == block else np.empty((n, b))
        for i0 in range(0, n, TRANSPOSE_TILE):
            i1 = min(n, i0 + TRANSPOSE_TILE)
            for k in range(b):
                row = source[r0 + k]
                for i in range(i0, i1):
                    lines[i, k] = row[i]
        _filter_columns(lines, lines, gain, z, z_n_1)
        for i0 in range(0, n, TRANSPOSE_TILE):
            i1 = min(n, i0 + TRANSPOSE_TILE)
            for k in range(b):
                row = rows[r0 + k]
                for i in range(i0, i1):
                    row[i] = lines[i, k]


@njit(cache=True, nogil=True, **CALLEE)
def _filter_columns(source, c, gain, z, z_n_1):
    """Filter the columns of ``source`` into ``c`` (float64, ``(n,
    inner)``, C-contiguous; ``source`` may be ``c``):
    :func:`prefilter_axis`'s arithmetic."""
    n, inner = c.shape
    norm = 1 - z_n_1 * z_n_1
    anti = z * z - 1
    for i in range(n):
        for k in range(inner):
            c[i, k] = source[i, k] * gain
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
