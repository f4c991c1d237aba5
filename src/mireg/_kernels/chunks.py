"""How parallel kernels split their work into chunks.

Every parallel kernel deals ``size`` items to ``n_chunks`` threads in
contiguous runs of equal length (the last may be shorter or empty).  Where
a floating-point sum must not depend on the split, the run length is a
multiple of the sum's fixed sub-chunk, so the serial and parallel paths add
the same partial sums in the same order.
"""

from numba import njit

from .jit import CALLEE


@njit(cache=True, nogil=True, **CALLEE)
def ceil_div(a, b):
    """``ceil(a / b)`` for non-negative integers ``a`` and positive ``b``."""
    return (a + b - 1) // b


@njit(cache=True, nogil=True, **CALLEE)
def chunk_bounds(size, n_chunks, c, multiple=1):
    """``(start, stop)`` of chunk ``c`` of ``n_chunks`` over ``range(size)``:
    runs of ``ceil(size / n_chunks)`` items, rounded up to a multiple of
    ``multiple``; chunks past the end are empty (``start == stop == size``)."""
    step = ceil_div(ceil_div(size, multiple), n_chunks) * multiple
    start = min(size, c * step)
    return start, min(size, start + step)
