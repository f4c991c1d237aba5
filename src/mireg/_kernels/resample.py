"""Resampling a whole image through an affine map: ``mireg.warp``'s cubic
path (``scipy.ndimage.affine_transform(order=3, mode="constant")``'s
values, several times faster)."""

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
