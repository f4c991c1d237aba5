"""Small series under known rigid motions, for the motion tests.

A frame ``i`` shows the scene moved by the world map ``W_i`` (a rotation
about the grid's world centre, then a shift): the frame's voxel ``v``
holds the scene at world point ``W_i^-1 (A v)``, so ``W_i`` is what a
registration of frame ``i`` to frame 0 reports (reference world -> moving
world).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial.transform import Rotation


def head(shape, seed):
    """A textured ellipsoid on a zero background: moving it brings no
    field-of-view edge into the picture (smoothed noise filling the grid
    would, and misleads small registrations by a few tenths of a mm)."""
    rng = np.random.default_rng(seed)
    axes = np.array([0.75, 0.8, 0.7][: len(shape)]).reshape((-1,) + (1,) * len(shape))
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij"))
    inside = ((grid / axes) ** 2).sum(0) < 1
    texture = ndi.gaussian_filter(rng.standard_normal(shape), 1.5)
    texture = (texture - texture.min()) / np.ptp(texture)
    return ndi.gaussian_filter(inside * (0.4 + texture), 0.7)


def world_motion(degrees, shift, center):
    """Homogeneous world map: rotation (rotation vector in degrees in 3-D,
    one angle in 2-D) about ``center``, then ``shift``."""
    ndim = len(center)
    if ndim == 3:
        rotation = Rotation.from_rotvec(np.deg2rad(degrees)).as_matrix()
    else:
        a = np.deg2rad(degrees[0])
        rotation = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    out = np.eye(ndim + 1)
    out[:ndim, :ndim] = rotation
    out[:ndim, ndim] = center + np.asarray(shift, float) - rotation @ center
    return out


def moving_series(shape, affine, n_frames=6, *, seed=0, degrees=1.0, shift=1.5):
    """(frames (t, *shape), true motions (t, 6 or 3): rotations in degrees
    then shifts in world units, frame 0 at rest) of a head moved by random
    rigid motions in the world ``affine`` places the grid in."""
    ndim = len(shape)
    rng = np.random.default_rng(seed + 1)
    n_rot = 3 if ndim == 3 else 1
    truth = np.c_[
        rng.normal(0.0, degrees, (n_frames, n_rot)), rng.normal(0.0, shift, (n_frames, ndim))
    ]
    truth[0] = 0.0
    scene = head(shape, seed)
    center = affine[:ndim, :ndim] @ ((np.array(shape) - 1) / 2) + affine[:ndim, ndim]
    frames = np.empty((n_frames,) + tuple(shape))
    for i, row in enumerate(truth):
        moved = world_motion(row[:n_rot], row[n_rot:], center)
        to_scene = np.linalg.inv(affine) @ np.linalg.inv(moved) @ affine
        frames[i] = ndi.affine_transform(scene, to_scene[:ndim, :ndim], to_scene[:ndim, ndim])
    return frames, truth
