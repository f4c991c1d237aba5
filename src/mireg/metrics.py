"""Mutual information metrics: drop-in, bit-faithful, fast.

``normalized_mutual_information`` has scikit-image's signature and
semantics (``skimage.metrics.normalized_mutual_information``) and agrees with
it to ~1e-15: same bins for every value, including values exactly on a bin
edge, same density weighting of unequal bin widths, same zero padding of
images of different shapes.
"""
from __future__ import annotations

import math

import numpy as np

from ._kernels import histogram as _hist
from ._kernels.entropy import entropies
from ._parallel import parallel_chunks
from ._validation import as_image, bins_pair, kernel_view, same_ndim
from ._config import SERIAL_PAIR_SECONDS, SERIAL_RANGE_SECONDS

__all__ = ["joint_histogram", "mutual_information", "normalized_mutual_information"]


def _pad_to(array, shape):
    if array.shape == tuple(shape):
        return array
    pad = [(0, int(s) - n) for s, n in zip(shape, array.shape)]
    return np.pad(array, pad, mode="constant", constant_values=0)


def _flat_pair(image0, image1, names):
    """Validate a pair and return flat kernel-ready views and the dtype
    ``np.histogramdd`` would stack them in."""
    a = as_image(image0, names[0])
    b = as_image(image1, names[1])
    same_ndim(a, b, names)
    common = np.result_type(a.dtype, b.dtype)
    if a.shape != b.shape:
        shape = np.maximum(a.shape, b.shape)
        a, b = _pad_to(a, shape), _pad_to(b, shape)
    return kernel_view(a).reshape(-1), kernel_view(b).reshape(-1), common


_FLOAT64 = np.dtype(np.float64)

# log(c) for the counts most bins hold; entropies() falls back to np.log above
_LOG_TABLE = np.log(np.maximum(np.arange(1 << 16, dtype=np.float64), 1.0))


def _raise_nonfinite(values, name):
    n_nan = int(np.count_nonzero(np.isnan(values)))
    n_inf = int(np.count_nonzero(np.isinf(values)))
    raise ValueError(
        f"`{name}` contains {n_nan} NaN and {n_inf} infinite value(s); "
        f"mask or replace them first")



def checked_ranges(values0, values1, names):
    """((min0, max0), (min1, max1)) of two flat kernel views of one size, in
    one pass each; ValueError naming the argument on NaN or inf."""
    with parallel_chunks(values0.size, serial_seconds=SERIAL_RANGE_SECONDS * values0.size,
                         kernel=("value_ranges", values0.dtype, values1.dtype)) as n_chunks:
        if n_chunks:
            ranges = _hist.value_ranges_parallel(values0, values1, n_chunks)
        else:
            ranges = _hist.value_ranges(values0, values1)
    for (lo, hi, finite), values, name in zip(ranges, (values0, values1), names):
        if not finite:
            _raise_nonfinite(values, name)
    return ranges[0][:2], ranges[1][:2]


def histogram_edges(lo, hi, common_dtype, n_bins, name="image"):
    """Bin edges exactly as ``np.histogramdd`` builds them for data whose
    minimum and maximum (in the stacked dtype) are ``lo`` and ``hi``.

    A range whose width overflows the edges' dtype (NumPy then makes NaN
    edges and fails obscurely) raises ValueError naming ``name``.
    """
    if common_dtype == _FLOAT64 and lo != hi:
        # the usual case, without NumPy scalars: the same edges
        if not math.isfinite(float(hi) - float(lo)):
            _raise_too_wide(lo, hi, n_bins, common_dtype, name)
        return np.linspace(float(lo), float(hi), n_bins + 1)
    first = np.asarray(lo).astype(common_dtype)[()]
    last = np.asarray(hi).astype(common_dtype)[()]
    if first == last:
        # numpy widens an empty range by 0.5 on each side, in scalar arithmetic
        first = first - 0.5
        last = last + 0.5
    with np.errstate(over="ignore", invalid="ignore"):
        edges = np.linspace(first, last, n_bins + 1)
    if not np.isfinite(edges).all():
        _raise_too_wide(lo, hi, n_bins, edges.dtype, name)
    return edges


def _raise_too_wide(lo, hi, n_bins, dtype, name):
    raise ValueError(
        f"`{name}` spans [{lo}, {hi}], a range too wide to split into "
        f"{n_bins} bins in {dtype}")


