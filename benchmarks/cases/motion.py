"""Synthetic fMRI-like series with known head motion, and how far a motion
estimate lands from the truth: shared by ``report/report_motion.py``.

The series: nilearn's MNI152 2009 T1 template sampled on a 64 x 64 x 36
grid of 3 mm voxels (the brain's centre in the middle, axial slab), each
volume through its own rigid motion about the grid's centre, plus Gaussian
noise (2% of the brain's intensity).  Motions are drawn with a fixed seed:
about 1 degree and 2 mm per volume (normal, per axis), and in the
``sudden`` variant a few volumes jump by 4-6 degrees and 6-10 mm.

Matrices are mireg's convention: index-order homogeneous matrices mapping
a reference voxel index to the volume's voxel index (``result.matrix``).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial.transform import Rotation

from benchmarks.cases import scans

SHAPE = (64, 64, 36)
VOXEL_MM = 3.0
NOISE = 0.02


def rigid_index_matrix(degrees, shift_mm, shape=SHAPE, voxel=VOXEL_MM):
    """Index-order matrix of a rotation (degrees about the axes, xyz Euler)
    about the grid's centre followed by a shift in mm, on a grid of
    isotropic ``voxel`` mm."""
    ndim = len(shape)
    matrix = np.eye(ndim + 1)
    if ndim == 3:
        rotation = Rotation.from_euler("xyz", degrees, degrees=True).as_matrix()
    else:
        angle = np.deg2rad(degrees[0])
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    center = (np.array(shape, float) - 1) / 2
    matrix[:ndim, :ndim] = rotation
    matrix[:ndim, ndim] = center - rotation @ center + np.asarray(shift_mm, float) / voxel
    return matrix


def motions(n_volumes, *, sudden=False, seed=0, ndim=3):
    """Per-volume (degrees, shift_mm) with volume 0 at rest."""
    rng = np.random.default_rng(seed)
    n_angles = 3 if ndim == 3 else 1
    angles = rng.normal(0.0, 1.0, (n_volumes, n_angles))
    shifts = rng.normal(0.0, 2.0, (n_volumes, ndim))
    if sudden:
        jumps = rng.choice(np.arange(2, n_volumes), size=max(1, n_volumes // 10), replace=False)
        for j in jumps:
            angles[j] += rng.choice([-1, 1], n_angles) * rng.uniform(4, 6, n_angles)
            shifts[j] += rng.choice([-1, 1], ndim) * rng.uniform(6, 10, ndim)
    angles[0], shifts[0] = 0.0, 0.0
    return angles, shifts


def series(n_volumes=40, *, sudden=False, seed=0):
    """(series (x, y, z, t) float32 as a 4-D NIfTI holds it, true index
    matrices (t, 4, 4), voxel size mm): the template moved by known motions."""
    t1, affine = scans.mni_t1()
    # a scanner's point spread: 1 mm detail blurred to the 3 mm voxels' FWHM
    # (sampling the template unblurred would alias, differently in every pose)
    t1 = ndi.gaussian_filter(t1, VOXEL_MM / 2.355 / np.abs(np.diag(affine)[:3]))
    # the brain's centre of mass (in template voxels) at the series' centre
    com = np.array(ndi.center_of_mass(t1 > 0.2))
    scale = VOXEL_MM / np.abs(np.diag(affine)[:3])
    center = (np.array(SHAPE, float) - 1) / 2
    angles, shifts = motions(n_volumes, sudden=sudden, seed=seed)
    rng = np.random.default_rng(seed + 1)
    out = np.empty(SHAPE + (n_volumes,), np.float32)
    truth = np.empty((n_volumes, 4, 4))
    grid_to_template = np.eye(4)
    grid_to_template[:3, :3] = np.diag(scale)
    grid_to_template[:3, 3] = com - scale * center
    for t in range(n_volumes):
        # volume t at voxel v shows the template at grid point inv(M) v:
        # M maps the reference (volume 0) grid to volume t's grid
        moved = rigid_index_matrix(angles[t], shifts[t])
        truth[t] = moved
        to_template = grid_to_template @ np.linalg.inv(moved)
        volume = ndi.affine_transform(
            t1, to_template[:3, :3], to_template[:3, 3], output_shape=SHAPE, order=3
        )
        out[..., t] = volume + rng.normal(0.0, NOISE, SHAPE)
    return out, truth, VOXEL_MM


def frames_2d(n_frames=12, shape=(96, 96), *, seed=0):
    """A 2-D time lapse (t, rows, cols) float64 of a smooth textured scene
    under known rigid motions (degrees about the centre, shifts in px), and
    the true index matrices."""
    rng = np.random.default_rng(seed)
    scene = ndi.gaussian_filter(rng.normal(size=(2 * shape[0], 2 * shape[1])), 4.0)
    scene = (scene - scene.min()) / np.ptp(scene)
    angles, shifts = motions(n_frames, seed=seed, ndim=2)
    center = (np.array(shape, float) - 1) / 2
    offset = (np.array(scene.shape, float) - 1) / 2 - center
    frames = np.empty((n_frames,) + tuple(shape))
    truth = np.empty((n_frames, 3, 3))
    for t in range(n_frames):
        moved = rigid_index_matrix(angles[t], shifts[t], shape, voxel=1.0)
        truth[t] = moved
        inverse = np.linalg.inv(moved)
        frames[t] = ndi.affine_transform(
            scene, inverse[:2, :2], inverse[:2, 2] + offset, output_shape=shape, order=3
        )
    return frames, truth


def displacement_mm(estimated, truth, shape=SHAPE, voxel=VOXEL_MM, step=4):
    """Mean distance (mm) over a grid of reference voxels (every ``step``-th
    along each axis) between where two index matrices send them."""
    grid = np.stack(
        np.meshgrid(*[np.arange(0, n, step) for n in shape], indexing="ij"), -1
    ).reshape(-1, len(shape))
    points = np.c_[grid, np.ones(len(grid))]
    diff = points @ (np.asarray(estimated) - np.asarray(truth))[: len(shape)].T
    return float(np.mean(np.linalg.norm(diff, axis=1)) * voxel)
