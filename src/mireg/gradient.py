"""Gradient information and Pluim's combined measure, on fused kernels.

``gradient_similarity`` is the per-pixel agreement of two images' smoothed
gradients, ``gradient_information`` its sum G, ``alignment`` mutual
information times G (Pluim, Maintz & Viergever 2000), and
``AlignmentMetric`` the same for one fixed reference image and many moving
ones.  Every result equals :mod:`mireg.reference` (NumPy/SciPy) to ~1e-15
relative: the smoothing is the same bits as ``scipy.ndimage.gaussian_filter``,
the gradients the same bits as ``np.gradient``.

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
from ._kernels import histogram as _hist
from ._parallel import parallel_chunks
from ._validation import (as_image, bins_pair, check_finite, kernel_view,
                          positive_float, same_shape)

__all__ = ["gradient_similarity", "gradient_information", "alignment", "AlignmentMetric"]

TRUNCATE = 4.0

# The fused kernels cost ~6 ns per pixel and more: two threads pay from ~1000
# pixels on an idle machine; 8192 keeps small images off the shared pool.
_PARALLEL_MIN_SIZE = 1 << 13

# Rows of the generic per-axis pass handled per block (see gaussian.py).
_BLOCK = 4096


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
        rows = max(1, _BLOCK // after)
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
    with parallel_chunks(xb.size, _PARALLEL_MIN_SIZE) as n_chunks:
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
    With ``track``, returns (sum, (min a, max a), (min b, max b)), the
    extremes in the kernel views' dtypes."""
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
        return float(total), (lo_a, hi_a), (lo_b, hi_b)
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
    if a.ndim > 3 or (a.dtype.itemsize == 1 and b.dtype.itemsize == 1):
        # metrics bins two 8-bit images in one pass, without their ranges
        information = metrics.mutual_information(a, b, bins=bins, normalized=normalized)
        return float(information * _agreement(a, b, sigma, names))
    bins_pair(bins)
    # the fused pass finds the ranges the joint histogram needs
    g, range0, range1 = _agreement(a, b, sigma, names, track=True)
    information = metrics.information_from_ranges(
        kernel_view(a).reshape(-1), kernel_view(b).reshape(-1),
        np.result_type(a.dtype, b.dtype), range0, range1, bins, normalized, names)
    return float(information * g)


