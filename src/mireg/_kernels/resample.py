"""Resampling a whole image: through an affine map (``mireg.warp``'s cubic
path, ``scipy.ndimage.affine_transform(order=3, mode="constant")``'s
values, several times faster), and a pyramid level's linear zoom
(``scipy.ndimage.zoom``'s bits, reading only the samples it needs)."""

from numba import njit

from .interpolate import cubic2, cubic3


@njit(cache=True, nogil=True)
def affine_cubic(coef, matrix, out, cval):
    """``out[o]`` = the cubic B-spline of coefficients ``coef`` at
    ``matrix @ (o, 1)``, or ``cval`` where that point lies outside
    ``[0, n - 1]`` along an axis (scipy's ``mode="constant"``: no
    interpolation beyond the edges).

    ``coef`` (3-D; a 2-D image as one plane) are the image's spline
    coefficients with scipy's ``mode="mirror"`` extension, which its
    ``"constant"`` mode uses inside the image too; ``matrix`` (4x4) maps
    ``out``'s index coordinates to ``coef``'s.
    """
    d0, d1, d2 = coef.shape
    planar = d0 == 1
    plane = coef[0]
    m = matrix
    hi0, hi1, hi2 = d0 - 1.0, d1 - 1.0, d2 - 1.0
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            # the row's start; each step along the last axis adds m[:, 2]
            b0 = m[0, 0] * i + m[0, 1] * j + m[0, 3]
            b1 = m[1, 0] * i + m[1, 1] * j + m[1, 3]
            b2 = m[2, 0] * i + m[2, 1] * j + m[2, 3]
            for k in range(out.shape[2]):
                y0 = b0 + m[0, 2] * k
                y1 = b1 + m[1, 2] * k
                y2 = b2 + m[2, 2] * k
                if not (0.0 <= y0 <= hi0 and 0.0 <= y1 <= hi1 and 0.0 <= y2 <= hi2):
                    out[i, j, k] = cval
                elif planar:
                    out[i, j, k] = cubic2(plane, y1, y2)
                else:
                    out[i, j, k] = cubic3(coef, y0, y1, y2)


@njit(cache=True, nogil=True)
def zoom_linear(part, reads, weights, out, lo, hi):
    """``scipy.ndimage.zoom(image, ..., order=1, mode="mirror",
    grid_mode=True)`` clipped to ``[lo, hi]``, the same bits, reading only
    ``part``: the image's values at the indices the zoom reads along each
    axis (3-D; a 2-D image as one plane).

    ``reads[axis, c, o]`` (int64) is output ``o``'s lower (``c = 0``) or
    upper (``c = 1``) read along ``axis``, as a position in ``part``, and
    ``weights[axis, c, o]`` (float64) its weight, as scipy computes both
    (``_pyramid._zoom_plan``).  scipy's sum: over the corners in C order,
    the value times each axis's weight in axis order, from 0.0.
    """
    planar = part.shape[0] == 1
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            for k in range(out.shape[2]):
                t = 0.0
                if planar:
                    for b in range(2):
                        y = reads[1, b, j]
                        for c in range(2):
                            t += part[0, y, reads[2, c, k]] * weights[1, b, j] * weights[2, c, k]
                else:
                    for a in range(2):
                        x = reads[0, a, i]
                        for b in range(2):
                            y = reads[1, b, j]
                            for c in range(2):
                                t += (
                                    part[x, y, reads[2, c, k]]
                                    * weights[0, a, i]
                                    * weights[1, b, j]
                                    * weights[2, c, k]
                                )
                out[i, j, k] = lo if t < lo else (hi if t > hi else t)