def kernel_edges(edges):
    """Bin edges as the histogram kernels take them: float32 and float64
    as they are, float16 widened (exactly) to float32."""
    return edges if edges.dtype.itemsize >= 4 else edges.astype(np.float32)


def _counts(a, b, edges0, edges1):
    """Joint histogram of two flat kernel views on these edges."""
    e0, e1 = kernel_edges(edges0), kernel_edges(edges1)
    with parallel_chunks(a.size, serial_seconds=SERIAL_PAIR_SECONDS * a.size,
                         kernel=("joint_histogram", a.dtype, b.dtype, e0.dtype,
                                 e1.dtype)) as n_chunks:
        if n_chunks:
            return _hist.joint_histogram_parallel(a, b, e0, e1, n_chunks)
        return _hist.joint_histogram(a, b, e0, e1)


def _counts_and_edges(image0, image1, bins, names=("image0", "image1")):
    """Validated images' joint histogram and the edges of its bins."""
    a, b, common = _flat_pair(image0, image1, names)
    n0, n1 = bins_pair(bins)
    range0, range1 = checked_ranges(a, b, names)
    edges0 = histogram_edges(*range0, common, n0, names[0])
    edges1 = histogram_edges(*range1, common, n1, names[1])
    return _counts(a, b, edges0, edges1), edges0, edges1


def joint_histogram(image0, image1, *, bins=100):
    """Joint histogram of two images' values.

    Parameters
    ----------
    image0, image1 : ndarray
        Images with the same number of dimensions; if their shapes differ
        the smaller is zero-padded at the end of each axis, as in
        scikit-image's ``normalized_mutual_information``.
    bins : int or (int, int), optional
        Number of bins along each axis.

    Returns
    -------
    counts : ndarray of float64, shape (bins0, bins1)
        Equal to ``np.histogramdd([image0.ravel(), image1.ravel()], bins)[0]``.
    edges : tuple of two ndarrays
        The bin edges, as ``np.histogramdd`` returns them.

    Raises
    ------
    ValueError
        Different ndim, empty input, NaN or inf, ``bins`` < 1.
    TypeError
        Non-numeric input or non-integer ``bins``.
    """
    counts, edges0, edges1 = _counts_and_edges(image0, image1, bins)
    return counts.astype(np.float64), (edges0, edges1)


def mutual_information(image0, image1, *, bins=100, normalized=False):
    r"""Mutual information :math:`I(A, B) = H(A) + H(B) - H(A, B)`.

    With ``normalized=True`` this is Studholme's normalized mutual
    information :math:`(H(A) + H(B)) / H(A, B)`, identical to
    :func:`normalized_mutual_information`.

    Parameters
    ----------
    image0, image1 : ndarray
        Images with the same number of dimensions (shapes may differ: the
        smaller is zero-padded).
    bins : int or (int, int), optional
        Number of bins along each axis of the joint histogram.
    normalized : bool, optional
        Return NMI instead of MI.

    Returns
    -------
    mi : numpy.float64
        MI in nats (natural logarithm), >= 0; or NMI in [1, 2].

    Raises
    ------
    ValueError
        Different ndim, empty input, NaN or inf, ``bins`` < 1, or (for NMI)
        a single occupied joint bin, where NMI is 0/0.

    References
    ----------
    .. [1] C. Studholme, D.L.G. Hill, D.J. Hawkes (1999). An overlap
           invariant entropy measure of 3D medical image alignment.
           Pattern Recognition 32(1):71-86.
           :DOI:`10.1016/S0031-3203(98)00091-0`

    Examples
    --------
    >>> import numpy as np
    >>> from mireg import mutual_information
    >>> a = np.arange(16.0).reshape(4, 4)
    >>> round(float(mutual_information(a, a, bins=4)), 6)  # = log(4)
    1.386294
    """
    names = ("image0", "image1")
    a, b, common = _flat_pair(image0, image1, names)
    n_bins = bins_pair(bins)
    range0, range1 = checked_ranges(a, b, names)
    return information_from_ranges(a, b, common, range0, range1, n_bins, normalized, names)


