"""Slow, obviously-correct reference implementation: the test oracle.

Plain NumPy/SciPy/scikit-image code for the method as it is first written
down: normalised mutual information times gradient information (Pluim et
al. 2000) as the cost, a Gaussian pyramid and scipy's Powell, generalised
to N-d.
Fast kernels are tested against it and benchmarks use it as their baseline,
so it favours clarity over speed.  Coordinates are in index order
(row, col[, plane]) throughout.
"""

from __future__ import annotations

import functools
import logging
import time

import numpy as np
from scipy import ndimage as ndi
from scipy import optimize
from scipy.linalg import expm
from scipy.spatial.transform import Rotation
from scipy.stats import entropy
from skimage.transform import ProjectiveTransform, pyramid_gaussian
from skimage.transform import warp as skimage_warp

__all__ = [
    "joint_histogram",
    "normalized_mutual_information",
    "mutual_information",
    "gradient",
    "gradient_similarity",
    "gradient_information",
    "alignment",
    "transform_matrix",
    "warp",
    "cost",
    "register",
]

logger = logging.getLogger("mireg.reference")

TRANSFORMS = ("translation", "rigid", "similarity")


def joint_histogram(image0, image1, *, bins=100):
    """Joint histogram of the values of two images of the same shape.

    Parameters
    ----------
    image0, image1 : ndarray
        Images of identical shape (no padding is done here).
    bins : int or sequence of int, optional
        Number of bins along each axis, as for ``np.histogramdd``.

    Returns
    -------
    counts : ndarray of float64, shape (bins0, bins1)
        Number of pixels with ``image0`` in bin ``i`` and ``image1`` in ``j``.
    """
    counts, _ = np.histogramdd([np.ravel(image0), np.ravel(image1)], bins=bins)
    return counts


def _pad_to(image, shape):
    """Zero-pad ``image`` at the end of every axis up to ``shape``."""
    pad = [(0, int(s) - n) for s, n in zip(shape, image.shape)]
    return np.pad(image, pad, mode="constant", constant_values=0)


def _entropies(image0, image1, bins):
    """Marginal and joint entropies exactly as scikit-image computes them."""
    image0, image1 = np.asarray(image0), np.asarray(image1)
    if image0.ndim != image1.ndim:
        raise ValueError(
            f"images must have the same number of dimensions; got "
            f"{image0.ndim}D for `image0` and {image1.ndim}D for `image1`"
        )
    if image0.shape != image1.shape:
        shape = np.maximum(image0.shape, image1.shape)
        image0, image1 = _pad_to(image0, shape), _pad_to(image1, shape)
    hist, _ = np.histogramdd([image0.reshape(-1), image1.reshape(-1)], bins=bins, density=True)
    # scipy.stats.entropy normalises its argument, so the density scaling
    # cancels out (up to the rounding of unequal bin widths, as in skimage).
    h0 = entropy(np.sum(hist, axis=0))
    h1 = entropy(np.sum(hist, axis=1))
    h01 = entropy(np.reshape(hist, -1))
    return h0, h1, h01


def normalized_mutual_information(image0, image1, *, bins=100):
    r"""Normalised mutual information (NMI) of two images.

    .. math:: Y(A, B) = \frac{H(A) + H(B)}{H(A, B)}

    Parameters
    ----------
    image0, image1 : ndarray
        Images with the same number of dimensions.
    bins : int or sequence of int, optional
        Number of bins along each axis of the joint histogram.

    Returns
    -------
    nmi : float
        From 1 (independent values) to 2 (one-to-one values).

    Raises
    ------
    ValueError
        If the images do not have the same number of dimensions.

    Notes
    -----
    As ``skimage.metrics.normalized_mutual_information``: images of different
    shapes are zero-padded at the end of every axis to the larger shape;
    entropies (in nats) come from the density histogram.

    References
    ----------
    .. [1] C. Studholme, D. L. G. Hill and D. J. Hawkes, "An overlap invariant
           entropy measure of 3D medical image alignment", Pattern Recognition
           32(1):71-86, 1999. :DOI:`10.1016/S0031-3203(98)00091-0`
    """
    h0, h1, h01 = _entropies(image0, image1, bins)
    return (h0 + h1) / h01


