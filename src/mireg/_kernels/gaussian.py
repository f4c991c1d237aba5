"""Separable Gaussian smoothing with ``scipy.ndimage.gaussian_filter`` semantics.

Weights are computed by the Python layer exactly as scipy's
``_gaussian_kernel1d`` and passed in as a half kernel: ``half[0]`` is the
centre weight and ``half[m]`` the weight at distance ``m`` (the kernel is
symmetric to the bit).  Samples outside the array are 0 (``mode='constant',
cval=0``).

Every output sample is accumulated in the order of scipy's symmetric
``NI_Correlate1D`` loop, in float64 and without fused multiply-adds::

    out = x[i] * half[0]
    for m = r, r-1, ..., 1:
        out += (x[i - m] + x[i + m]) * half[m]

so the result is the same bits as ``gaussian_filter`` of the float64 image:
one axis after the other, in axis order, each pass rounded to float64.  A
neighbour outside the array contributes ``(x + 0) * w == x * w``; when both
are outside nothing is added.  Inputs are read in their own dtype.

``smooth_axis`` (and its parallel twin) is one axis of
``mireg._fused.smooth``, for any number of dimensions.  The fused gradient
kernels (``gradient``) smooth a row or plane at a time as they stream an
image: ``combine_lines`` for the slowest axis, then ``correlate_padded``
along the others, over zero-padded buffers.  ``line`` is the slice that
all of them take.
"""

import numpy as np
from numba import carray, njit, prange, types
from numba.extending import intrinsic

from .._config import GAUSSIAN_SEGMENT, PICKED_DENSE, PICKED_RUN, PICKED_WINDOW
from .chunks import ceil_div, chunk_bounds
from .jit import CALLEE
from .simd import (
    LANES,
    centre8,
    centre_1_8,
    centre_2_8,
    centre_3_8,
    four_taps8,
    tap_one8,
    tap_pair8,
)


@intrinsic
def _address(typingctx, array, offset):
    """Pointer to ``array[offset]`` of a flat C-contiguous array."""
    signature = types.CPointer(array.dtype)(array, types.intp)

    def codegen(context, builder, sig, args):
        view = context.make_array(sig.args[0])(context, builder, args[0])
        return builder.gep(view.data, [args[1]])

    return signature, codegen


@njit(cache=True, nogil=True, inline="always")
def line(array, start, n):
    """``array[start:start + n]`` of a flat C-contiguous array, as a view
    that holds no reference.

    Numba's slices increment and decrement the array's reference count
    atomically, and the kernels take tens of slices per image row: that
    shows in the time per pixel, more so when two threads slice the same
    input.  The caller keeps ``array`` alive while the view is used.
    """
    return carray(_address(array, start), n)


# The taps are applied four per sweep over the output line: the partial sum
# stays in a register for four taps (same order of operations), which cuts
# the loads and stores that otherwise bound the loop.  Each loop is a
# function of its own: LLVM's vectorised loops with their runtime overlap
# checks cost far more per call when several share one function.  The bodies
# run eight samples at a time (``simd``); the last ``size % 8`` samples run
# the same arithmetic one by one.


@njit(cache=True, nogil=True, inline="always")
def _vector_end(o):
    return o.size - o.size % LANES


@njit(cache=True, nogil=True, **CALLEE)
def _centre(o, centre, c):
    end = _vector_end(o)
    for i in range(0, end, LANES):
        centre8(o, centre, c, i)
    for i in range(end, o.size):
        o[i] = np.float64(centre[i]) * c


@njit(cache=True, nogil=True, **CALLEE)
def _centre_1(o, centre, c, lo0, hi0, w0):
    end = _vector_end(o)
    for i in range(0, end, LANES):
        centre_1_8(o, centre, c, lo0, hi0, w0, i)
    for i in range(end, o.size):
        o[i] = np.float64(centre[i]) * c + (np.float64(lo0[i]) + np.float64(hi0[i])) * w0


@njit(cache=True, nogil=True, **CALLEE)
def _centre_2(o, centre, c, lo0, hi0, w0, lo1, hi1, w1):
    end = _vector_end(o)
    for i in range(0, end, LANES):
        centre_2_8(o, centre, c, lo0, hi0, w0, lo1, hi1, w1, i)
    for i in range(end, o.size):
        o[i] = (np.float64(centre[i]) * c + (np.float64(lo0[i]) + np.float64(hi0[i])) * w0) + (
            np.float64(lo1[i]) + np.float64(hi1[i])
        ) * w1


