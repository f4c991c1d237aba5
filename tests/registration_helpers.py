"""Known transforms for the registration tests: the true map, a moving
image made from it, and the error of a recovered map."""

import numpy as np
from scipy import ndimage as ndi

from mireg import transforms as tf


def truth_matrix(shape, params, kind, spacing=None):
    """Index-order reference -> moving matrix of parameters about the centre."""
    ndim = len(shape)
    spacing = np.ones(ndim) if spacing is None else np.asarray(spacing, float)
    center = (np.array(shape, float) - 1) / 2 * spacing
    physical = tf.physical_matrix(params, ndim, kind, center)
    grid = tf.grid_to_physical(spacing, np.zeros(ndim))
    return tf.index_matrix(physical, grid, grid)


def make_moving(reference, matrix, order=3):
    """moving(matrix @ x) == reference(x): resample reference by the inverse."""
    return ndi.affine_transform(
        reference, np.linalg.inv(matrix), order=order, mode="constant", cval=0.0
    )


def mean_error(matrix, truth, shape):
    """Mean distance (px) between two maps over the reference grid."""
    idx = np.indices(shape).reshape(len(shape), -1).astype(float)
    h = np.vstack([idx, np.ones(idx.shape[1])])
    return float(np.mean(np.linalg.norm((matrix @ h - truth @ h)[:-1], axis=0)))


def make_level(reference, moving, *, shrink=1, **options):
    """A ``_levels.Level`` of ``reference`` and ``moving`` with the settings
    the tests share (unit spacing, sigma 1.5, 32 bins, no masks, linear, every
    pixel, rotation about index 0, rigid, with G); ``options`` override them."""
    from mireg._levels import Level

    ndim = reference.ndim
    settings = dict(
        spacing=np.ones(ndim),
        sigma=1.5,
        bins=32,
        reference_mask=None,
        moving_mask=None,
        cubic=False,
        max_samples=None,
        center=np.zeros(ndim),
        kind="rigid",
        use_gradient=True,
    )
    return Level(reference, moving, shrink, **{**settings, **options})
