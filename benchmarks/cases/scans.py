"""3-D T1 -> T2-like pairs from nilearn's MNI152 template with known rigid
motions, and the tools that register them from NIfTI files.

Shared by ``benchmarks/report/report_registration.py`` (its 3-D rows) and
the accuracy experiments of ``docs/performance.md``.

A pair (:func:`mni_pair`), for a voxel size of 1 or 2 mm and one of
:data:`MOTIONS`:

* reference: the MNI152 2009 T1 (1 mm, 197 x 233 x 189, RAS), or that
  image on a 2 mm grid (99 x 117 x 95, voxel centres as
  ``skimage.transform.resize`` places them: Gaussian of 0.5 mm, then cubic
  interpolation);
* moving: a T2-like image made from the 1 mm T1 by a non-monotone intensity
  map (background 0, CSF brightest, grey matter mid, white matter dark),
  moved by the known rigid motion and sampled on the reference's grid as
  the reference was (the same blur, cubic interpolation).

Error (:func:`mean_error`): the mean distance, over the head's voxels of
the 1 mm T1 (every 4th along each axis), between where the estimated and
the true world maps send each point, in mm (as ``report_scans.py``).

Tools (:data:`TOOLS`), each ``run(fixed_path, moving_path)`` returning the
reference world -> moving world (RAS) matrix:

* mireg: ``mireg.register(..., reference_affine=, moving_affine=)``, rigid,
  defaults;
* itk-elastix: the default rigid parameter map
  (``GetDefaultParameterMap('rigid')``);
* ANTs: ``ants.registration(fixed, moving, type_of_transform="Rigid")``;
* SimpleITK: the tutorial settings of :mod:`benchmarks.cases.peers`
  (Mattes MI, 50 bins, 1% random samples, gradient descent, levels 4/2/1),
  started by ``CenteredTransformInitializer(GEOMETRY)``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial.transform import Rotation

from benchmarks.cases import compile_mireg

compile_mireg()

LPS = np.diag([-1.0, -1.0, 1.0, 1.0])
# T1 value (0..1) -> T2-like value: not monotone, so only a statistical measure aligns them
T1_LEVELS = [0.0, 0.05, 0.2, 0.35, 0.55, 0.85, 1.0]
T2_LEVELS = [0.0, 0.0, 1.0, 0.9, 0.6, 0.35, 0.3]
# (rotation about x, y, z in degrees, shift in mm), about the head's centre
MOTIONS = (
    ((6.0, -4.0, 8.0), (5.0, -7.0, 4.0)),
    ((-3.0, 5.0, -2.0), (-2.5, 3.5, 6.0)),
    ((10.0, 2.0, -6.0), (8.0, 4.0, -3.0)),
)


@dataclass(frozen=True)
class ScanPair:
    name: str
    reference: np.ndarray = field(repr=False)
    moving: np.ndarray = field(repr=False)
    affine: np.ndarray = field(repr=False)  # both images' voxel -> RAS world
    truth: np.ndarray = field(repr=False)  # reference world -> moving world
    points: np.ndarray = field(repr=False)  # head points (world, mm) for the error

    def error(self, world):
        """Mean distance (mm) between ``world``'s and the truth's images of
        the head points."""
        return mean_error(world, self.truth, self.points)

    def write(self, folder):
        """reference.nii.gz and moving.nii.gz in ``folder``; their paths."""
        import nibabel

        folder = Path(folder)
        paths = folder / f"{self.name}-reference.nii.gz", folder / f"{self.name}-moving.nii.gz"
        for image, path in zip((self.reference, self.moving), paths):
            nibabel.save(nibabel.Nifti1Image(image.astype(np.float32), self.affine), path)
        return paths


@functools.cache
def mni_t1():
    """The MNI152 2009 T1 (values 0..1) and its affine, read-only."""
    import nibabel
    import nilearn

    path = (
        Path(nilearn.__file__).parent
        / "datasets"
        / "data"
        / "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
    )
    image = nibabel.load(path)
    t1 = np.asarray(image.get_fdata(), np.float64) / 255.0
    t1.setflags(write=False)
    return t1, np.array(image.affine)


def t2_like(t1):
    return np.interp(t1, T1_LEVELS, T2_LEVELS)


def mean_error(world, truth, points):
    estimated = points @ world[:3, :3].T + world[:3, 3]
    true = points @ truth[:3, :3].T + truth[:3, 3]
    return float(np.linalg.norm(estimated - true, axis=1).mean())


def _motion(centre, degrees, shift):
    world = np.eye(4)
    rotation = Rotation.from_euler("xyz", degrees, degrees=True).as_matrix()
    world[:3, :3] = rotation
    world[:3, 3] = centre - rotation @ centre + np.asarray(shift, float)
    return world


def _grid(shape_1mm, affine_1mm, voxel_mm):
    """(shape, affine) of the 1 mm grid resized to ``voxel_mm`` voxels."""
    if voxel_mm == 1:
        return shape_1mm, affine_1mm
    shape = tuple(int(np.ceil(n / voxel_mm)) for n in shape_1mm)
    factors = np.array(shape_1mm, float) / np.array(shape, float)
    index = np.eye(4)
    index[:3, :3] = np.diag(factors)
    index[:3, 3] = 0.5 * factors - 0.5
    return shape, affine_1mm @ index


def _resampled(image, sigma, index_map, shape):
    if sigma:
        image = ndi.gaussian_filter(image, sigma)
    if np.allclose(index_map, np.eye(4)):
        return image.copy()
    return np.clip(ndi.affine_transform(image, index_map, output_shape=shape, order=3), 0.0, None)


@functools.cache
def mni_pair(voxel_mm, motion):
    """The pair at ``voxel_mm`` (1 or 2) moved by ``MOTIONS[motion]``
    (cached; treat its arrays as read-only)."""
    t1, affine_1mm = mni_t1()
    head = t1 > 0.05
    centre = affine_1mm[:3] @ np.r_[ndi.center_of_mass(head), 1.0]
    truth = _motion(centre, *MOTIONS[motion])
    shape, affine = _grid(t1.shape, affine_1mm, voxel_mm)
    # both images sampled alike (the same blur, cubic interpolation): they
    # differ only by the intensity map and the motion
    sigma = (voxel_mm - 1) / 2.0  # skimage.transform.resize's anti-aliasing
    reference = _resampled(t1, sigma, np.linalg.solve(affine_1mm, affine), shape)
    # moving voxel v shows the T2-like content at world truth^-1 (affine v)
    index_map = np.linalg.solve(affine_1mm, np.linalg.solve(truth, affine))
    moving = _resampled(t2_like(t1), sigma, index_map, shape)
    index = np.argwhere(head[::4, ::4, ::4]) * 4
    points = index @ affine_1mm[:3, :3].T + affine_1mm[:3, 3]
    pair = ScanPair(f"mni-{voxel_mm}mm-m{motion}", reference, moving, affine, truth, points)
    for array in (pair.reference, pair.moving):
        array.setflags(write=False)
    return pair


# ---- the tools --------------------------------------------------------------------


def world_from_lps_points(map_point):
    """RAS world matrix of an ITK map given on LPS points."""
    origin = np.asarray(map_point((0.0, 0.0, 0.0)), float)
    lps = np.eye(4)
    lps[:3, 3] = origin
    for axis in range(3):
        step = np.zeros(3)
        step[axis] = 1.0
        lps[:3, axis] = np.asarray(map_point(tuple(step)), float) - origin
    return LPS @ lps @ LPS


def run_mireg(fixed_path, moving_path, **options):
    import nibabel

    import mireg

    fixed, moving = nibabel.load(fixed_path), nibabel.load(moving_path)
    result = mireg.register(
        np.asarray(fixed.dataobj, np.float32),
        np.asarray(moving.dataobj, np.float32),
        reference_affine=fixed.affine,
        moving_affine=moving.affine,
        transform="rigid",
        **options,
    )
    return np.asarray(result.world_matrix)


def run_elastix(fixed_path, moving_path):
    import itk

    fixed = itk.imread(str(fixed_path), itk.F)
    moving = itk.imread(str(moving_path), itk.F)
    parameters = itk.ParameterObject.New()
    parameters.AddParameterMap(parameters.GetDefaultParameterMap("rigid"))
    method = itk.ElastixRegistrationMethod.New(fixed, moving)
    method.SetParameterObject(parameters)
    method.SetLogToConsole(False)
    method.UpdateLargestPossibleRegion()
    transform = method.GetCombinationTransform()
    return world_from_lps_points(lambda p: transform.TransformPoint(p))


def run_ants(fixed_path, moving_path):
    import ants

    fixed = ants.image_read(str(fixed_path))
    moving = ants.image_read(str(moving_path))
    result = ants.registration(fixed, moving, type_of_transform="Rigid")
    # the forward transforms map fixed points to moving points (LPS)
    transforms = [ants.read_transform(path) for path in result["fwdtransforms"]]

    def map_point(point):
        # antsApplyTransforms order: the last listed is applied first
        for transform in reversed(transforms):
            point = transform.apply_to_point(point)
        return point

    return world_from_lps_points(map_point)


def run_simpleitk(fixed_path, moving_path):
    import SimpleITK as sitk

    from .peers import sitk_method

    fixed = sitk.ReadImage(str(fixed_path), sitk.sitkFloat32)
    moving = sitk.ReadImage(str(moving_path), sitk.sitkFloat32)
    initial = sitk.CenteredTransformInitializer(
        fixed, moving, sitk.Euler3DTransform(), sitk.CenteredTransformInitializerFilter.GEOMETRY
    )
    method = sitk_method(3)
    method.SetInitialTransform(initial, inPlace=False)
    final = method.Execute(fixed, moving)
    return world_from_lps_points(final.TransformPoint)


TOOLS = {
    "mireg": run_mireg,
    "itk-elastix": run_elastix,
    "ANTs": run_ants,
    "SimpleITK": run_simpleitk,
}
