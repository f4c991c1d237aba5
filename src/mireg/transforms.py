"""Translation, rigid, similarity and affine transforms.

A parameter vector describes a map in *world* coordinates about a centre
``c``::

    moving = L (reference - c) + c + t,    L = exp(log_scale) * R  (or any L)

World coordinates are each image's affine applied to its index
coordinates (nibabel's ``img.affine``); for plain arrays, index times voxel
spacing, with the axes in index order.  Parameters are laid out as

* ``"translation"``: ``t`` (ndim values),
* ``"rigid"``: 2-D ``(angle, t0, t1)``; 3-D ``(r0, r1, r2, t0, t1, t2)`` where
  ``r`` is a rotation vector (axis times angle, radians) in world axes,
* ``"similarity"``: the rigid parameters followed by ``log_scale``,
* ``"affine"``: the entries of ``L`` row by row (ndim * ndim values), then
  ``t``: ITK's ``AffineTransform`` layout (12 parameters in 3-D, 6 in 2-D);
  the identity is ``L = I``, not zeros (:func:`identity_parameters`).

2-D rotation by ``angle`` is ``[[cos, -sin], [sin, cos]]`` on the two
world axes.  :func:`physical_matrix` is the homogeneous reference world ->
moving world map; :func:`index_matrix` turns it into the map from
reference *index* coordinates to moving index coordinates: the convention
of ``scipy.ndimage.affine_transform``.
"""

from __future__ import annotations

import math

import numpy as np

from ._kernels.modes import TRANSFORMS  # noqa: F401  (re-exported: the kinds, in code order)


def n_rotations(ndim):
    return {2: 1, 3: 3}[ndim]


def n_linear(ndim, kind):
    """Parameters of the linear part ``L`` (those before ``t``)."""
    if kind == "translation":
        return 0
    if kind == "affine":
        return ndim * ndim
    return n_rotations(ndim)


def n_parameters(ndim, kind):
    return n_linear(ndim, kind) + ndim + (1 if kind == "similarity" else 0)


def identity_parameters(ndim, kind):
    """The parameters of the identity map (zeros but ``L = I`` for affine)."""
    p = np.zeros(n_parameters(ndim, kind))
    if kind == "affine":
        p[: ndim * ndim] = np.eye(ndim).reshape(-1)
    return p


def translation_slice(ndim, kind):
    """Where ``t`` lies in a parameter vector."""
    start = n_linear(ndim, kind)
    return slice(start, start + ndim)


def rotation_matrix(angles, ndim):
    """Rotation in index axes: 2-D from one angle, 3-D from a rotation vector
    (Rodrigues' formula; equal to scipy's ``Rotation.from_rotvec``)."""
    if ndim == 2:
        c, s = math.cos(angles[0]), math.sin(angles[0])
        return np.array([[c, -s], [s, c]])
    r = np.asarray(angles, dtype=np.float64)
    theta = math.sqrt(float(r @ r))
    k = np.array([[0.0, -r[2], r[1]], [r[2], 0.0, -r[0]], [-r[1], r[0], 0.0]])
    if theta < 1e-8:
        # second-order Taylor: exact to float64 at this size
        return np.eye(3) + k + 0.5 * (k @ k)
    k /= theta
    return np.eye(3) + math.sin(theta) * k + (1.0 - math.cos(theta)) * (k @ k)


def split(parameters, ndim, kind):
    """(linear part L, translation t) of a parameter vector."""
    p = np.asarray(parameters, dtype=np.float64)
    if kind == "translation":
        return np.eye(ndim), p[:ndim]
    if kind == "affine":
        return p[: ndim * ndim].reshape(ndim, ndim).copy(), p[ndim * ndim : ndim * ndim + ndim]
    nr = n_rotations(ndim)
    linear = rotation_matrix(p[:nr], ndim)
    if kind == "similarity":
        linear = linear * math.exp(p[nr + ndim])
    return linear, p[nr : nr + ndim]


def physical_matrix(parameters, ndim, kind, center):
    """Homogeneous map reference world -> moving world coordinates (world:
    physical, for plain arrays)."""
    linear, t = split(parameters, ndim, kind)
    center = np.asarray(center, dtype=np.float64)
    out = np.eye(ndim + 1)
    out[:ndim, :ndim] = linear
    out[:ndim, ndim] = center + t - linear @ center
    return out


world_matrix = physical_matrix


def grid_to_physical(spacing, origin):
    """Homogeneous map from a grid's index coordinates to physical ones
    (axes along the index axes: a diagonal affine)."""
    ndim = len(spacing)
    out = np.eye(ndim + 1)
    out[:ndim, :ndim] = np.diag(spacing)
    out[:ndim, ndim] = origin
    return out


def index_matrix(physical, reference_grid, moving_grid):
    """Reference index -> moving index, for grids given as index -> world
    matrices (``grid_to_physical``'s, or any images' affines)."""
    return np.linalg.solve(moving_grid, physical @ reference_grid)


def parameters_from_physical(physical, ndim, kind, center):
    """Inverse of ``physical_matrix`` for matrices of the given kind."""
    linear = physical[:ndim, :ndim]
    center = np.asarray(center, dtype=np.float64)
    t = physical[:ndim, ndim] - center + linear @ center
    if kind == "translation":
        return t.copy()
    if kind == "affine":
        return np.concatenate([linear.reshape(-1), t])
    scale = abs(np.linalg.det(linear)) ** (1.0 / ndim)
    rotation = linear / scale
    if ndim == 2:
        angles = [math.atan2(rotation[1, 0], rotation[0, 0])]
    else:
        from scipy.spatial.transform import Rotation

        angles = list(Rotation.from_matrix(rotation).as_rotvec())
    p = list(angles) + list(t)
    if kind == "similarity":
        p.append(math.log(scale))
    return np.array(p, dtype=np.float64)


def convert(parameters, ndim, kind, new_kind, center):
    """The parameters of ``kind`` as those of ``new_kind`` (a rigid result
    as the start of an affine run); exact only where ``new_kind`` can hold
    the map."""
    physical = physical_matrix(parameters, ndim, kind, center)
    return parameters_from_physical(physical, ndim, new_kind, center)


def to_skimage(matrix, kind="rigid"):
    """A 2-D index-order (row, col) matrix as a scikit-image transform in
    (x, y) = (col, row) order, for ``skimage.transform.warp``."""
    from skimage import transform as sktf

    swap = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    xy = swap @ matrix @ swap
    linear = xy[:2, :2]
    gram = linear.T @ linear
    isotropic = np.allclose(gram, gram[0, 0] * np.eye(2), rtol=1e-9, atol=1e-12)
    if isotropic and np.linalg.det(linear) > 0 and kind != "affine":
        if kind == "similarity" or not np.isclose(gram[0, 0], 1.0, rtol=1e-9):
            return sktf.SimilarityTransform(matrix=xy)
        return sktf.EuclideanTransform(matrix=xy)
    return sktf.AffineTransform(matrix=xy)
