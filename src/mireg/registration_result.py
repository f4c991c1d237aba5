"""What :func:`mireg.register` returns, and resampling with it.

:class:`RegistrationResult` holds the transform three ways -- parameters
(world units about the reference's centre, see :mod:`mireg.transforms`),
the reference index -> moving index ``matrix`` for
``scipy.ndimage.affine_transform``, and the reference world -> moving world
``world_matrix`` -- with the images' affines and shapes that tie them
together; :func:`warp` resamples a moving image onto the reference grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from . import transforms as tf
from ._embed import embed3, embed_affine
from ._kernels.resample import affine_cubic
from ._validation import as_image, check_finite

__all__ = ["RegistrationResult", "RegistrationWarning", "warp"]


class RegistrationWarning(UserWarning):
    """A registration returned a pose that may be wrong: no overlap at any
    pose the global search tried, or a measure that is not a number.  The
    same message is in ``RegistrationResult.warnings`` and logged on the
    "mireg" logger."""


@dataclass
class RegistrationResult:
    """The outcome of :func:`register`.

    Attributes
    ----------
    matrix : ndarray, shape (ndim+1, ndim+1)
        Homogeneous map from reference to moving *index* coordinates
        (row, col[, plane]):
        ``scipy.ndimage.affine_transform(moving, matrix, output_shape=reference.shape)``
        resamples the moving image onto the reference grid.
    parameters : ndarray
        The transform's parameters in world units about ``center`` (see
        :mod:`mireg.transforms`): 2-D rigid ``(angle, t0, t1)``, 3-D rigid
        ``(rotation vector (3), t (3))``, similarity adds ``log_scale``,
        affine is the linear part row by row then ``t``.
    kind : str
        "translation", "rigid", "similarity" or "affine".
    metric : float
        The final value of the measure (larger is better); for a volume
        registered by Pluim's measure, NMI * G**0.25 (see ``register``).
    metric_name : str
    nfev : int
        Cost evaluations in all, global search included.
    levels : list of dict
        Per level: stage ("search", "powell", or "cobyqa" on a volume's
        finest level), shrink, shape, samples, interpolation, parameters,
        metric, evaluations, seconds (and the stage's transform kind).
    spacing : ndarray
        The reference's voxel size.
    center : ndarray
        The rotation centre, in world coordinates.
    reference_shape : tuple
    reference_affine, moving_affine : ndarray, shape (ndim+1, ndim+1)
        The voxel-index -> world maps used (float64): the affines given, or
        ``diag(spacing)`` with a zero origin for plain arrays.  Default
        (None): the latter.
    moving_shape : tuple
        Default (empty): ``reference_shape``.
    warnings : list of str
        What makes this pose doubtful, if anything (each is also issued as
        a :class:`RegistrationWarning` and logged on the "mireg" logger);
        empty for a registration that went as planned.

    Notes
    -----
    ``moving_affine @ matrix == world_matrix @ reference_affine`` (to
    rounding).
    """

    matrix: np.ndarray
    parameters: np.ndarray
    kind: str
    metric: float
    metric_name: str
    nfev: int
    levels: list = field(default_factory=list)
    spacing: np.ndarray = None
    center: np.ndarray = None
    reference_shape: tuple = ()
    reference_affine: np.ndarray = None
    moving_affine: np.ndarray = None
    moving_shape: tuple = ()
    warnings: list = field(default_factory=list)

    def __post_init__(self):
        if self.reference_affine is None or self.moving_affine is None:
            ndim = self.matrix.shape[0] - 1
            spacing = np.ones(ndim) if self.spacing is None else self.spacing
            plain = tf.grid_to_physical(np.asarray(spacing, dtype=np.float64), np.zeros(ndim))
            if self.reference_affine is None:
                self.reference_affine = plain
            if self.moving_affine is None:
                self.moving_affine = plain.copy()
        if not self.moving_shape:
            self.moving_shape = tuple(self.reference_shape)

    @property
    def ndim(self):
        return self.matrix.shape[0] - 1

    @property
    def world_matrix(self):
        """Reference world -> moving world coordinates, (ndim+1)x(ndim+1):
        the direction ITK, ANTs and elastix call fixed -> moving.  World
        coordinates are the images' affines applied to index coordinates
        (``index * spacing`` for plain arrays)."""
        return tf.physical_matrix(self.parameters, self.ndim, self.kind, self.center)

    @property
    def physical_matrix(self):
        """The same as :attr:`world_matrix` (its name before world
        coordinates)."""
        return self.world_matrix

    @property
    def transform(self):
        """A scikit-image transform (2-D only) in (x, y) order, such that
        ``skimage.transform.warp(moving_image, result.transform)`` aligns
        the moving image like :meth:`warp`."""
        if self.ndim != 2:
            raise ValueError("`transform` is a 2-D scikit-image object; use `matrix` in 3-D")
        return tf.to_skimage(self.matrix, self.kind)

    def save_transform(self, path):
        """Write the transform for other tools: ``.tfm`` (ITK text, LPS, as
        SimpleITK, ANTs and elastix read it) or ``.mat`` (FSL FLIRT, 3-D).
        See :func:`mireg.save_transform`."""
        from .transform_files import save_transform  # nitransforms only when asked

        save_transform(path, self)

    def warp(self, moving_image, *, order=3, cval=0.0, output_shape=None):
        """Resample ``moving_image`` onto the reference grid."""
        return warp(moving_image, self, order=order, cval=cval, output_shape=output_shape)

    def to_dict(self):
        """JSON-serialisable summary."""

        def plain(x):
            if isinstance(x, np.ndarray):
                return x.tolist()
            if isinstance(x, (np.floating, np.integer)):
                return x.item()
            if isinstance(x, tuple):
                return list(x)
            return x

        return {
            "kind": self.kind,
            "metric_name": self.metric_name,
            "metric": float(self.metric),
            "nfev": int(self.nfev),
            "parameters": plain(self.parameters),
            "matrix": plain(self.matrix),
            "world_matrix": plain(self.world_matrix),
            "spacing": plain(self.spacing),
            "center": plain(self.center),
            "reference_shape": plain(self.reference_shape),
            "moving_shape": plain(self.moving_shape),
            "reference_affine": plain(self.reference_affine),
            "moving_affine": plain(self.moving_affine),
            "levels": [{k: plain(v) for k, v in lv.items()} for lv in self.levels],
            "warnings": list(self.warnings),
        }


def warp(moving_image, result, *, order=3, cval=0.0, output_shape=None):
    """Resample ``moving_image`` onto the reference grid of ``result``.

    Parameters
    ----------
    moving_image : ndarray
        The image that was registered (any real dtype; read, not modified).
    result : RegistrationResult or ndarray
        A registration result, or an index-order homogeneous matrix.
    order : int, optional
        Spline order (0-5), as ``scipy.ndimage.affine_transform``.
    cval : float, optional
        Value outside the moving image.
    output_shape : tuple, optional
        Defaults to the reference's shape.

    Returns
    -------
    warped : ndarray of float64
    """
    image = as_image(moving_image, "moving_image", min_ndim=2)
    check_finite(image, "moving_image")
    if isinstance(result, RegistrationResult):
        matrix = result.matrix
        shape = result.reference_shape if output_shape is None else output_shape
    else:
        matrix = np.asarray(result, dtype=np.float64)
        shape = image.shape if output_shape is None else output_shape
    if matrix.shape != (image.ndim + 1, image.ndim + 1):
        raise ValueError(
            f"`result` is a {matrix.shape[0] - 1}-D transform but `moving_image` is {image.ndim}-D"
        )
    shape = _checked_shape(shape, image.ndim)
    # the kernel's mirror indexing needs a few samples per axis (scipy's
    # handles any length)
    if order == 3 and min(image.shape) >= 4:
        return _warp_cubic(image, matrix, shape, float(cval))
    return ndi.affine_transform(
        image.astype(np.float64, copy=False),
        matrix,
        output_shape=shape,
        order=order,
        mode="constant",
        cval=cval,
    )


def _checked_shape(shape, ndim):
    """``output_shape`` as a tuple of ``ndim`` positive ints, or a ValueError."""
    try:
        values = tuple(int(n) for n in shape)
    except (TypeError, ValueError):
        raise ValueError(f"`output_shape` must be {ndim} sizes, got {shape!r}") from None
    if len(values) != ndim or min(values) < 1 or values != tuple(shape):
        raise ValueError(f"`output_shape` must be {ndim} sizes >= 1, got {shape!r}")
    return values


def _warp_cubic(image, matrix, shape, cval):
    """``ndi.affine_transform(image, matrix, order=3, mode="constant")``'s
    values (to rounding) from mireg's kernel: scipy's spline coefficients,
    then one compiled pass that runs without the GIL (frames of a stack
    resample side by side on threads)."""
    coef = ndi.spline_filter(image.astype(np.float64, copy=False), order=3, mode="mirror")
    out = np.empty(shape, dtype=np.float64)
    affine_cubic(embed3(coef), embed_affine(matrix), embed3(out), cval)
    return out