@njit(cache=True, nogil=True, **CALLEE)
def _centre_3(o, centre, c, lo0, hi0, w0, lo1, hi1, w1, lo2, hi2, w2):
    end = _vector_end(o)
    for i in range(0, end, LANES):
        centre_3_8(o, centre, c, lo0, hi0, w0, lo1, hi1, w1, lo2, hi2, w2, i)
    for i in range(end, o.size):
        o[i] = (
            (np.float64(centre[i]) * c + (np.float64(lo0[i]) + np.float64(hi0[i])) * w0)
            + (np.float64(lo1[i]) + np.float64(hi1[i])) * w1
        ) + (np.float64(lo2[i]) + np.float64(hi2[i])) * w2


@njit(cache=True, nogil=True, **CALLEE)
def _four_taps(o, lo0, hi0, w0, lo1, hi1, w1, lo2, hi2, w2, lo3, hi3, w3):
    end = _vector_end(o)
    for i in range(0, end, LANES):
        four_taps8(o, lo0, hi0, w0, lo1, hi1, w1, lo2, hi2, w2, lo3, hi3, w3, i)
    for i in range(end, o.size):
        o[i] = (
            (
                (o[i] + (np.float64(lo0[i]) + np.float64(hi0[i])) * w0)
                + (np.float64(lo1[i]) + np.float64(hi1[i])) * w1
            )
            + (np.float64(lo2[i]) + np.float64(hi2[i])) * w2
        ) + (np.float64(lo3[i]) + np.float64(hi3[i])) * w3


@njit(cache=True, nogil=True, **CALLEE)
def _tap_pair(o, lo, hi, w):
    end = _vector_end(o)
    for i in range(0, end, LANES):
        tap_pair8(o, lo, hi, w, i)
    for i in range(end, o.size):
        o[i] += (np.float64(lo[i]) + np.float64(hi[i])) * w


@njit(cache=True, nogil=True, **CALLEE)
def _tap_one(o, x, w):
    end = _vector_end(o)
    for i in range(0, end, LANES):
        tap_one8(o, x, w, i)
    for i in range(end, o.size):
        o[i] += np.float64(x[i]) * w


@njit(cache=True, nogil=True, **CALLEE)
def _symmetric_taps(o, src, s, step, half):
    """``o[i] = src[s + i] * half[0] + sum over m = r..1 of
    (src[s + i - m * step] + src[s + i + m * step]) * half[m]``, every tap
    inside ``src``; in segments of ``GAUSSIAN_SEGMENT`` outputs, which stay in L1
    from one sweep to the next."""
    n = o.size
    for start in range(0, n, GAUSSIAN_SEGMENT):
        size = min(GAUSSIAN_SEGMENT, n - start)
        _segment_taps(line(o, start, size), src, s + start, step, half)


@njit(cache=True, nogil=True, **CALLEE)
def _segment_taps(o, src, s, step, half):
    n = o.size
    r = half.size - 1
    k = r % 4
    centre = line(src, s, n)
    if k == 0:
        _centre(o, centre, half[0])
    else:
        d0 = r * step
        lo0, hi0 = line(src, s - d0, n), line(src, s + d0, n)
        if k == 1:
            _centre_1(o, centre, half[0], lo0, hi0, half[r])
        else:
            d1 = (r - 1) * step
            lo1, hi1 = line(src, s - d1, n), line(src, s + d1, n)
            if k == 2:
                _centre_2(o, centre, half[0], lo0, hi0, half[r], lo1, hi1, half[r - 1])
            else:
                d2 = (r - 2) * step
                lo2, hi2 = line(src, s - d2, n), line(src, s + d2, n)
                _centre_3(
                    o,
                    centre,
                    half[0],
                    lo0,
                    hi0,
                    half[r],
                    lo1,
                    hi1,
                    half[r - 1],
                    lo2,
                    hi2,
                    half[r - 2],
                )
    for m in range(r - k, 0, -4):
        d0, d1, d2, d3 = m * step, (m - 1) * step, (m - 2) * step, (m - 3) * step
        _four_taps(
            o,
            line(src, s - d0, n),
            line(src, s + d0, n),
            half[m],
            line(src, s - d1, n),
            line(src, s + d1, n),
            half[m - 1],
            line(src, s - d2, n),
            line(src, s + d2, n),
            half[m - 2],
            line(src, s - d3, n),
            line(src, s + d3, n),
            half[m - 3],
        )