def mutual_information(image0, image1, *, bins=100, normalized=True):
    r"""Mutual information of two images, normalised or not.

    Parameters
    ----------
    image0, image1 : ndarray
        Images with the same number of dimensions.
    bins : int or sequence of int, optional
        Number of bins along each axis of the joint histogram.
    normalized : bool, optional
        If True return the NMI :math:`(H(A) + H(B)) / H(A, B)`, otherwise the
        mutual information :math:`H(A) + H(B) - H(A, B)` in nats.

    Returns
    -------
    mi : float

    Notes
    -----
    Both variants use the histogram, padding, entropies and ``ValueError`` of
    :func:`normalized_mutual_information`.

    References
    ----------
    .. [1] C. Studholme, D. L. G. Hill and D. J. Hawkes, Pattern Recognition
           32(1):71-86, 1999. :DOI:`10.1016/S0031-3203(98)00091-0`
    """
    h0, h1, h01 = _entropies(image0, image1, bins)
    return (h0 + h1) / h01 if normalized else h0 + h1 - h01


def gradient(image, sigma=1.0):
    """Gradient of a Gaussian-smoothed image, one array per axis.

    Parameters
    ----------
    image : ndarray
        Any dimension; converted to float64 before smoothing.
    sigma : float, optional
        Gaussian standard deviation in pixels (truncated at 4 sigma, zero
        outside the image).

    Returns
    -------
    gradient : tuple of ndarray of float64
        ``image.ndim`` arrays, ``np.gradient`` of the smoothed image.
    """
    smooth = ndi.gaussian_filter(
        np.asarray(image, dtype=np.float64), sigma=sigma, mode="constant", cval=0.0, truncate=4.0
    )
    components = np.gradient(smooth)
    # np.gradient returns a bare array, not a list, for 1-D input.
    if isinstance(components, np.ndarray):
        return (components,)
    return tuple(components)


def gradient_similarity(image0, image1, *, sigma=1.0):
    r"""Per-pixel agreement of the gradients of two images.

    Parameters
    ----------
    image0, image1 : ndarray
        Images of the same shape.
    sigma : float, optional
        Gaussian scale of the gradients, see :func:`gradient`.

    Returns
    -------
    similarity : ndarray of float64
        :math:`w(\alpha)\,\min(|\nabla A|, |\nabla B|)` at every pixel, with
        :math:`\alpha` the angle between the gradients and
        :math:`w = (\cos 2\alpha + 1)/2 = \cos^2\alpha`; 0 where either
        gradient magnitude is close to 0.

    Notes
    -----
    The weight is 1 for parallel and anti-parallel gradients (multimodal
    images often have reversed contrast), 0 for orthogonal ones.  Computing
    it as a clipped :math:`\cos^2\alpha` avoids the draft's ``arccos``,
    which is NaN when rounding pushes the cosine of parallel gradients
    past 1.

    References
    ----------
    .. [1] J. P. W. Pluim, J. B. A. Maintz and M. A. Viergever, "Image
           registration by maximization of combined mutual information and
           gradient information", IEEE TMI 19(8):809-814, 2000.
           :DOI:`10.1109/42.876307`
    """
    grad0 = np.stack(gradient(image0, sigma=sigma))
    grad1 = np.stack(gradient(image1, sigma=sigma))
    magnitude0 = np.sqrt(np.sum(grad0 * grad0, axis=0))
    magnitude1 = np.sqrt(np.sum(grad1 * grad1, axis=0))
    dot = np.sum(grad0 * grad1, axis=0)

    defined = ~(np.isclose(magnitude0, 0) | np.isclose(magnitude1, 0))
    cosine = np.zeros_like(dot)
    norms = magnitude0[defined] * magnitude1[defined]
    cosine[defined] = dot[defined] / norms
    weight = np.clip(cosine, -1.0, 1.0) ** 2
    return np.where(defined, weight * np.minimum(magnitude0, magnitude1), 0.0)


def gradient_information(image0, image1, *, sigma=1.5):
    """Gradient information G of two images (Pluim et al. 2000).

    Parameters
    ----------
    image0, image1 : ndarray
        Images of the same shape.
    sigma : float, optional
        Gaussian scale of the gradients, see :func:`gradient`.

    Returns
    -------
    g : float
        Sum over pixels of :func:`gradient_similarity`.

    References
    ----------
    .. [1] J. P. W. Pluim et al., IEEE TMI 19(8):809-814, 2000.
           :DOI:`10.1109/42.876307`
    """
    return float(np.sum(gradient_similarity(image0, image1, sigma=sigma)))


