"""Gradient information and Pluim's combined measure, on fused kernels.

``gradient_similarity`` is the per-pixel agreement of two images' smoothed
gradients, ``gradient_information`` its sum G, ``alignment`` mutual
information times G (Pluim, Maintz & Viergever 2000);
:class:`~mireg.AlignmentMetric` (``alignment_metric.py``) is the same for
one fixed reference image and many moving ones.  Every result equals
:mod:`mireg.reference` (NumPy/SciPy) to ~1e-15 relative: the smoothing
is the same bits as ``scipy.ndimage.gaussian_filter``, the gradients the
same bits as ``np.gradient``.

The kernels stream the images row by row (plane by plane for volumes):
smoothing, gradients, weighting and the sum are fused, with no array of
the image's size allocated (``gradient_similarity`` allocates its output).
Integer and float32 images are read as they are.
"""
from __future__ import annotations

import functools
import numbers

import numpy as np

from . import metrics
from ._kernels import gaussian as _gauss
from ._kernels import gradient as _grad
from ._parallel import parallel_chunks
from ._validation import (as_image, bins_pair, check_finite, kernel_view,
                          positive_float, same_shape)
from ._config import GAUSSIAN_BLOCK_SAMPLES, GRADIENT_PARALLEL_MIN_SIZE

__all__ = ["gradient_similarity", "gradient_information", "alignment"]

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


_THRESHOLD = _isclose_zero_threshold()


@functools.lru_cache(maxsize=64)
def _half_kernel(sigma):
    """Half of scipy's ``_gaussian_kernel1d(sigma, 0, radius)``: the centre
    weight first.  ``[1.0]`` (identity) where scipy skips the axis.  Cached:
    the kernels only read it."""
    if sigma <= 1e-15:
        return np.ones(1)
    radius = int(TRUNCATE * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / (sigma * sigma) * x ** 2)
    phi = phi / phi.sum()
    return np.ascontiguousarray(phi[radius:])


def _axis_sigmas(sigma, ndim):
    """A float or one value per axis, each finite and >= 0."""
    if isinstance(sigma, (numbers.Real, np.floating, np.integer)) and not isinstance(sigma, bool):
        return (positive_float(sigma, "sigma", allow_zero=True),) * ndim
    try:
        values = list(sigma)
    except TypeError:
        raise TypeError(f"`sigma` must be a number or a sequence of numbers, "
                        f"got {sigma!r}") from None
    if len(values) != ndim:
        raise ValueError(f"`sigma` has {len(values)} values for a {ndim}-D image")
    return tuple(positive_float(s, "sigma", allow_zero=True) for s in values)


