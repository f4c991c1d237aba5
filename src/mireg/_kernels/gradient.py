"""Fused gradient-agreement kernels (Pluim et al. 2000).

``agreement_2d`` (1-D and 2-D images) and ``agreement_3d``, each with a
parallel twin, serve ``mireg.gradient_similarity``,
``mireg.gradient_information``, ``mireg.alignment`` and
``mireg.AlignmentMetric`` (through ``mireg._fused.fused_sum``);
``agreement.agreement_stacks`` serves images of more than three
dimensions, from their gradient stacks.

Per pixel, for the Gaussian-smoothed images A and B: the central-difference
gradients (``np.gradient`` semantics: ``(f[i+1] - f[i-1]) / 2`` inside,
``f[1] - f[0]`` and ``f[n-1] - f[n-2]`` at the borders), and their
agreement (``agreement.agreement_value``: the cos^2 of their angle times
the smaller magnitude).

Images are streamed: a 2-D image (a 1-D one as a single row) row by row, a
3-D volume plane by plane, the last three smoothed lines kept in a ring.
Nothing of the image's size is allocated except the optional map.
Smoothing is ``gaussian.combine_lines`` then ``gaussian.correlate_padded``,
the same bits as ``scipy.ndimage.gaussian_filter`` of the float64 image, so
the gradients are the same bits as ``np.gradient`` of it.

Sums are made per row (2-D) or per plane (3-D), each in a fixed order, and
added in row order: the serial kernels and the parallel ones, which split
the rows into chunks, give the same bits.

Every input sample is inspected once as it is read: with ``check`` for
NaN/inf (the kernels return ``finite`` False rather than raise), with
``track`` for the images' minimum and maximum (in their own dtype), which
``alignment`` hands to the joint histogram instead of reading the images
once more.
"""

import numpy as np
from numba import njit, prange

from .agreement import (
    apply_mask,
    chunk_results,
    chunks_with_work,
    fold_extremes,
    lane_sum,
    merge_chunks,
    neighbours,
    ordered_sum,
    pixel2,
    pixel3,
)
from .chunks import chunk_bounds
from .gaussian import combine_lines, correlate_padded, line
from .jit import CALLEE

# ------------------------------------------------------------------- 2-D
#
# Rows are passed around as ``line`` views (no reference counting): ring
# slot ``q % 3`` of the flat ring holds smoothed row ``q``.


@njit(cache=True, nogil=True, **CALLEE)
def _smooth_row(x, p, n0, n1, h0, h1, tbuf, out):
    """Smoothed row ``p`` of the (n0, n1) image ``x`` (flat) into ``out``;
    ``tbuf`` has ``r1`` zeros on each side of its ``n1`` samples."""
    r1 = h1.size - 1
    combine_lines(x, n0, n1, 0, p, h0, line(tbuf, r1, n1))
    correlate_padded(tbuf, r1, 1, h1, out)


@njit(cache=True, nogil=True, error_model="numpy", **CALLEE)
def _row_values(a0u, a0v, ac, b0u, b0v, bc, s0, threshold, out):
    """Values of one row of two smoothed images: ``*0u``, ``*0v`` the rows
    after and before (difference scale ``s0``), ``*c`` the row itself."""
    n = out.size
    m = n - 2
    e = n - 1
    first = pixel2(
        (a0u[0] - a0v[0]) * s0, ac[1] - ac[0], (b0u[0] - b0v[0]) * s0, bc[1] - bc[0], threshold
    )
    last = pixel2(
        (a0u[e] - a0v[e]) * s0,
        ac[e] - ac[e - 1],
        (b0u[e] - b0v[e]) * s0,
        bc[e] - bc[e - 1],
        threshold,
    )
    # inside: views shifted by one so the loop indexes plainly
    o = line(out, 1, m)
    au, av, bu, bv = line(a0u, 1, m), line(a0v, 1, m), line(b0u, 1, m), line(b0v, 1, m)
    an, ap, bn, bp = line(ac, 2, m), line(ac, 0, m), line(bc, 2, m), line(bc, 0, m)
    for j in range(m):
        o[j] = pixel2(
            (au[j] - av[j]) * s0,
            (an[j] - ap[j]) * 0.5,
            (bu[j] - bv[j]) * s0,
            (bn[j] - bp[j]) * 0.5,
            threshold,
        )
    out[0] = first
    out[e] = last


