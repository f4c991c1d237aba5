"""Smoothing, gradients and the fused gradient-agreement pass: what
``gradient``, ``AlignmentMetric`` and the registration pyramid share.

=================== =====================================================
``smooth``          ``_kernels.gaussian.smooth_axis``, one pass per axis
``gradient_stack``  ``smooth``, then ``np.gradient``'s differences
``fused_sum``       ``_kernels.gradient.agreement_2d`` / ``agreement_3d``
                    (smoothing, gradients, agreement and sum in one pass)
``stacked_sum``     ``_kernels.agreement.agreement_stacks`` (any ndim, from
                    two gradient stacks)
=================== =====================================================

The smoothing is the same bits as ``scipy.ndimage.gaussian_filter(image,
sigma, mode='constant', cval=0, truncate=TRUNCATE)`` of the float64 image
(``half_kernel`` gives scipy's weights), and the gradients the same bits
as ``np.gradient`` of it.
"""

from __future__ import annotations

import collections
import functools
import numbers

import numpy as np

from ._config import GAUSSIAN_BLOCK_SAMPLES, GRADIENT_PARALLEL_MIN_SIZE
from ._kernels import gaussian
from ._kernels import gradient as kernels
from ._kernels.agreement import agreement_stacks
from ._parallel import run_kernel
from ._validation import as_image, kernel_view, positive_float

__all__ = [
    "TRUNCATE",
    "THRESHOLD",
    "FusedSum",
    "half_kernel",
    "check_axes",
    "smooth",
    "gradient_stack",
    "fused_sum",
    "stacked_sum",
]

# Gaussian kernels reach 4 standard deviations out (scipy's default).
TRUNCATE = 4.0


def _isclose_zero_threshold(atol=1e-8):
    """The largest double ``t`` with ``sqrt(t) <= atol``: ``g2 <= t`` is
    exactly ``np.isclose(np.sqrt(g2), 0)``, as sqrt is correctly rounded
    and monotone."""
    t = atol * atol
    while np.sqrt(t) > atol:
        t = np.nextafter(t, 0.0)
    while np.sqrt(np.nextafter(t, np.inf)) <= atol:
        t = np.nextafter(t, np.inf)
    return float(t)


# A squared gradient magnitude at most this is "zero" (np.isclose(|g|, 0)).
THRESHOLD = _isclose_zero_threshold()


@functools.lru_cache(maxsize=64)
def half_kernel(sigma):
    """Half of scipy's ``_gaussian_kernel1d(sigma, 0, radius)``: the centre
    weight first.  ``[1.0]`` (identity) where scipy skips the axis.  Cached:
    the kernels only read it."""
    if sigma <= 1e-15:
        return np.ones(1)
    radius = int(TRUNCATE * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / (sigma * sigma) * x**2)
    phi = phi / phi.sum()
    return np.ascontiguousarray(phi[radius:])


def _axis_sigmas(sigma, ndim):
    """A float or one value per axis, each finite and >= 0."""
    if isinstance(sigma, (numbers.Real, np.floating, np.integer)) and not isinstance(sigma, bool):
        return (positive_float(sigma, "sigma", allow_zero=True),) * ndim
    try:
        values = list(sigma)
    except TypeError:
        raise TypeError(
            f"`sigma` must be a number or a sequence of numbers, got {sigma!r}"
        ) from None
    if len(values) != ndim:
        raise ValueError(f"`sigma` has {len(values)} values for a {ndim}-D image")
    return tuple(positive_float(s, "sigma", allow_zero=True) for s in values)


def check_axes(shape, names):
    """ValueError naming ``names`` unless every axis of ``shape`` has at
    least the 2 samples a gradient needs."""
    if min(shape) < 2:
        who = " and ".join(f"`{n}`" for n in names)
        raise ValueError(
            f"{who} {'have' if len(names) > 1 else 'has'} shape {shape}: a gradient "
            f"needs at least 2 samples along every axis"
        )