def _check_axes(shape, names):
    if min(shape) < 2:
        who = " and ".join(f"`{n}`" for n in names)
        raise ValueError(
            f"{who} {'have' if len(names) > 1 else 'has'} shape {shape}: a gradient "
            f"needs at least 2 samples along every axis")


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
        after = int(np.prod(shape[axis + 1:], dtype=np.int64))
        n = shape[axis]
        dst = np.empty(array.size)
        half = _half_kernel(s)
        rows = max(1, GAUSSIAN_BLOCK_SAMPLES // after)
        with parallel_chunks(array.size) as n_chunks:
            if n_chunks:
                _gauss.smooth_axis_parallel(src, dst, half, before, n, after, rows, n_chunks)
            else:
                _gauss.smooth_axis(src, dst, half, before, n, after, rows)
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
    _check_axes(smoothed.shape, ("image",))
    stack = np.empty((smoothed.ndim,) + smoothed.shape)
    for axis in range(smoothed.ndim):
        f = np.moveaxis(smoothed, axis, 0)
        out = np.moveaxis(stack[axis], axis, 0)
        np.subtract(f[2:], f[:-2], out=out[1:-1])
        out[1:-1] /= 2.0
        np.subtract(f[1:2], f[0:1], out=out[0:1])
        np.subtract(f[-1:], f[-2:-1], out=out[-1:])
    return stack


def _validated_pair(image0, image1, sigma, names=("image0", "image1")):
    a = as_image(image0, names[0])
    b = as_image(image1, names[1])
    same_shape(a, b, names)
    sigma = positive_float(sigma, "sigma")
    _check_axes(a.shape, names)
    return a, b, sigma


def _fused_sum(xa, xb, given, shape, half, check, mask, out, track=False):
    """Run the fused kernel for a 1-, 2- or 3-D ``shape``: images ``xa``,
    ``xb`` (flat kernel views), or A's gradient ``given`` ((k, size)
    float64; for 1-D with a zero component first) and ``xb``.  Returns
    (sum, finite, min a, max a, min b, max b), the extremes if ``track``."""
    g = given if given is not None else np.empty((3, 0))
    with parallel_chunks(xb.size, GRADIENT_PARALLEL_MIN_SIZE) as n_chunks:
        if len(shape) <= 2:
            n0, n1 = shape if len(shape) == 2 else (1, shape[0])
            h0 = half if len(shape) == 2 else np.ones(1)
            args = (xa, xb, g[0], g[1], n0, n1, h0, half, _THRESHOLD, check, track, mask,
                    out)
            if n_chunks and n0 > 1:
                return _grad.agreement_2d_parallel(*args, n_chunks)
            return _grad.agreement_2d(*args)
        args = (xa, xb, g[0], g[1], g[2], *shape, half, half, half, _THRESHOLD,
                check, track, mask, out)
        if n_chunks:
            return _grad.agreement_3d_parallel(*args, n_chunks)
        return _grad.agreement_3d(*args)


def _agreement(a, b, sigma, names, out_map=None, track=False):
    """Sum of the gradient-agreement map of two validated images; the map
    into ``out_map`` (float64, C-contiguous, of their shape) if given.
    With ``track``, returns (sum, (min a, max a), (min b, max b), view a,
    view b): the flat kernel views read and their extremes, in their dtypes,
    for a joint histogram of the same views."""
    if a.ndim > 3:
        return _agreement_stacked(a, b, sigma, names, out_map)
    xa = kernel_view(a).reshape(-1)
    xb = kernel_view(b).reshape(-1)
    check = xa.dtype.kind == "f" or xb.dtype.kind == "f"
    out = np.empty(0) if out_map is None else out_map.reshape(-1)
    total, ok, lo_a, hi_a, lo_b, hi_b = _fused_sum(
        xa, xb, None, a.shape, _half_kernel(sigma), check, np.empty(0, np.uint8), out,
        track)
    if not ok:
        check_finite(a, names[0])
        check_finite(b, names[1])
    if track:
        return float(total), (lo_a, hi_a), (lo_b, hi_b), xa, xb
    return float(total)


def _agreement_stacked(a, b, sigma, names, out_map=None):
    """More than three dimensions: from the two gradient stacks."""
    check_finite(a, names[0])
    check_finite(b, names[1])
    return _stacked_sum(gradient_stack(a, sigma), gradient_stack(b, sigma),
                        np.empty(0, np.uint8), out_map)


def _stacked_sum(ga, gb, mask, out_map=None):
    out = np.empty(0) if out_map is None else out_map.reshape(-1)
    n_rows = ga.shape[1]  # the sum is chunked along the first image axis
    return float(_grad.agreement_stacks(ga.reshape(ga.shape[0], -1),
                                        gb.reshape(gb.shape[0], -1),
                                        _THRESHOLD, mask, out, np.empty(n_rows)))


def gradient_similarity(image0, image1, *, sigma=1.0):
    r"""Per-pixel agreement of the smoothed gradients of two images.

    .. math::

       w(\alpha)\,\min(|\nabla A|, |\nabla B|), \qquad
       w = \frac{\cos 2\alpha + 1}{2} = \cos^2 \alpha

    with :math:`\alpha` the angle between the gradients at the pixel, and 0
    where either gradient magnitude is ``np.isclose`` to 0.

    Parameters
    ----------
    image0, image1 : ndarray
        Images of the same shape, any number of dimensions (2-D images,
        3-D volumes), at least 2 samples along every axis.  Any real or
        boolean dtype, byte order and layout; never modified.
    sigma : float, optional
        Standard deviation, in pixels, of the Gaussian the images are
        smoothed with before their gradients are taken.

    Returns
    -------
    similarity : ndarray of float64
        Of the images' shape.  ``0 <= similarity <= min(|gA|, |gB|)``.

    Raises
    ------
    ValueError
        Shapes or numbers of dimensions differ, an image is empty, holds
        NaN or inf, or has an axis of length 1; ``sigma`` is not finite and
        > 0.
    TypeError
        Non-numeric input.

    Notes
    -----
    The gradient is ``np.gradient`` (central differences, one-sided at the
    borders) of ``scipy.ndimage.gaussian_filter(image, sigma,
    mode='constant', cval=0, truncate=4)``, reproduced to the bit.  The
    weight maps 0 and pi to 1: multimodal images often show the same edge
    with opposite contrast.  It is computed as
    :math:`\min(1, (g_A \cdot g_B)^2 / (|g_A|^2 |g_B|^2))`, which stays
    finite for parallel gradients, where the draft's ``arccos`` gave NaN.

    References
    ----------
    .. [1] J. P. W. Pluim, J. B. A. Maintz and M. A. Viergever, "Image
           registration by maximization of combined mutual information and
           gradient information", IEEE Transactions on Medical Imaging
           19(8):809-814, 2000. :DOI:`10.1109/42.876307`

    Examples
    --------
    >>> import numpy as np
    >>> from mireg import gradient_similarity
    >>> a = np.zeros((32, 32))
    >>> a[8:24, 8:24] = 1.0
    >>> s = gradient_similarity(a, -a)  # opposite contrast: full weight
    >>> s.shape, bool(s.max() > 0.2)
    ((32, 32), True)
    >>> float(np.abs(gradient_similarity(a, a.T) - s).max()) < 1e-12
    True
    """
    a, b, sigma = _validated_pair(image0, image1, sigma)
    out = np.empty(a.shape)
    _agreement(a, b, sigma, ("image0", "image1"), out_map=out)
    return out


def gradient_information(image0, image1, *, sigma=1.5):
    """Gradient information G of two images (Pluim et al. 2000).

    The sum over pixels of :func:`gradient_similarity`, computed without
    materialising the map or any gradient.

    Parameters
    ----------
    image0, image1 : ndarray
        Images of the same shape, any number of dimensions, at least 2
        samples along every axis; any real or boolean dtype.
    sigma : float, optional
        Gaussian scale of the gradients, in pixels.

    Returns
    -------
    g : float
        >= 0.

    Raises
    ------
    ValueError
        Shapes or numbers of dimensions differ, an image is empty, holds
        NaN or inf, or has an axis of length 1; ``sigma`` is not finite and
        > 0.
    TypeError
        Non-numeric input.

    Notes
    -----
    One pass over each image, on two threads above 8192 pixels.  The sum
    is made per row (plane for volumes) in a fixed order, so it is the same
    bits whatever the number of threads.  G is not invariant to adding a
    constant to an image: outside the image the smoothing sees zeros.

    References
    ----------
    .. [1] J. P. W. Pluim, J. B. A. Maintz and M. A. Viergever, IEEE TMI
           19(8):809-814, 2000. :DOI:`10.1109/42.876307`

    Examples
    --------
    >>> import numpy as np
    >>> from mireg import gradient_information
    >>> a = np.zeros((32, 32))
    >>> a[8:24, 8:24] = 1.0
    >>> round(gradient_information(a, a), 6)
    58.658443
    >>> gradient_information(a, -a) == gradient_information(a, a)  # contrast reversed
    True
    >>> round(gradient_information(a, 3.0 * a), 6)  # min(|gA|, |gB|) = |gA|
    58.658443
    """
    a, b, sigma = _validated_pair(image0, image1, sigma)
    return _agreement(a, b, sigma, ("image0", "image1"))


def alignment(image0, image1, *, sigma=1.5, normalized=True, bins=100):
    """Pluim's combined measure: mutual information times gradient information.

    Parameters
    ----------
    image0, image1 : ndarray
        Images of the same shape, any number of dimensions, at least 2
        samples along every axis; any real or boolean dtype.
    sigma : float, optional
        Gaussian scale of the gradients, in pixels.
    normalized : bool, optional
        Use the normalised mutual information (default) or the plain one.
    bins : int or (int, int), optional
        Number of bins of the joint histogram along each axis.

    Returns
    -------
    alignment : float
        ``mutual_information(image0, image1, bins=bins,
        normalized=normalized) * gradient_information(image0, image1,
        sigma=sigma)``; larger is better aligned.

    Raises
    ------
    ValueError
        As :func:`gradient_information`, and for ``bins`` < 1 or (NMI) two
        constant images.
    TypeError
        Non-numeric input or non-integer ``bins``.

    See Also
    --------
    AlignmentMetric : the same for one reference and many moving images.

    Notes
    -----
    Two passes over the images: the fused gradient pass, which also finds
    their minimum and maximum, then the joint histogram on those ranges
    (the bins of ``np.histogramdd``, as in :func:`mireg.mutual_information`,
    whose value the information term equals to the bit).

    References
    ----------
    .. [1] J. P. W. Pluim, J. B. A. Maintz and M. A. Viergever, IEEE TMI
           19(8):809-814, 2000. :DOI:`10.1109/42.876307`

    Examples
    --------
    >>> import numpy as np
    >>> from mireg import alignment
    >>> rng = np.random.default_rng(0)
    >>> a = rng.random((64, 64))
    >>> bool(alignment(a, a) > alignment(a, np.roll(a, 3, axis=1)))
    True
    """
    a, b, sigma = _validated_pair(image0, image1, sigma)
    names = ("image0", "image1")
    if a.ndim > 3:  # the fused pass is 1-3-D
        information = metrics.mutual_information(a, b, bins=bins, normalized=normalized)
        return float(information * _agreement(a, b, sigma, names))
    n_bins = bins_pair(bins)
    # the fused pass finds the ranges the joint histogram needs
    g, range0, range1, xa, xb = _agreement(a, b, sigma, names, track=True)
    information = metrics.information_from_ranges(
        xa, xb, np.result_type(a.dtype, b.dtype), range0, range1, n_bins, normalized, names)
    return float(information * g)