@njit(cache=True, nogil=True, error_model="numpy", **CALLEE)
def _row_values_given(g0, g1, b0u, b0v, bc, s0, threshold, out):
    """``_row_values`` with A's gradient components ``g0``, ``g1`` given."""
    n = out.size
    m = n - 2
    e = n - 1
    first = pixel2(g0[0], g1[0], (b0u[0] - b0v[0]) * s0, bc[1] - bc[0], threshold)
    last = pixel2(g0[e], g1[e], (b0u[e] - b0v[e]) * s0, bc[e] - bc[e - 1], threshold)
    o = line(out, 1, m)
    a0, a1 = line(g0, 1, m), line(g1, 1, m)
    bu, bv, bn, bp = line(b0u, 1, m), line(b0v, 1, m), line(bc, 2, m), line(bc, 0, m)
    for j in range(m):
        o[j] = pixel2(a0[j], a1[j], (bu[j] - bv[j]) * s0, (bn[j] - bp[j]) * 0.5, threshold)
    out[0] = first
    out[e] = last


@njit(cache=True, nogil=True, **CALLEE)
def _rows(
    xa, xb, g0, g1, n0, n1, h0, h1, threshold, check, track, mask, start, stop, out_map, row_sums
):
    """Rows ``[start, stop)``: of two images ``xa``, ``xb``, or, if ``g0``
    is not empty, of A's gradient (``g0``, ``g1``) and image ``xb``.
    Values into ``out_map`` (if it has the image's size), summed where
    ``mask`` (if not empty) per row into ``row_sums``.  Returns (finite,
    min a, max a, min b, max b) of the rows read (see above)."""
    r1 = h1.size - 1
    given = g0.size > 0
    ring_a = np.empty(0 if given else 3 * n1)
    ring_b = np.empty(3 * n1)
    tbuf = np.zeros(n1 + 2 * r1)
    inspect = check or track
    lo_a, hi_a, lo_b, hi_b, finite = xa[0], xa[0], xb[0], xb[0], True
    values = np.empty(n1)
    write_map = out_map.size == n0 * n1
    done = max(start - 1, 0)  # next row to smooth
    for p in range(start, stop):
        while done <= min(p + 1, n0 - 1):
            slot = (done % 3) * n1
            if not given:
                if inspect:
                    lo_a, hi_a, finite = fold_extremes(xa, done * n1, n1, lo_a, hi_a, finite)
                _smooth_row(xa, done, n0, n1, h0, h1, tbuf, line(ring_a, slot, n1))
            if inspect:
                lo_b, hi_b, finite = fold_extremes(xb, done * n1, n1, lo_b, hi_b, finite)
            _smooth_row(xb, done, n0, n1, h0, h1, tbuf, line(ring_b, slot, n1))
            done += 1
        u, v, s0 = neighbours(p, n0)
        u, v, c = (u % 3) * n1, (v % 3) * n1, (p % 3) * n1
        out = line(out_map, p * n1, n1) if write_map else values
        if given:
            _row_values_given(
                line(g0, p * n1, n1),
                line(g1, p * n1, n1),
                line(ring_b, u, n1),
                line(ring_b, v, n1),
                line(ring_b, c, n1),
                s0,
                threshold,
                out,
            )
        else:
            _row_values(
                line(ring_a, u, n1),
                line(ring_a, v, n1),
                line(ring_a, c, n1),
                line(ring_b, u, n1),
                line(ring_b, v, n1),
                line(ring_b, c, n1),
                s0,
                threshold,
                out,
            )
        if mask.size:
            apply_mask(out, line(mask, p * n1, n1))
        row_sums[p] = lane_sum(out)
    return finite, lo_a, hi_a, lo_b, hi_b


