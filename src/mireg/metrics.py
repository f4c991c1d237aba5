"""Mutual information metrics: drop-in, bit-faithful, fast.

``normalized_mutual_information`` has scikit-image's signature and
semantics (``skimage.metrics.normalized_mutual_information``) and agrees with
it to ~1e-15: same bins for every value, including values exactly on a bin
edge, same density weighting of unequal bin widths, same zero padding of
images of different shapes.

Each public function validates its images here and hands flat kernel views
to ``_information``: a range pass (``_kernels.ranges``), then the binning
(``_kernels.histogram``) and, for the information measures, the entropies
of its counts (``_kernels.entropy``).
"""

from __future__ import annotations

import numpy as np

from ._information import (
    binning_scale,
    checked_ranges,
    histogram_edges,
    information_from_ranges,
    joint_counts,
    scaled_values,
)
from ._validation import as_image, bins_pair, kernel_view, same_ndim

__all__ = ["joint_histogram", "mutual_information", "normalized_mutual_information"]

_NAMES = ("image0", "image1")


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
    a, b, common = _flat_pair(image0, image1, _NAMES)
    n0, n1 = bins_pair(bins)
    range0, range1 = checked_ranges(a, b, _NAMES)
    k0 = binning_scale(*range0, np.dtype(common), n0)
    k1 = binning_scale(*range1, np.dtype(common), n1)
    a, range0 = scaled_values(a, range0, k0)
    b, range1 = scaled_values(b, range1, k1)
    edges0 = histogram_edges(*range0, common, n0, _NAMES[0])
    edges1 = histogram_edges(*range1, common, n1, _NAMES[1])
    counts = joint_counts(a, b, edges0, edges1)
    # the edges of the values as given (an extreme range was binned scaled)
    edges0, edges1 = (np.ldexp(e, -k) if k else e for e, k in ((edges0, k0), (edges1, k1)))
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
    a, b, common = _flat_pair(image0, image1, _NAMES)
    n_bins = bins_pair(bins)
    range0, range1 = checked_ranges(a, b, _NAMES)
    return information_from_ranges(a, b, common, range0, range1, n_bins, normalized, _NAMES)


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
