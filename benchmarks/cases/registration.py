"""Registration benchmark cases and the runners that solve them.

Shared by ``benchmarks/report/report_registration.py`` (one Markdown
table), the pytest-benchmark suite ``benchmarks/pytest/bench_registration.py``
and the asv suite ``benchmarks/asv/registration.py``.

Every case is built deterministically (fixed seeds, no downloads) and comes
with its true reference -> moving map in mireg's convention: a homogeneous
``(ndim+1, ndim+1)`` matrix from reference *index* coordinates to moving
index coordinates (``scipy.ndimage.affine_transform`` order).  The error of
a recovered map is :func:`mean_error`: the mean over the reference grid of
the distance between the recovered and the true mapped points, in pixels
(2-D) or millimetres (3-D, isotropic spacing).

The cases (issue 4's table; MNI152 cannot be downloaded here, so its two
rows are stand-ins, marked "substitute"):

``astronaut-rot40``
    The reference implementation's experiment (``mireg demo``): astronaut
    (grey) at 0.3 (154 px), rotated 40 deg about the centre with
    ``skimage.transform.rotate``, Gaussian noise of variance 1e-3.
``camera-256-inverted``
    camera at 256 px, contrast inverted, 25 deg and a (9, -14) px shift.
``moon-256-t2like`` (substitute for the MNI152 T1 slice vs T2-like)
    moon at 256 px, intensities stretched to [0, 1], the moving image
    remapped non-monotonically (``sin(3 x)**2``), -30 deg and (6, 11) px.
``camera-512-multimodal``
    camera at 512 px, the moving image remapped as
    ``sqrt(1 - x) + 0.5 x**2`` (inverted and bent: [0, 1] -> [1, 0.5]),
    20 deg and (15, -22) px.
``blobs-3d-2mm`` (substitute for the MNI152 3-D T1 vs T2-like at 2 mm)
    a smooth analytic volume (sum of 40 Gaussian blobs, sampled exactly,
    no interpolation) on the MNI152 2 mm grid shape 91 x 109 x 91 at 2 mm
    spacing, the moving volume remapped ``sqrt(m + 0.05) * (1.2 - m)``
    (non-monotone), rotation vector (8, -6, 12) deg and (4, -6, 5) mm.

Runners (each returns the recovered index-order matrix):

* :func:`run_mireg` -- ``mireg.register`` with its defaults (rigid,
  alignment metric), ``spacing`` passed in 3-D;
* :func:`run_reference` -- ``mireg.reference.register`` (the reference
  implementation's pyramid + Powell), 2-D only;
* the peers' runners (SimpleITK, dipy): :mod:`benchmarks.cases.peers`.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial.transform import Rotation
from skimage import color, data, transform
from skimage.util import random_noise

import mireg
import mireg.reference
from benchmarks.cases import compile_mireg

compile_mireg()

# mireg's error bounds, as the benchmarks assert them
ASTRONAUT_BOUND_PX = 0.05
BOUND_2D_PX = 0.1
BOUND_3D_MM = 0.2


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    reference: np.ndarray = field(repr=False)
    moving: np.ndarray = field(repr=False)
    truth: np.ndarray = field(repr=False)  # index-order reference -> moving map
    spacing: tuple  # voxel size per axis (mm in 3-D, 1 px in 2-D)
    unit: str  # "px" or "mm"
    bound: float  # mireg's error bound, in `unit`
    substitute: bool = False  # a stand-in for an MNI152 row of the issue

    @property
    def ndim(self):
        return self.reference.ndim

    def error(self, matrix):
        """Mean error of ``matrix`` over the reference grid, in ``unit``."""
        return mean_error(matrix, self.truth, self.reference.shape) * float(self.spacing[0])


CASE_NAMES = (
    "astronaut-rot40",
    "camera-256-inverted",
    "moon-256-t2like",
    "camera-512-multimodal",
    "blobs-3d-2mm",
)


# ---- truth and error ----------------------------------------------------


def mean_error(matrix, truth, shape):
    """Mean distance (index units) between two maps over the reference grid."""
    idx = np.indices(shape).reshape(len(shape), -1).astype(float)
    h = np.vstack([idx, np.ones(idx.shape[1])])
    return float(np.mean(np.linalg.norm((matrix @ h - truth @ h)[:-1], axis=0)))


def rotation(angles_deg):
    """Rotation in index axes: 2-D from one angle ((row, col) order,
    ``[[cos, -sin], [sin, cos]]``), 3-D from a rotation vector in degrees."""
    angles = np.deg2rad(np.atleast_1d(np.asarray(angles_deg, float)))
    if angles.size == 1:
        c, s = np.cos(angles[0]), np.sin(angles[0])
        return np.array([[c, -s], [s, c]])
    return Rotation.from_rotvec(angles).as_matrix()


def rigid_truth(shape, angles_deg, shift, spacing=None):
    """Index-order map of ``moving = R (x - c) + c + t`` in physical units
    about the reference's centre ``c`` (mireg's parametrisation, written out
    independently of mireg.transforms)."""
    ndim = len(shape)
    s = np.ones(ndim) if spacing is None else np.asarray(spacing, float)
    c = (np.array(shape, float) - 1) / 2 * s
    r = rotation(angles_deg)
    physical = np.eye(ndim + 1)
    physical[:ndim, :ndim] = r
    physical[:ndim, ndim] = c + np.asarray(shift, float) - r @ c
    grid = np.diag(np.append(s, 1.0))
    return np.linalg.solve(grid, physical @ grid), physical


def make_moving(reference, matrix, order=3):
    """moving(matrix @ x) == reference(x): resample reference by the inverse."""
    return ndi.affine_transform(
        reference, np.linalg.inv(matrix), order=order, mode="constant", cval=0.0
    )


def blobs_volume(shape, spacing, seed=0, n=40):
    """A smooth analytic volume (sum of Gaussian blobs) as a function of
    physical points, so a transformed copy needs no interpolation."""
    rng = np.random.default_rng(seed)
    extent = np.array(shape) * np.asarray(spacing)
    centers = rng.uniform(0.15, 0.85, size=(n, 3)) * extent
    widths = rng.uniform(0.04, 0.12, size=n) * extent.mean()
    weights = rng.uniform(0.3, 1.0, size=n)

    def sample(points):
        out = np.zeros(points.shape[0])
        for c, w, a in zip(centers, widths, weights):
            out += a * np.exp(-np.sum((points - c) ** 2, axis=1) / (2 * w * w))
        return out

    return sample


def sampled(function, shape, spacing, physical=None):
    """``function`` on the grid; with ``physical`` (reference -> moving
    physical map) the moving volume: ``moving(T p) = f(p)``."""
    idx = np.indices(shape).reshape(3, -1).T * np.asarray(spacing)
    if physical is not None:
        inverse = np.linalg.inv(physical)
        idx = idx @ inverse[:3, :3].T + inverse[:3, 3]
    return function(idx).reshape(shape)


# ---- the cases ----------------------------------------------------------


def resized(image, size):
    """``image`` stretched to [0, 1] and resized to ``size`` x ``size``."""
    image = image.astype(np.float64)
    image = (image - image.min()) / (image.max() - image.min())
    if image.shape != (size, size):
        image = transform.resize(image, (size, size), anti_aliasing=True)
    return image


def _astronaut_rot40():
    img0 = transform.rescale(color.rgb2gray(data.astronaut()), 0.3)
    img1 = random_noise(transform.rotate(img0, 40), mode="gaussian", rng=0, var=1e-3)
    # rotate(): img1(y) = img0(R_xy (y - c) + c) with c the centre of the
    # (x, y) grid; so moving(M x) = reference(x) with M the rotation by +40
    # deg in (row, col) order about c.
    c = (np.array(img0.shape, float) - 1) / 2
    r = rotation(40.0)
    truth = np.eye(3)
    truth[:2, :2] = r
    truth[:2, 2] = c - r @ c
    return Case(
        "astronaut-rot40",
        "astronaut at 0.3 (154 px), rotated 40 deg, noise var 1e-3",
        img0,
        img1,
        truth,
        (1.0, 1.0),
        "px",
        ASTRONAUT_BOUND_PX,
    )


def _camera_256_inverted():
    ref = resized(data.camera(), 256)
    truth, _ = rigid_truth(ref.shape, 25.0, (9.0, -14.0))
    mov = 1.0 - make_moving(ref, truth)
    return Case(
        "camera-256-inverted",
        "camera at 256 px, contrast inverted, 25 deg, 9/-14 px",
        ref,
        mov,
        truth,
        (1.0, 1.0),
        "px",
        BOUND_2D_PX,
    )


def _moon_256_t2like():
    ref = resized(data.moon(), 256)
    truth, _ = rigid_truth(ref.shape, -30.0, (6.0, 11.0))
    mov = np.sin(3.0 * make_moving(ref, truth)) ** 2
    return Case(
        "moon-256-t2like",
        "substitute for MNI152 T1 slice vs T2-like: moon at 256 px, "
        "moving sin(3x)^2, -30 deg, 6/11 px",
        ref,
        mov,
        truth,
        (1.0, 1.0),
        "px",
        BOUND_2D_PX,
        substitute=True,
    )


def _camera_512_multimodal():
    ref = resized(data.camera(), 512)
    truth, _ = rigid_truth(ref.shape, 20.0, (15.0, -22.0))
    moved = np.clip(make_moving(ref, truth), 0.0, 1.0)
    # like the other cases, the remap also applies to the zero fill where
    # the moving frame sees past the reference's (there: 1)
    mov = np.sqrt(1.0 - moved) + 0.5 * moved**2
    return Case(
        "camera-512-multimodal",
        "camera at 512 px, moving sqrt(1-x)+x^2/2, 20 deg, 15/-22 px",
        ref,
        mov,
        truth,
        (1.0, 1.0),
        "px",
        BOUND_2D_PX,
    )


def _blobs_3d():
    shape, spacing = (91, 109, 91), (2.0, 2.0, 2.0)  # the MNI152 2 mm grid
    f = blobs_volume(shape, spacing)
    ref = sampled(f, shape, spacing)
    truth, physical = rigid_truth(shape, (8.0, -6.0, 12.0), (4.0, -6.0, 5.0), spacing)
    m = sampled(f, shape, spacing, physical)
    mov = np.sqrt(m + 0.05) * (1.2 - m)  # non-monotone "T2-like" remap
    return Case(
        "blobs-3d-2mm",
        "substitute for MNI152 3-D T1 vs T2-like at 2 mm: 91x109x91 "
        "blob volume at 2 mm, non-monotone remap, rotvec 8/-6/12 deg, "
        "4/-6/5 mm",
        ref,
        mov,
        truth,
        spacing,
        "mm",
        BOUND_3D_MM,
        substitute=True,
    )


_BUILDERS = {
    "astronaut-rot40": _astronaut_rot40,
    "camera-256-inverted": _camera_256_inverted,
    "moon-256-t2like": _moon_256_t2like,
    "camera-512-multimodal": _camera_512_multimodal,
    "blobs-3d-2mm": _blobs_3d,
}


@functools.cache
def get_case(name):
    """The case ``name`` (cached; treat its arrays as read-only)."""
    case = _BUILDERS[name]()
    case.reference.setflags(write=False)
    case.moving.setflags(write=False)
    return case


# ---- runners ------------------------------------------------------------


def run_mireg(case):
    spacing = None if case.ndim == 2 else case.spacing
    return mireg.register(case.reference, case.moving, spacing=spacing).matrix


def run_reference(case):
    if case.ndim != 2:
        raise ValueError("the reference is run on 2-D cases only")
    # copies: the cases' arrays are read-only, which the reference's
    # skimage.transform.warp (Cython memoryviews) rejects
    return mireg.reference.register(case.reference.copy(), case.moving.copy(), transform="rigid")[
        "matrix"
    ]


def reference_worker(connection, reference, moving, repeat_below=10.0):
    """Run the reference in a child process (so that a run can be cut off).

    Sends ("ready",), then ("run", seconds) after the first run, then
    ("done", matrix, [seconds, ...]) -- a second run only when the first
    took under ``repeat_below`` seconds -- or ("error", message).
    """
    connection.send(("ready",))
    try:
        seconds = []
        while True:
            t0 = time.perf_counter()
            matrix = mireg.reference.register(reference, moving, transform="rigid")["matrix"]
            seconds.append(time.perf_counter() - t0)
            if len(seconds) == 1:
                connection.send(("run", seconds[0]))
            if len(seconds) == 2 or seconds[0] >= repeat_below:
                break
        connection.send(("done", matrix, seconds))
    except Exception as exc:  # reported by the parent
        connection.send(("error", f"{type(exc).__name__}: {exc}"))
    connection.close()


def timed(function, *args):
    """(result, seconds) of one call."""
    t0 = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - t0