@njit(cache=True, nogil=True)
def agreement_2d(xa, xb, g0, g1, n0, n1, h0, h1, threshold, check, track, mask, out_map):
    """Gradient information of two (n0, n1) images ``xa``, ``xb`` (flat,
    any kernel dtype), or, if ``g0`` is not empty, of A's precomputed
    gradient (``g0``, ``g1``: ``np.gradient`` of the smoothed image, flat
    float64, zeros for a size-1 axis; ``xa`` is then not read) and ``xb``.

    ``n1 >= 2``.  ``h0``, ``h1``: half kernels per axis (``[1.0]``: no
    smoothing, as for the size-1 axis of a 1-D image viewed as (1, n)).
    ``mask``: flat uint8 selecting the pixels summed, or empty.
    ``out_map``: float64 of n0 * n1 to receive the per-pixel map, or empty.
    Returns (sum, finite, min a, max a, min b, max b); the extremes are
    those of the images if ``track``, else meaningless.
    """
    row_sums = np.empty(n0)
    ok, a0, a1, b0, b1 = _rows(
        xa, xb, g0, g1, n0, n1, h0, h1, threshold, check, track, mask, 0, n0, out_map, row_sums
    )
    return ordered_sum(row_sums), ok, a0, a1, b0, b1


@njit(cache=True, nogil=True, parallel=True)
def agreement_2d_parallel(
    xa, xb, g0, g1, n0, n1, h0, h1, threshold, check, track, mask, out_map, n_chunks
):
    """``agreement_2d`` on ``n_chunks`` chunks of rows: the same bits."""
    row_sums = np.empty(n0)
    n_run = chunks_with_work(n0, n_chunks)
    oks, lo_a, hi_a, lo_b, hi_b = chunk_results(n_run, xa, xb)
    for c in prange(n_run):
        start, stop = chunk_bounds(n0, n_chunks, c)
        oks[c], lo_a[c], hi_a[c], lo_b[c], hi_b[c] = _rows(
            xa,
            xb,
            g0,
            g1,
            n0,
            n1,
            h0,
            h1,
            threshold,
            check,
            track,
            mask,
            start,
            stop,
            out_map,
            row_sums,
        )
    return merge_chunks(row_sums, oks, lo_a, hi_a, lo_b, hi_b)


# ------------------------------------------------------------------- 3-D
#
# A plane is smoothed in whole-plane passes, one call each: across planes
# into ``cplane``; copied into ``tplane``, whose rows are padded with ``r2``
# zeros on each side (w = n2 + 2 r2 apart) and which has ``r1`` zero rows
# above and below; along axis 1 (stride w) into ``uplane``, padded alike;
# along axis 2 (stride 1) into the ring.  Padding the rows lets both passes
# run over the whole plane as one line: a pad is 0 after the axis-1 pass,
# and the values the axis-2 pass leaves in the pads are never read.  Row j
# of a ring plane starts at j * w + r2.


@njit(cache=True, nogil=True, **CALLEE)
def _pad_rows(plane, n1, n2, padded, first, w):
    for j in range(n1):
        row = line(padded, first + j * w, n2)
        src = line(plane, j * n2, n2)
        for k in range(n2):
            row[k] = src[k]


@njit(cache=True, nogil=True, **CALLEE)
def _smooth_plane(x, p, n0, n1, n2, h0, h1, h2, cplane, tplane, uplane, out):
    """Smoothed plane ``p`` of the (n0, n1, n2) volume ``x`` (flat) into
    ``out`` (padded rows, see above)."""
    r1 = h1.size - 1
    r2 = h2.size - 1
    w = n2 + 2 * r2
    combine_lines(x, n0, n1 * n2, 0, p, h0, cplane)
    _pad_rows(cplane, n1, n2, tplane, r1 * w + r2, w)
    span = n1 * w - 2 * r2
    correlate_padded(tplane, r1 * w + r2, w, h1, line(uplane, r2, span))
    correlate_padded(uplane, r2, 1, h2, line(out, r2, span))