def normalized_mutual_information(image0, image1, *, bins=100):
    r"""Normalized mutual information, a drop-in for scikit-image's.

    .. math::

       Y(A, B) = \frac{H(A) + H(B)}{H(A, B)}

    Same signature and semantics as
    ``skimage.metrics.normalized_mutual_information``: ``bins`` an int or a
    pair, images of different shapes zero-padded, the joint histogram of
    ``np.histogramdd`` (with its density weighting), natural-log entropies.
    Ranges from 1 (independent) to 2 (perfectly predictable, whether the
    intensities are correlated positively or negatively).

    Parameters
    ----------
    image0, image1 : ndarray
        Images with the same number of dimensions. Any real or boolean
        dtype, any byte order and memory layout; never modified.
    bins : int or sequence of int, optional
        The number of bins along each axis of the joint histogram.

    Returns
    -------
    nmi : numpy.float64

    Raises
    ------
    ValueError
        If the images have different numbers of dimensions, are empty,
        contain NaN or inf, or their joint histogram has a single occupied
        bin (both constant, or ``bins=1``: NMI = 0/0, where scikit-image
        returns nan).
    TypeError
        For non-numeric arrays or a non-integer ``bins``.

    Notes
    -----
    Two passes over the pixels (range, then binning), on both cores for
    images above 65536 pixels.  Inputs are read in their own dtype, never
    copied to float64.

    References
    ----------
    .. [1] C. Studholme, D.L.G. Hill, D.J. Hawkes (1999). An overlap
           invariant entropy measure of 3D medical image alignment.
           Pattern Recognition 32(1):71-86.
           :DOI:`10.1016/S0031-3203(98)00091-0`

    Examples
    --------
    >>> import numpy as np
    >>> from mireg import normalized_mutual_information
    >>> a = np.arange(100.0).reshape(10, 10)
    >>> float(normalized_mutual_information(a, -a))
    2.0
    """
    return mutual_information(image0, image1, bins=bins, normalized=True)


def information_from_counts(counts, edges0, edges1, normalized, names=("image0", "image1")):
    """MI (or NMI) of an int64 joint histogram with bin edges ``edges0``,
    ``edges1``, computed exactly as :func:`mutual_information` computes it
    from its own histogram.  For callers that bin one image once and many
    others against it (``mireg.AlignmentMetric``)."""
    widths0 = np.diff(edges0).astype(np.float64)
    widths1 = np.diff(edges1).astype(np.float64)
    h0, h1, h01 = entropies(counts, widths0, widths1, _LOG_TABLE)
    return _information(h0, h1, h01, normalized, names)


def _information(h0, h1, h01, normalized, names):
    """MI or NMI from the marginal and joint entropies."""
    if not normalized:
        return np.float64(h0 + h1 - h01)
    if h01 == 0.0:
        raise ValueError(
            f"the joint histogram of `{names[0]}` and `{names[1]}` has a single "
            f"occupied bin (both images constant, or bins=1): their joint entropy "
            f"is 0 and NMI = 0/0 is undefined")
    return np.float64((h0 + h1) / h01)


def information_from_ranges(values0, values1, common, range0, range1, n_bins, normalized,
                            names=("image0", "image1")):
    """:func:`mutual_information` of two flat kernel views of the same size
    whose minimum and maximum (in their own dtypes) are already known and
    finite, e.g. from a pass that read them for something else
    (``mireg.alignment``); ``common`` is the dtype ``np.histogramdd`` stacks
    the original images in, ``n_bins`` a pair from ``bins_pair``.  The same
    bins and entropies, one pass fewer."""
    edges0 = histogram_edges(*range0, common, n_bins[0], names[0])
    edges1 = histogram_edges(*range1, common, n_bins[1], names[1])
    if edges0.dtype.itemsize == 2:  # float16 widths: NumPy's, from np.diff
        counts = _counts(values0, values1, edges0, edges1)
        return information_from_counts(counts, edges0, edges1, normalized, names)
    a, b = values0, values1
    with parallel_chunks(a.size, serial_seconds=SERIAL_PAIR_SECONDS * a.size,
                         kernel=("information", a.dtype, b.dtype, edges0.dtype,
                                 edges1.dtype)) as n_chunks:
        if n_chunks:
            h0, h1, h01 = _hist.information_parallel(a, b, edges0, edges1, _LOG_TABLE,
                                                     n_chunks)
        else:
            h0, h1, h01 = _hist.information(a, b, edges0, edges1, _LOG_TABLE)
    return _information(h0, h1, h01, normalized, names)