def alignment(image0, image1, *, sigma=1.5, normalized=True, bins=100):
    """Combined similarity: mutual information times gradient information.

    Parameters
    ----------
    image0, image1 : ndarray
        Images of the same shape.
    sigma : float, optional
        Gaussian scale of the gradients.
    normalized, bins : optional
        Passed to :func:`mutual_information`.

    Returns
    -------
    alignment : float
        ``mutual_information * gradient_information``; larger is better.

    References
    ----------
    .. [1] J. P. W. Pluim et al., IEEE TMI 19(8):809-814, 2000.
           :DOI:`10.1109/42.876307`
    """
    information = mutual_information(image0, image1, bins=bins, normalized=normalized)
    return information * gradient_information(image0, image1, sigma=sigma)


def _n_rotations(ndim):
    """Number of rotation parameters in ``ndim`` dimensions."""
    return ndim * (ndim - 1) // 2


def _translation_slice(ndim, transform):
    """Where the translation sits in the parameter vector."""
    if transform not in TRANSFORMS:
        raise ValueError(f"`transform` must be one of {TRANSFORMS}; got {transform!r}")
    start = 0 if transform == "translation" else _n_rotations(ndim)
    return slice(start, start + ndim)


def _rotation_matrix(angles, ndim):
    """Rotation in index coordinates from ``_n_rotations(ndim)`` angles."""
    if ndim == 2:
        (a,) = angles
        return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    if ndim == 3:
        return Rotation.from_rotvec(angles).as_matrix()
    generator = np.zeros((ndim, ndim))
    generator[np.triu_indices(ndim, 1)] = angles
    return expm(generator.T - generator)


def transform_matrix(parameters, ndim, transform="rigid"):
    """Homogeneous matrix mapping reference to moving index coordinates.

    Parameters
    ----------
    parameters : sequence of float
        ``"translation"``: ``t`` (``ndim`` values).  ``"rigid"``: rotation
        then ``t``; 2-D ``(a, t0, t1)``, ``a`` in radians; 3-D
        ``(r0, r1, r2, t0, t1, t2)``, ``r`` a rotation vector in radians.
        ``"similarity"``: the rigid parameters then a log-scale ``s``.
    ndim : int
    transform : {"translation", "rigid", "similarity"}, optional

    Returns
    -------
    matrix : ndarray of float64, shape (ndim + 1, ndim + 1)
        ``[[L, t], [0, 1]]`` with ``moving = L @ reference + t`` in index
        order: what ``scipy.ndimage.affine_transform`` takes to resample the
        moving image onto the reference grid.

    Raises
    ------
    ValueError
        If ``transform`` is unknown.

    Notes
    -----
    Rotations are about the index origin.  2-D: ``L = [[cos a, -sin a],
    [sin a, cos a]]``, i.e. skimage's ``SimilarityTransform(rotation=-a,
    translation=(t1, t0))`` in (x, y) order.  3-D: ``L`` is
    ``Rotation.from_rotvec(r).as_matrix()``.  Other ``ndim``: ``L = expm(K)``
    with ``K`` skew-symmetric, ``-angles`` on its upper triangle (row-major),
    as in 2-D.  The similarity scale is ``exp(s)``.
    """
    p = np.asarray(parameters, dtype=np.float64)
    shift = _translation_slice(ndim, transform)
    linear = np.eye(ndim)
    if transform != "translation":
        linear = _rotation_matrix(p[: shift.start], ndim)
    if transform == "similarity":
        linear = np.exp(p[shift.stop]) * linear
    matrix = np.eye(ndim + 1)
    matrix[:ndim, :ndim] = linear
    matrix[:ndim, ndim] = p[shift]
    return matrix


def warp(moving_image, matrix, output_shape=None, order=3):
    """Resample ``moving_image`` at ``matrix @ output coordinate``.

    Parameters
    ----------
    moving_image : ndarray
        Image to resample; converted to float64.
    matrix : ndarray, shape (ndim + 1, ndim + 1)
        Map from output to input index coordinates (:func:`transform_matrix`).
    output_shape : tuple of int, optional
        Defaults to the moving image's shape.
    order : int, optional
        Interpolation order.

    Returns
    -------
    warped : ndarray of float64
        Zero outside the moving image.

    Notes
    -----
    2-D images go through ``skimage.transform.warp`` (its order 3 is
    scikit-image's bicubic, not scipy's B-spline: the optimisation path of
    Powell depends on it, and with scipy's spline the rotated-astronaut
    demo no longer converges).  Other dimensions use
    ``scipy.ndimage.affine_transform``, the N-d generalisation.
    """
    moving = np.asarray(moving_image, dtype=np.float64)
    if output_shape is None:
        output_shape = moving.shape
    if moving.ndim == 2:
        if not moving.flags.writeable:
            moving = moving.copy()  # skimage's Cython warp wants a writable buffer
        # (row, col) -> skimage's (x, y) = (col, row)
        swap = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
        inverse_map = ProjectiveTransform(matrix=swap @ matrix @ swap)
        return skimage_warp(
            moving,
            inverse_map,
            output_shape=tuple(output_shape),
            order=order,
            mode="constant",
            cval=0.0,
        )
    return ndi.affine_transform(
        moving, matrix, output_shape=output_shape, order=order, mode="constant", cval=0.0
    )