@njit(cache=True, nogil=True, error_model="numpy", **CALLEE)
def _row_values3(a0u, a0v, a1u, a1v, ac, b0u, b0v, b1u, b1v, bc, s0, s1, threshold, out):
    """Values of one row of two smoothed volumes: for each, the rows before
    and after along axis 0 (``*0v``, ``*0u``, scale ``s0``) and axis 1
    (``*1v``, ``*1u``, scale ``s1``), and the row itself (``*c``)."""
    n = out.size
    m = n - 2
    e = n - 1
    first = pixel3(
        (a0u[0] - a0v[0]) * s0,
        (a1u[0] - a1v[0]) * s1,
        ac[1] - ac[0],
        (b0u[0] - b0v[0]) * s0,
        (b1u[0] - b1v[0]) * s1,
        bc[1] - bc[0],
        threshold,
    )
    last = pixel3(
        (a0u[e] - a0v[e]) * s0,
        (a1u[e] - a1v[e]) * s1,
        ac[e] - ac[e - 1],
        (b0u[e] - b0v[e]) * s0,
        (b1u[e] - b1v[e]) * s1,
        bc[e] - bc[e - 1],
        threshold,
    )
    o = line(out, 1, m)
    au0, av0, au1, av1 = line(a0u, 1, m), line(a0v, 1, m), line(a1u, 1, m), line(a1v, 1, m)
    bu0, bv0, bu1, bv1 = line(b0u, 1, m), line(b0v, 1, m), line(b1u, 1, m), line(b1v, 1, m)
    an, ap, bn, bp = line(ac, 2, m), line(ac, 0, m), line(bc, 2, m), line(bc, 0, m)
    for k in range(m):
        o[k] = pixel3(
            (au0[k] - av0[k]) * s0,
            (au1[k] - av1[k]) * s1,
            (an[k] - ap[k]) * 0.5,
            (bu0[k] - bv0[k]) * s0,
            (bu1[k] - bv1[k]) * s1,
            (bn[k] - bp[k]) * 0.5,
            threshold,
        )
    out[0] = first
    out[e] = last


@njit(cache=True, nogil=True, error_model="numpy", **CALLEE)
def _row_values3_given(g0, g1, g2, b0u, b0v, b1u, b1v, bc, s0, s1, threshold, out):
    """``_row_values3`` with A's gradient components given."""
    n = out.size
    m = n - 2
    e = n - 1
    first = pixel3(
        g0[0],
        g1[0],
        g2[0],
        (b0u[0] - b0v[0]) * s0,
        (b1u[0] - b1v[0]) * s1,
        bc[1] - bc[0],
        threshold,
    )
    last = pixel3(
        g0[e],
        g1[e],
        g2[e],
        (b0u[e] - b0v[e]) * s0,
        (b1u[e] - b1v[e]) * s1,
        bc[e] - bc[e - 1],
        threshold,
    )
    o = line(out, 1, m)
    a0, a1, a2 = line(g0, 1, m), line(g1, 1, m), line(g2, 1, m)
    bu0, bv0, bu1, bv1 = line(b0u, 1, m), line(b0v, 1, m), line(b1u, 1, m), line(b1v, 1, m)
    bn, bp = line(bc, 2, m), line(bc, 0, m)
    for k in range(m):
        o[k] = pixel3(
            a0[k],
            a1[k],
            a2[k],
            (bu0[k] - bv0[k]) * s0,
            (bu1[k] - bv1[k]) * s1,
            (bn[k] - bp[k]) * 0.5,
            threshold,
        )
    out[0] = first
    out[e] = last