@njit(cache=True, nogil=True, **CALLEE)
def combine_lines(x, n_lines, line_stride, line_start, p, half, o):
    """The pass along the slowest axis, for one output line segment.

    ``x`` is flat and C-ordered with ``n_lines`` lines ``line_stride``
    apart; ``o`` (a float64 view) receives the pass at line ``p`` for the
    samples ``x[p * line_stride + line_start + i]``, ``i < o.size``.
    """
    # Slices keep the inner loops on plain 0-based indices, which LLVM
    # vectorises; computed offsets into the flat arrays it does not.
    n = o.size
    r = half.size - 1
    base = p * line_stride + line_start
    if r <= p < n_lines - r:
        _symmetric_taps(o, x, base, line_stride, half)
        return
    # near the first or last line some taps fall outside: one at a time
    _centre(o, line(x, base, n), half[0])
    for m in range(r, 0, -1):
        lo = base - m * line_stride
        hi = base + m * line_stride
        if p >= m and p + m < n_lines:
            _tap_pair(o, line(x, lo, n), line(x, hi, n), half[m])
        elif p >= m:
            _tap_one(o, line(x, lo, n), half[m])
        elif p + m < n_lines:
            _tap_one(o, line(x, hi, n), half[m])


@njit(cache=True, nogil=True, **CALLEE)
def correlate_padded(buf, start, stride, half, o):
    """One pass along an axis of stride ``stride`` over a zero-padded buffer.

    ``buf[start + i]``, ``i < o.size``, are the samples and ``buf`` holds
    zeros for ``r * stride`` positions on both sides, so the taps need no
    bounds.  Writes ``o`` (a float64 slice).
    """
    _symmetric_taps(o, buf, start, stride, half)


@njit(cache=True, nogil=True, **CALLEE)
def _axis_block(src, dst, half, b, after, n, i0, i1):
    """Output rows ``[i0, i1)`` of slab ``b`` of a (before, n, after) view.

    For each tap the rows with both, only the lower or only the upper
    neighbour inside the array are contiguous flat ranges of the slab.
    """
    r = half.size - 1
    base = b * n * after
    first = base + i0 * after
    _centre(line(dst, first, (i1 - i0) * after), line(src, first, (i1 - i0) * after), half[0])
    for m in range(r, 0, -1):
        d = m * after
        lo, hi = max(i0, m), min(i1, n - m)  # both neighbours inside
        if lo < hi:
            k, size = base + lo * after, (hi - lo) * after
            _tap_pair(line(dst, k, size), line(src, k - d, size), line(src, k + d, size), half[m])
        lo = max(i0, m, n - m)  # the lower one only
        if lo < i1:
            k, size = base + lo * after, (i1 - lo) * after
            _tap_one(line(dst, k, size), line(src, k - d, size), half[m])
        hi = min(i1, m, n - m)  # the upper one only
        if i0 < hi:
            k, size = base + i0 * after, (hi - i0) * after
            _tap_one(line(dst, k, size), line(src, k + d, size), half[m])


@njit(cache=True, nogil=True, **CALLEE)
def _axis_tasks(src, dst, half, before, n, after, rows_per_block, t0, t1):
    """Tasks ``[t0, t1)``: task ``t`` is block ``t % n_blocks`` of
    ``rows_per_block`` rows of slab ``t // n_blocks``."""
    n_blocks = ceil_div(n, rows_per_block)
    for task in range(t0, t1):
        b = task // n_blocks
        i0 = (task - b * n_blocks) * rows_per_block
        _axis_block(src, dst, half, b, after, n, i0, min(n, i0 + rows_per_block))


@njit(cache=True, nogil=True)
def smooth_axis(src, dst, half, before, n, after, rows_per_block):
    """Gaussian pass along the middle axis of a (before, n, after) view.

    ``src`` (any kernel dtype) and ``dst`` (float64) are flat and
    C-contiguous; ``half`` is the half kernel.  Every output sample depends
    only on its inputs, so any split of the work gives the same bits.
    """
    n_blocks = ceil_div(n, rows_per_block)
    _axis_tasks(src, dst, half, before, n, after, rows_per_block, 0, before * n_blocks)


@njit(cache=True, nogil=True, parallel=True)
def smooth_axis_parallel(src, dst, half, before, n, after, rows_per_block, n_chunks):
    """``smooth_axis`` with its blocks split into ``n_chunks`` parallel chunks."""
    n_tasks = before * ceil_div(n, rows_per_block)
    for c in prange(n_chunks):
        start, stop = chunk_bounds(n_tasks, n_chunks, c)
        _axis_tasks(src, dst, half, before, n, after, rows_per_block, start, stop)


@njit(cache=True, nogil=True, inline="always")
def _folded(i, n, edge):
    """Index ``i`` of an axis of ``n`` samples extended past its ends:
    ``np.pad``'s "edge" (repeated end samples) or "reflect" (mirrored about
    them, ``|i| < n`` or ``2 (n - 1) - i >= 0``)."""
    if i < 0:
        return 0 if edge else -i
    if i > n - 1:
        return n - 1 if edge else 2 * (n - 1) - i
    return i


