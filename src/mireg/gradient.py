"""Gradient information and Pluim's combined measure, on fused kernels.

``gradient_similarity`` is the per-pixel agreement of two images' smoothed
gradients, ``gradient_information`` its sum G, ``alignment`` mutual
information times G (Pluim, Maintz & Viergever 2000);
:class:`~mireg.AlignmentMetric` (``alignment_metric.py``) is the same for
one fixed reference image and many moving ones.  Every result equals
:mod:`mireg.reference` (NumPy/SciPy) to ~1e-15 relative: the smoothing
is the same bits as ``scipy.ndimage.gaussian_filter``, the gradients the
same bits as ``np.gradient``.

The kernels (``_kernels.gradient``, run through ``_fused.fused_sum``)
stream the images row by row (plane by plane for volumes): smoothing,
gradients, weighting and the sum are fused, with no array of the image's
size allocated (``gradient_similarity`` allocates its output).  Integer
and float32 images are read as they are.  Images of more than three
dimensions take the gradient stacks of ``_fused.gradient_stack`` instead.
``alignment``'s information term is ``_information``'s, on the ranges the
fused pass found.
"""

from __future__ import annotations

import math

import numpy as np

from . import metrics
from ._fused import check_axes, fused_sum, gradient_stack, half_kernel, stacked_sum
from ._information import information_from_ranges
from ._validation import as_image, bins_pair, check_finite, kernel_view, positive_float, same_shape

__all__ = ["gradient_similarity", "gradient_information", "alignment"]

_NAMES = ("image0", "image1")


def _validated_pair(image0, image1, sigma, names=_NAMES):
    a = as_image(image0, names[0])
    b = as_image(image1, names[1])
    same_shape(a, b, names)
    sigma = positive_float(sigma, "sigma")
    check_axes(a.shape, names)
    return a, b, sigma


def _fused_pass(a, b, sigma, names, out_map=None, track=False):
    """``fused_sum`` of two validated images of at most 3 dimensions, and
    their flat kernel views; the map into ``out_map`` (float64,
    C-contiguous, of their shape) if given.  ValueError naming the image
    if either holds NaN or inf."""
    xa = kernel_view(a).reshape(-1)
    xb = kernel_view(b).reshape(-1)
    check = xa.dtype.kind == "f" or xb.dtype.kind == "f"
    out = np.empty(0) if out_map is None else out_map.reshape(-1)
    result = fused_sum(
        xa, xb, None, a.shape, half_kernel(sigma), check, np.empty(0, np.uint8), out, track
    )
    if not result.finite:
        check_finite(a, names[0])
        check_finite(b, names[1])
    if not math.isfinite(result.total):
        _raise_overflow(a, b, names)
    return result, xa, xb


def _raise_overflow(a, b, names):
    """ValueError naming the image whose values are so large that its
    squared gradients overflow float64 (G is not scale-free: a product of
    gradient magnitudes, not of histogram bins)."""
    spans = [float(np.max(x)) - float(np.min(x)) for x in (a, b)]
    name = names[int(np.argmax(spans))]
    raise ValueError(
        f"`{name}` spans {max(spans):.3g}: its squared gradients overflow float64 "
        "(G needs values below about 1e150); rescale the image"
    )


def _agreement(a, b, sigma, names, out_map=None):
    """Sum of the gradient-agreement map of two validated images; the map
    into ``out_map`` (float64, C-contiguous, of their shape) if given."""
    if a.ndim > 3:
        check_finite(a, names[0])
        check_finite(b, names[1])
        total = stacked_sum(
            gradient_stack(a, sigma), gradient_stack(b, sigma), np.empty(0, np.uint8), out_map
        )
        if not math.isfinite(total):
            _raise_overflow(a, b, names)
        return total
    result, _, _ = _fused_pass(a, b, sigma, names, out_map)
    return float(result.total)


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
    finite for parallel gradients, where the angle from ``arccos`` is NaN
    once rounding takes the cosine past 1.

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
    _agreement(a, b, sigma, _NAMES, out_map=out)
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
    return _agreement(a, b, sigma, _NAMES)


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
    if a.ndim > 3:  # the fused pass is 1-3-D
        information = metrics.mutual_information(a, b, bins=bins, normalized=normalized)
        return float(information * _agreement(a, b, sigma, _NAMES))
    n_bins = bins_pair(bins)
    # the fused pass finds the ranges the joint histogram needs
    fused, xa, xb = _fused_pass(a, b, sigma, _NAMES, track=True)
    information = information_from_ranges(
        xa,
        xb,
        np.result_type(a.dtype, b.dtype),
        fused.range_a,
        fused.range_b,
        n_bins,
        normalized,
        _NAMES,
    )
    return float(information * float(fused.total))