@njit(cache=True, nogil=True, **CALLEE)
def _planes(
    xa,
    xb,
    g0,
    g1,
    g2,
    n0,
    n1,
    n2,
    h0,
    h1,
    h2,
    threshold,
    check,
    track,
    mask,
    start,
    stop,
    out_map,
    plane_sums,
):
    """Planes ``[start, stop)``, as ``_rows`` for volumes: per-plane sums
    (of per-row lane sums, in row order) into ``plane_sums``."""
    r1 = h1.size - 1
    r2 = h2.size - 1
    w = n2 + 2 * r2
    size = n1 * w
    given = g0.size > 0
    ring_a = np.empty(0 if given else 3 * size)
    ring_b = np.empty(3 * size)
    cplane = np.empty(n1 * n2)
    tplane = np.zeros((n1 + 2 * r1) * w)
    uplane = np.zeros(size)
    inspect = check or track
    lo_a, hi_a, lo_b, hi_b, finite = xa[0], xa[0], xb[0], xb[0], True
    values = np.empty(n2)
    write_map = out_map.size == n0 * n1 * n2
    done = max(start - 1, 0)
    for p in range(start, stop):
        while done <= min(p + 1, n0 - 1):
            slot = (done % 3) * size
            if not given:
                if inspect:
                    lo_a, hi_a, finite = fold_extremes(
                        xa, done * n1 * n2, n1 * n2, lo_a, hi_a, finite
                    )
                _smooth_plane(
                    xa,
                    done,
                    n0,
                    n1,
                    n2,
                    h0,
                    h1,
                    h2,
                    cplane,
                    tplane,
                    uplane,
                    line(ring_a, slot, size),
                )
            if inspect:
                lo_b, hi_b, finite = fold_extremes(xb, done * n1 * n2, n1 * n2, lo_b, hi_b, finite)
            _smooth_plane(
                xb, done, n0, n1, n2, h0, h1, h2, cplane, tplane, uplane, line(ring_b, slot, size)
            )
            done += 1
        u, v, s0 = neighbours(p, n0)
        u, v, c = (u % 3) * size, (v % 3) * size, (p % 3) * size
        plane_sum = 0.0
        for j in range(n1):
            ju, jv, s1 = neighbours(j, n1)
            row, up, down = j * w + r2, ju * w + r2, jv * w + r2
            flat = (p * n1 + j) * n2
            out = line(out_map, flat, n2) if write_map else values
            if given:
                _row_values3_given(
                    line(g0, flat, n2),
                    line(g1, flat, n2),
                    line(g2, flat, n2),
                    line(ring_b, u + row, n2),
                    line(ring_b, v + row, n2),
                    line(ring_b, c + up, n2),
                    line(ring_b, c + down, n2),
                    line(ring_b, c + row, n2),
                    s0,
                    s1,
                    threshold,
                    out,
                )
            else:
                _row_values3(
                    line(ring_a, u + row, n2),
                    line(ring_a, v + row, n2),
                    line(ring_a, c + up, n2),
                    line(ring_a, c + down, n2),
                    line(ring_a, c + row, n2),
                    line(ring_b, u + row, n2),
                    line(ring_b, v + row, n2),
                    line(ring_b, c + up, n2),
                    line(ring_b, c + down, n2),
                    line(ring_b, c + row, n2),
                    s0,
                    s1,
                    threshold,
                    out,
                )
            if mask.size:
                apply_mask(out, line(mask, flat, n2))
            plane_sum += lane_sum(out)
        plane_sums[p] = plane_sum
    return finite, lo_a, hi_a, lo_b, hi_b


@njit(cache=True, nogil=True)
def agreement_3d(
    xa, xb, g0, g1, g2, n0, n1, n2, h0, h1, h2, threshold, check, track, mask, out_map
):
    """``agreement_2d`` for (n0, n1, n2) volumes, every axis >= 2: of
    ``xa`` and ``xb``, or of A's gradient (``g0``, ``g1``, ``g2``) and
    ``xb`` if ``g0`` is not empty.  Returns (sum, finite, min a, max a,
    min b, max b)."""
    plane_sums = np.empty(n0)
    ok, a0, a1, b0, b1 = _planes(
        xa,
        xb,
        g0,
        g1,
        g2,
        n0,
        n1,
        n2,
        h0,
        h1,
        h2,
        threshold,
        check,
        track,
        mask,
        0,
        n0,
        out_map,
        plane_sums,
    )
    return ordered_sum(plane_sums), ok, a0, a1, b0, b1


@njit(cache=True, nogil=True, parallel=True)
def agreement_3d_parallel(
    xa, xb, g0, g1, g2, n0, n1, n2, h0, h1, h2, threshold, check, track, mask, out_map, n_chunks
):
    """``agreement_3d`` on ``n_chunks`` chunks of planes: the same bits."""
    plane_sums = np.empty(n0)
    n_run = chunks_with_work(n0, n_chunks)
    oks, lo_a, hi_a, lo_b, hi_b = chunk_results(n_run, xa, xb)
    for c in prange(n_run):
        start, stop = chunk_bounds(n0, n_chunks, c)
        oks[c], lo_a[c], hi_a[c], lo_b[c], hi_b[c] = _planes(
            xa,
            xb,
            g0,
            g1,
            g2,
            n0,
            n1,
            n2,
            h0,
            h1,
            h2,
            threshold,
            check,
            track,
            mask,
            start,
            stop,
            out_map,
            plane_sums,
        )
    return merge_chunks(plane_sums, oks, lo_a, hi_a, lo_b, hi_b)
