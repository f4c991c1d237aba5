"""Value range kernels: the minimum and maximum of an image's values, and
whether every value is finite, in one pass.

A joint histogram's bin edges come from its images' ranges, so every
metric scans its images once before binning them:

* ``value_ranges`` / ``value_ranges_parallel``: two images
  (``mireg.mutual_information`` and friends);
* ``masked_range`` / ``masked_range_parallel``: one image where a mask is
  set (``mireg.AlignmentMetric``);
* ``min_max``: the scan itself, inlined into any kernel that reads the
  values anyway (the fused gradient pass of ``mireg.alignment``).

Ranges are in the values' own dtype; when ``finite`` is False the minimum
and maximum are meaningless.
"""

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from .chunks import chunk_bounds
from .jit import CALLEE


def min_max(values, start, stop):  # pragma: no cover - Numba uses the overload
    """(min, max, finite) of ``values[start:stop]``; see the overload."""
    raise NotImplementedError


@overload(min_max, jit_options={"nogil": True})
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
    return min_max(values, start, stop)


@njit(cache=True, nogil=True)
def value_ranges(values0, values1):
    """``value_range`` of two whole arrays."""
    return (min_max(values0, 0, values0.size), min_max(values1, 0, values1.size))


@njit(cache=True, nogil=True, parallel=True)
def value_ranges_parallel(values0, values1, n_chunks):
    """``value_ranges`` of two arrays of one size, in ``n_chunks`` chunks.

    Chunk ``c`` of both arrays is read by one task, the same split as
    ``histogram.joint_histogram_parallel``'s: the thread that bins a chunk
    next finds it in its own cache.
    """
    # Only the prange is parallel; the chunks' results are folded by plain
    # loops: array methods and np.ones here would each become a parfor of
    # their own, compiled as a separate function (most of a first call).
    los0 = np.empty(n_chunks, values0.dtype)
    his0 = np.empty(n_chunks, values0.dtype)
    oks0 = np.empty(n_chunks, np.bool_)
    los1 = np.empty(n_chunks, values1.dtype)
    his1 = np.empty(n_chunks, values1.dtype)
    oks1 = np.empty(n_chunks, np.bool_)
    for c in prange(n_chunks):
        start, stop = chunk_bounds(values0.size, n_chunks, c)
        if start < stop:
            los0[c], his0[c], oks0[c] = min_max(values0, start, stop)
            los1[c], his1[c], oks1[c] = min_max(values1, start, stop)
        else:  # an empty chunk changes nothing
            los0[c], his0[c], oks0[c] = values0[0], values0[0], True
            los1[c], his1[c], oks1[c] = values1[0], values1[0], True
    return _fold(los0, his0, oks0), _fold(los1, his1, oks1)


@njit(cache=True, nogil=True, **CALLEE)
def _fold(los, his, oks):
    """(min, max, all finite) of the chunks' ``min_max`` results."""
    lo, hi, ok = los[0], his[0], oks[0]
    for c in range(1, los.size):
        lo = min(lo, los[c])
        hi = max(hi, his[c])
        ok = ok and oks[c]
    return lo, hi, ok


# ------------------------------------------------------------------------
# Masked ranges.  ``mask`` is flat uint8 (1 = counted), or empty for every
# value counted.


@njit(cache=True, nogil=True, **CALLEE)
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


@njit(cache=True, nogil=True)
def masked_range(values, mask):
    """``masked_value_range`` of all values."""
    return masked_value_range(values, mask, 0, values.size)


@njit(cache=True, nogil=True, parallel=True)
def masked_range_parallel(values, mask, n_chunks):
    """``masked_range`` in ``n_chunks`` parallel chunks."""
    los = np.empty(n_chunks, values.dtype)
    his = np.empty(n_chunks, values.dtype)
    oks = np.empty(n_chunks, np.bool_)  # no np.ones / np.zeros: see value_ranges_parallel
    founds = np.empty(n_chunks, np.bool_)
    for c in prange(n_chunks):
        start, stop = chunk_bounds(values.size, n_chunks, c)
        if start < stop:
            los[c], his[c], oks[c], founds[c] = masked_value_range(values, mask, start, stop)
        else:
            oks[c], founds[c] = True, False
    lo = values[0]
    hi = values[0]
    found = False
    finite = True
    for c in range(n_chunks):
        finite = finite and oks[c]
        if founds[c]:
            lo = min(lo, los[c]) if found else los[c]
            hi = max(hi, his[c]) if found else his[c]
            found = True
    return lo, hi, finite, found