def cost(
    parameters,
    reference_image,
    moving_image,
    *,
    transform="rigid",
    sigma=1.5,
    bins=100,
    normalized=True,
    order=3,
):
    """Negated :func:`alignment` of the reference and the warped moving image.

    Parameters
    ----------
    parameters : sequence of float
        See :func:`transform_matrix`.
    reference_image, moving_image : ndarray
        Images with the same number of dimensions.
    transform : {"translation", "rigid", "similarity"}, optional
    sigma, bins, normalized : optional
        Passed to :func:`alignment`.
    order : int, optional
        Interpolation order of :func:`warp`.

    Returns
    -------
    cost : float
        To be minimised.
    """
    reference = np.asarray(reference_image)
    matrix = transform_matrix(parameters, reference.ndim, transform)
    warped = warp(moving_image, matrix, reference.shape, order)
    return -alignment(reference, warped, sigma=sigma, normalized=normalized, bins=bins)


def register(
    reference_image, moving_image, *, transform="rigid", sigma=1.5, bins=100, min_size=5, order=3
):
    """Register two images by coarse-to-fine Powell minimisation of cost.

    Parameters
    ----------
    reference_image, moving_image : ndarray
        Images with the same number of dimensions.
    transform : {"translation", "rigid", "similarity"}, optional
    sigma, bins, order : optional
        Passed to :func:`cost` at every level.
    min_size : int, optional
        Pyramid levels with an axis shorter than this are skipped.

    Returns
    -------
    result : dict
        ``"parameters"`` (float64), ``"matrix"`` (:func:`transform_matrix`,
        full-resolution pixels), ``"cost"`` (final), ``"nfev"`` (total) and
        ``"levels"``: per level run, coarsest first, a dict of ``"level"``,
        ``"shape"``, ``"parameters"``, ``"cost"``, ``"nfev"``, ``"seconds"``.

    Notes
    -----
    Gaussian pyramids downscaled by 2, coarse to fine, each level starting
    from the previous solution with its translation doubled, in a float start
    vector (an integer one would truncate the doubled translation and the
    result); N-d, other transforms, and logging
    (logger ``"mireg.reference"``) instead of printing.

    References
    ----------
    .. [1] J. P. W. Pluim et al., IEEE TMI 19(8):809-814, 2000.
           :DOI:`10.1109/42.876307`
    """
    reference = np.asarray(reference_image, dtype=np.float64)
    moving = np.asarray(moving_image, dtype=np.float64)
    ndim, shift = reference.ndim, _translation_slice(reference.ndim, transform)
    objective = functools.partial(cost, transform=transform, sigma=sigma, bins=bins, order=order)
    pyramids = zip(
        pyramid_gaussian(reference, downscale=2, channel_axis=None),
        pyramid_gaussian(moving, downscale=2, channel_axis=None),
    )

    p = np.zeros(shift.stop + (transform == "similarity"))
    levels = []
    for n, (x, y) in reversed(list(enumerate(pyramids))):
        if min(x.shape + y.shape) < min_size:
            continue
        p[shift] *= 2
        start = time.perf_counter()
        res = optimize.minimize(objective, p, args=(x, y), method="Powell")
        p = np.asarray(res.x, dtype=np.float64)
        level = {
            "level": n,
            "shape": x.shape,
            "parameters": p.copy(),
            "cost": float(res.fun),
            "nfev": int(res.nfev),
            "seconds": time.perf_counter() - start,
        }
        levels.append(level)
        logger.info(
            "level %(level)d shape %(shape)s parameters %(parameters)s"
            " cost %(cost).6g nfev %(nfev)d seconds %(seconds).3f",
            level,
        )

    final = levels[-1]["cost"] if levels else objective(p, reference, moving)
    return {
        "parameters": p,
        "matrix": transform_matrix(p, ndim, transform),
        "cost": float(final),
        "nfev": sum(lv["nfev"] for lv in levels),
        "levels": levels,
    }