@njit(cache=True, nogil=True, **CALLEE)
def _picked_run(src, out, half, first, k, n, edge, s0, o0):
    """Outputs ``first + q``, ``q < k`` (a run of consecutive picks), of a
    line of ``n`` samples at ``src[s0:]`` (stride 1) into ``out[o0:o0 + k]``:
    the taps whose neighbours are both inside the line as vector sweeps
    (``_tap_pair``), the rest one by one through ``_folded``."""
    r = half.size - 1
    _centre(line(out, o0, k), line(src, s0 + first, k), half[0])
    for m in range(r, 0, -1):
        w = half[m]
        lo = min(k, max(0, m - first))  # outputs [lo, hi) have both inside
        hi = max(lo, min(k, n - m - first))
        if lo < hi:
            _tap_pair(
                line(out, o0 + lo, hi - lo),
                line(src, s0 + first + lo - m, hi - lo),
                line(src, s0 + first + lo + m, hi - lo),
                w,
            )
        for q in range(0, lo):
            i = first + q
            a, b = _folded(i - m, n, edge), _folded(i + m, n, edge)
            out[o0 + q] += (src[s0 + a] + src[s0 + b]) * w
        for q in range(hi, k):
            i = first + q
            a, b = _folded(i - m, n, edge), _folded(i + m, n, edge)
            out[o0 + q] += (src[s0 + a] + src[s0 + b]) * w


@njit(cache=True, nogil=True)
def smooth_picked(src, half, picks, edge, out):
    """One Gaussian pass along the middle axis of ``src`` (before, n, after),
    float64 and C-contiguous, at the indices ``picks`` (sorted) of that axis
    only, into ``out`` (before, picks.size, after).  The axis is extended
    past its ends by ``_folded``: the same bits as ``smooth_axis`` of the
    array padded by ``np.pad`` (mode "edge" or "reflect") by the kernel's
    radius, at the picked samples.

    ``out`` comes from the caller: NumPy maps a large array in huge pages,
    where one allocated here would fault in every 4 KiB page on first use
    (a 2048 x 2048 pass: ~50 ms of faults for ~5 ms of arithmetic)."""
    before, n, after = src.shape
    r = half.size - 1
    k = picks.size
    # runs of consecutive picks: run j is picks[starts[j]:starts[j + 1]]
    starts = np.empty(k + 1, np.int64)
    runs = 1
    starts[0] = 0
    for q in range(1, k):
        if picks[q] != picks[q - 1] + 1:
            starts[runs] = q
            runs += 1
    starts[runs] = k
    flat_src = src.reshape(-1)
    flat_out = out.reshape(-1)
    scratch = np.empty(n if after == 1 else 0)
    for b in range(before):
        if after == 1 and k >= PICKED_RUN * runs:
            # along the line, long runs of consecutive picks: vector sweeps
            for j in range(runs):
                q, e = starts[j], starts[j + 1]
                _picked_run(flat_src, flat_out, half, picks[q], e - q, n, edge, b * n, b * k + q)
            continue
        if after == 1 and PICKED_DENSE * k >= n:
            # many short runs (every other pair): the whole line as one run
            # into a scratch line, then the picks from it
            _picked_run(flat_src, scratch, half, np.int64(0), n, n, edge, b * n, np.int64(0))
            for q in range(k):
                out[b, q, 0] = scratch[picks[q]]
            continue
        if after == 1:
            # few scattered picks: taps outermost, so that the picks' sums
            # pipeline instead of waiting on one another
            for q in range(k):
                out[b, q, 0] = src[b, picks[q], 0] * half[0]
            for m in range(r, 0, -1):
                w = half[m]
                for q in range(k):
                    i = picks[q]
                    lo, hi = _folded(i - m, n, edge), _folded(i + m, n, edge)
                    out[b, q, 0] += (src[b, lo, 0] + src[b, hi, 0]) * w
            continue
        # whole lines of `after` samples per tap, in strips narrow enough
        # that one output line's 2r + 1 input lines stay in L2 for the next
        # pick, which shares most of them (a 1/128 level's 509 taps)
        strip = after
        if (2 * r + 1) * after > PICKED_WINDOW:
            strip = max(GAUSSIAN_SEGMENT, PICKED_WINDOW // (2 * r + 1) // 8 * 8)
        for c0 in range(0, after, strip):
            w = min(strip, after - c0)
            for q in range(k):
                i = picks[q]
                o = line(flat_out, (b * k + q) * after + c0, w)
                _centre(o, line(flat_src, (b * n + i) * after + c0, w), half[0])
                for m in range(r, 0, -1):
                    lo = line(flat_src, (b * n + _folded(i - m, n, edge)) * after + c0, w)
                    hi = line(flat_src, (b * n + _folded(i + m, n, edge)) * after + c0, w)
                    _tap_pair(o, lo, hi, half[m])