class AlignmentMetric:
    """:func:`alignment` against a fixed reference image, for many moving images.

    The reference's smoothed gradient and its histogram bins are computed
    once, here; each call then smooths only the moving image and bins only
    its values.  This is what a registration driver evaluates at every
    step, and what batch users comparing many images to one need.

    Parameters
    ----------
    reference : ndarray
        The fixed image: any number of dimensions, at least 2 samples along
        every axis, any real or boolean dtype, finite.  Read here and not
        kept: later changes to it are not seen.
    sigma : float, optional
        Gaussian scale of the gradients, in pixels.
    bins : int or (int, int), optional
        Number of bins of the joint histogram along each axis.
    normalized : bool, optional
        Whether the information term of :meth:`__call__` is the normalised
        mutual information (default) or the plain one.
    mask : ndarray of bool, optional
        Of the reference's shape: only pixels where it is True enter the
        joint histogram (and so the bin ranges) and the gradient sum.  The
        gradients themselves are still those of the whole images.  None
        (default) counts every pixel.

    Raises
    ------
    ValueError
        As :func:`alignment` for the reference (naming ``reference``), a
        mask of another shape or selecting no pixel (naming ``mask``).

    Notes
    -----
    With ``mask=None``, ``metric(moving)`` equals
    ``alignment(reference, moving, sigma=sigma, bins=bins,
    normalized=normalized)`` (the gradient term to the bit, the NMI to
    ~1e-15: it is scikit-image's).  With a mask, it equals the information
    of ``reference[mask]`` and ``moving[mask]`` times the sum of
    ``gradient_similarity(reference, moving)[mask]``.

    As in ``np.histogramdd``, the reference's bin edges are built in the
    dtype the two images' values promote to; they are kept per promoted
    dtype (one, float64, for the usual interpolated moving images).

    Examples
    --------
    >>> import numpy as np
    >>> from mireg import AlignmentMetric, alignment
    >>> rng = np.random.default_rng(0)
    >>> fixed = rng.random((64, 64))
    >>> metric = AlignmentMetric(fixed, sigma=1.5)
    >>> shifted = [np.roll(fixed, s, axis=0) for s in range(3)]
    >>> [round(metric(m), 6) == round(alignment(fixed, m), 6) for m in shifted]
    [True, True, True]
    """

    def __init__(self, reference, *, sigma=1.5, bins=100, normalized=True, mask=None):
        ref = as_image(reference, "reference")
        self.sigma = positive_float(sigma, "sigma")
        self.bins = bins_pair(bins)
        self.normalized = bool(normalized)
        _check_axes(ref.shape, ("reference",))
        check_finite(ref, "reference")
        self.shape = ref.shape
        self._dtype = ref.dtype
        self._values = np.array(kernel_view(ref).reshape(-1), copy=True)
        self._mask = self._flat_mask(mask)
        self._half = _half_kernel(self.sigma)
        stack = gradient_stack(ref, self.sigma)
        if ref.ndim == 1:  # the kernel sees a (1, n) image: no axis-0 component
            stack = np.concatenate([np.zeros_like(stack), stack])
        self._gradient = stack
        self._range0 = self._range(self._values, "reference")
        self._bins0 = {}
        self._reference_bins(np.result_type(self._dtype, np.float64))

    def _flat_mask(self, mask):
        if mask is None:
            return np.empty(0, np.uint8)
        m = np.asarray(mask)
        if m.dtype != np.bool_:
            raise TypeError(f"`mask` must be a boolean array, got dtype {m.dtype}")
        if m.shape != self.shape:
            raise ValueError(f"`mask` must have the reference's shape {self.shape}, "
                             f"got {m.shape}")
        if not m.any():
            raise ValueError("`mask` selects no pixel")
        return np.ascontiguousarray(m).reshape(-1).view(np.uint8)

    def _range(self, values, name):
        """(min, max) of the counted values; ValueError naming ``name`` if
        any value is NaN or inf."""
        with parallel_chunks(values.size) as n_chunks:
            if n_chunks:
                lo, hi, finite, _ = _hist.masked_value_range_parallel(
                    values, self._mask, n_chunks)
            else:
                lo, hi, finite, _ = _hist.masked_value_range(
                    values, self._mask, 0, values.size)
        if not finite:
            check_finite(values, name)
        return lo, hi

    def _reference_bins(self, common):
        """(edges, bins of the reference's pixels) for the promoted dtype."""
        cached = self._bins0.get(common)
        if cached is None:
            edges = metrics.histogram_edges(*self._range0, common, self.bins[0])
            e = edges.astype(np.float64)
            bins = _hist.bin_indices(self._values, e, _hist.edge_tolerance(e), self._mask)
            cached = self._bins0[common] = (edges, bins)
        return cached

    def _moving(self, moving):
        m = as_image(moving, "moving")
        if m.shape != self.shape:
            raise ValueError(f"`moving` must have the reference's shape {self.shape}, "
                             f"got {m.shape}")
        return m, kernel_view(m).reshape(-1)

    def _information(self, m, values, normalized, moving_range=None):
        edges0, bins0 = self._reference_bins(np.result_type(self._dtype, m.dtype))
        lo, hi = moving_range if moving_range else self._range(values, "moving")
        edges1 = metrics.histogram_edges(lo, hi, np.result_type(self._dtype, m.dtype),
                                         self.bins[1])
        e1 = edges1.astype(np.float64)
        tol1 = _hist.edge_tolerance(e1)
        with parallel_chunks(values.size) as n_chunks:
            if n_chunks:
                counts = _hist.joint_histogram_binned_parallel(
                    bins0, self.bins[0], values, e1, tol1, n_chunks)
            else:
                counts = _hist.joint_histogram_binned(bins0, self.bins[0], values, e1, tol1)
        return metrics.information_from_counts(counts, edges0, edges1, normalized,
                                               ("reference", "moving"))

    def _gradient_sum(self, m, values, track=False):
        """G of the reference and a validated moving image; with ``track``
        (no mask, at most 3-D) also the moving image's (min, max)."""
        if m.ndim > 3:
            check_finite(m, "moving")
            return _stacked_sum(self._gradient, gradient_stack(m, self.sigma), self._mask)
        g = self._gradient.reshape(self._gradient.shape[0], -1)
        total, ok, _, _, lo, hi = _fused_sum(values, values, g, self.shape, self._half,
                                             values.dtype.kind == "f", self._mask,
                                             np.empty(0), track)
        if not ok:
            check_finite(m, "moving")
        return (float(total), (lo, hi)) if track else float(total)

    def mutual_information(self, moving):
        """The information term of :meth:`__call__`: NMI if ``normalized``,
        else MI (nats), of the reference and ``moving`` (masked)."""
        m, values = self._moving(moving)
        return self._information(m, values, self.normalized)

    def nmi(self, moving):
        """Normalised mutual information of the reference and ``moving``
        (masked), in [1, 2]."""
        m, values = self._moving(moving)
        return self._information(m, values, True)

    def gradient_information(self, moving):
        """Gradient information G of the reference and ``moving``, summed
        over the mask."""
        m, values = self._moving(moving)
        return self._gradient_sum(m, values)

    def __call__(self, moving):
        """``mutual_information(moving) * gradient_information(moving)``."""
        m, values = self._moving(moving)
        if self._mask.size or m.ndim > 3:
            information = self._information(m, values, self.normalized)
            return float(information * self._gradient_sum(m, values))
        # the gradient pass finds the moving range the histogram needs
        g, moving_range = self._gradient_sum(m, values, track=True)
        return float(self._information(m, values, self.normalized, moving_range) * g)

    def __repr__(self):
        return (f"AlignmentMetric(reference of shape {self.shape}, sigma={self.sigma}, "
                f"bins={self.bins}, normalized={self.normalized}, "
                f"mask={'None' if not self._mask.size else 'given'})")