def smooth(image, sigma):
    """``scipy.ndimage.gaussian_filter(image.astype(float64), sigma,
    mode='constant', cval=0, truncate=4)``, the same bits, without the copy.

    Parameters
    ----------
    image : ndarray
        Any ndim, any real or boolean dtype (read as it is).
    sigma : float or sequence of float
        Standard deviation, one for all axes or one per axis; 0 leaves an
        axis unsmoothed.

    Returns
    -------
    smoothed : ndarray of float64
        C-contiguous, of the image's shape.
    """
    array = as_image(image, "image")
    sigmas = _axis_sigmas(sigma, array.ndim)
    src = kernel_view(array).reshape(-1)
    shape = array.shape
    result = None
    for axis, s in enumerate(sigmas):
        if s <= 1e-15:
            continue
        before = int(np.prod(shape[:axis], dtype=np.int64))
        after = int(np.prod(shape[axis + 1 :], dtype=np.int64))
        dst = np.empty(array.size)
        rows = max(1, GAUSSIAN_BLOCK_SAMPLES // after)
        run_kernel(
            gaussian.smooth_axis,
            gaussian.smooth_axis_parallel,
            src,
            dst,
            half_kernel(s),
            before,
            shape[axis],
            after,
            rows,
            size=array.size,
        )
        src = result = dst
    if result is None:
        result = np.array(array, dtype=np.float64, order="C")
    return result.reshape(shape)


def gradient_stack(image, sigma):
    """``np.gradient(smooth(image, sigma))`` stacked: float64, shape
    ``(image.ndim,) + image.shape``.

    The same bits as ``np.gradient`` (central differences inside, one-sided
    at the borders), and as the gradients the fused kernels use.  Every
    axis needs at least 2 samples.
    """
    smoothed = smooth(image, sigma)
    check_axes(smoothed.shape, ("image",))
    stack = np.empty((smoothed.ndim,) + smoothed.shape)
    for axis in range(smoothed.ndim):
        f = np.moveaxis(smoothed, axis, 0)
        out = np.moveaxis(stack[axis], axis, 0)
        np.subtract(f[2:], f[:-2], out=out[1:-1])
        out[1:-1] /= 2.0
        np.subtract(f[1:2], f[0:1], out=out[0:1])
        np.subtract(f[-1:], f[-2:-1], out=out[-1:])
    return stack


def _read_alike(xa, xb):
    """Two flat kernel views of different dtypes in the one dtype NumPy
    promotes them to, wherever that holds every value exactly (all but
    64-bit integers, whose promotion to float64 rounds).  The kernels read
    every sample as float64, so the result is the same bits; each pair of
    dtypes would otherwise compile every gradient kernel once more on
    first use.  The copy is one pass over one image, small next to
    the smoothing."""
    if xa.dtype == xb.dtype or any(x.dtype.kind in "iu" and x.itemsize == 8 for x in (xa, xb)):
        return xa, xb
    common = np.promote_types(xa.dtype, xb.dtype)
    return xa.astype(common, copy=False), xb.astype(common, copy=False)


FusedSum = collections.namedtuple("FusedSum", "total finite range_a range_b")
FusedSum.__doc__ = """What :func:`fused_sum` returns: the gradient information
``total`` (float64), whether every sample read was ``finite``, and the
images' ``(min, max)`` in their own dtypes (meaningful only if tracked)."""


def fused_sum(xa, xb, given, shape, half, check, mask, out, track=False):
    """Gradient information of two images in one fused pass, for a 1-, 2-
    or 3-D ``shape``.

    Parameters
    ----------
    xa, xb : ndarray
        Flat kernel views of images A and B (``xa`` unread if ``given``);
        of different dtypes, both are read in one (see ``_read_alike``).
    given : ndarray or None
        A's gradient instead of image A: (k, size) float64, for 1-D with a
        zero component first.
    shape : tuple of int
        The images' shape.
    half : ndarray
        Half kernel of the smoothing, for every axis.
    check : bool
        Whether to look for NaN and inf (reported as ``finite``).
    mask : ndarray of uint8
        Flat, selecting the pixels summed; empty for all.
    out : ndarray of float64
        Flat, to receive the per-pixel map; empty for none.
    track : bool, optional
        Whether to find the images' minimum and maximum on the way.

    Returns
    -------
    FusedSum
    """
    dtypes = xa.dtype, xb.dtype
    if given is None:
        xa, xb = _read_alike(xa, xb)
        g = np.empty((3, 0))
    else:
        g = given
    if len(shape) <= 2:
        n0, n1 = shape if len(shape) == 2 else (1, shape[0])
        h0 = half if len(shape) == 2 else np.ones(1)
        args = (xa, xb, g[0], g[1], n0, n1, h0, half, THRESHOLD, check, track, mask, out)
        # a single row is not split: the serial kernel, whatever the size
        size = xb.size if n0 > 1 else 0
        result = run_kernel(
            kernels.agreement_2d,
            kernels.agreement_2d_parallel,
            *args,
            size=size,
            min_size=GRADIENT_PARALLEL_MIN_SIZE,
        )
    else:
        args = (
            xa,
            xb,
            g[0],
            g[1],
            g[2],
            *shape,
            half,
            half,
            half,
            THRESHOLD,
            check,
            track,
            mask,
            out,
        )
        result = run_kernel(
            kernels.agreement_3d,
            kernels.agreement_3d_parallel,
            *args,
            size=xb.size,
            min_size=GRADIENT_PARALLEL_MIN_SIZE,
        )
    total, finite, lo_a, hi_a, lo_b, hi_b = result
    return FusedSum(
        total,
        finite,
        _in_dtype((lo_a, hi_a), dtypes[0], xa.dtype),
        _in_dtype((lo_b, hi_b), dtypes[1], xb.dtype),
    )


def _in_dtype(value_range, dtype, read_dtype):
    """A range the kernel read in ``read_dtype``, in its image's own
    ``dtype`` (exact: see ``_read_alike``); as it is if the two agree."""
    if read_dtype == dtype:
        return value_range
    return tuple(dtype.type(v).item() for v in value_range)


def stacked_sum(ga, gb, mask, out_map=None):
    """Gradient information of two gradient stacks ((ndim,) + shape, any
    ndim), summed where ``mask`` (flat uint8, or empty); the per-pixel map
    into ``out_map`` (float64 of the shape) if given."""
    out = np.empty(0) if out_map is None else out_map.reshape(-1)
    n_rows = ga.shape[1]  # the sum is chunked along the first image axis
    return float(
        agreement_stacks(
            ga.reshape(ga.shape[0], -1),
            gb.reshape(gb.shape[0], -1),
            THRESHOLD,
            mask,
            out,
            np.empty(n_rows),
        )
    )
