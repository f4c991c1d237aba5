"""The peers' registration runners, and checks of their matrix conversions.

* :func:`run_simpleitk` -- SimpleITK's tutorial settings, see
  :data:`SITK_SETTINGS`;
* :func:`run_dipy` -- dipy imaffine's tutorial pipeline (centres of mass ->
  translation -> rigid, MI with 32 bins, levels 4/2/1), optional;
* :func:`run_elastix` -- itk-elastix's default rigid parameter map;
* :func:`run_ants` -- ``ants.registration(type_of_transform="Rigid")``.

Each returns the recovered map as :mod:`benchmarks.cases.registration`'s
runners do: an index-order reference -> moving matrix.  The peers are
imported lazily; :data:`PEERS` lists the installed ones, and
:func:`check_conversions` checks that their matrices are converted right.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import ndimage as ndi
from skimage import data

from .registration import blobs_volume, make_moving, mean_error, resized, rigid_truth, sampled

# SimpleITK "tutorial settings" (issue 4), stated for the report
SITK_SETTINGS = {
    "bins": 50,
    "sampling": "RANDOM",
    "sampling_percentage": {2: 0.2, 3: 0.01},  # 2-D: higher, to be fair to small images
    "sampling_seed": 1,  # fixed, for repeatable runs
    "learning_rate": 1.0,
    "iterations": 100,
    "convergence_minimum": 1e-6,
    "convergence_window": 10,
    "shrink_factors": [4, 2, 1],
    "smoothing_sigmas": [2, 1, 0],  # voxels
}


def have_simpleitk():
    try:
        import SimpleITK  # noqa: F401
    except ImportError:
        return False
    return True


def have_dipy():
    try:
        import dipy.align.imaffine  # noqa: F401
    except ImportError:
        return False
    return True


def have_module(name):
    import importlib.util

    return importlib.util.find_spec(name) is not None


def have_elastix():
    """itk-elastix installed (it adds ``ElastixRegistrationMethod`` to ``itk``)."""
    import importlib.metadata

    try:
        importlib.metadata.version("itk-elastix")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _index_matrix_from_points(map_point, spacing, ndim):
    """Index-order matrix of an affine map given on physical points in
    reversed (x, y[, z]) order, grids with origin 0 and ``spacing`` (index
    order): index p -> physical (p * s)[::-1] -> map -> moving index."""
    s = np.asarray(spacing, float)

    def index_map(p):
        q = np.asarray(map_point(tuple(float(v) for v in (p * s)[::-1])), float)
        return q[::-1] / s

    origin = index_map(np.zeros(ndim))
    out = np.eye(ndim + 1)
    out[:ndim, ndim] = origin
    for i in range(ndim):
        e = np.zeros(ndim)
        e[i] = 1.0
        out[:ndim, i] = index_map(e) - origin
    return out


def _sitk_image(array, spacing):
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.ascontiguousarray(array, dtype=np.float32))
    image.SetSpacing(tuple(float(v) for v in spacing[::-1]))  # (x, y[, z]) order
    return image


def sitk_method(ndim, tutorial=True):
    """SimpleITK's ``ImageRegistrationMethod`` with :data:`SITK_SETTINGS`
    (``tutorial=False``: the robust optimizer on all samples, see
    :func:`run_simpleitk`), without its initial transform."""
    import SimpleITK as sitk

    cfg = SITK_SETTINGS
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=cfg["bins"])
    if tutorial:
        method.SetMetricSamplingStrategy(method.RANDOM)
        method.SetMetricSamplingPercentage(cfg["sampling_percentage"][ndim], cfg["sampling_seed"])
        method.SetOptimizerAsGradientDescent(
            learningRate=cfg["learning_rate"],
            numberOfIterations=cfg["iterations"],
            convergenceMinimumValue=cfg["convergence_minimum"],
            convergenceWindowSize=cfg["convergence_window"],
        )
    else:
        method.SetMetricSamplingStrategy(method.NONE)
        method.SetOptimizerAsRegularStepGradientDescent(
            learningRate=1.0, minStep=1e-4, numberOfIterations=300, relaxationFactor=0.5
        )
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel(shrinkFactors=cfg["shrink_factors"])
    method.SetSmoothingSigmasPerLevel(smoothingSigmas=cfg["smoothing_sigmas"])
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    return method


def run_simpleitk(case=None, *, reference=None, moving=None, spacing=None, tutorial=True):
    """SimpleITK rigid registration (tutorial settings, :data:`SITK_SETTINGS`);
    the index-order matrix.

    fixed = reference, moving = moving, float32 images with the spacing
    set (reversed to (x, y[, z]) order), origin 0.  The final transform maps
    fixed physical points to moving physical points; it is converted to
    index order by :func:`_index_matrix_from_points` (verified by
    :func:`check_conversions`).  ``tutorial=False`` swaps in a robust
    optimizer (regular-step gradient descent on all samples), used only to
    check the conversion on cases that SimpleITK then solves.
    """
    import SimpleITK as sitk

    if case is not None:
        reference, moving, spacing = case.reference, case.moving, case.spacing
    ndim = reference.ndim
    spacing = np.ones(ndim) if spacing is None else np.asarray(spacing, float)
    fixed_image = _sitk_image(reference, spacing)
    moving_image = _sitk_image(moving, spacing)
    euler = sitk.Euler2DTransform() if ndim == 2 else sitk.Euler3DTransform()
    initial = sitk.CenteredTransformInitializer(
        fixed_image, moving_image, euler, sitk.CenteredTransformInitializerFilter.GEOMETRY
    )
    method = sitk_method(ndim, tutorial)
    method.SetInitialTransform(initial, inPlace=False)
    final = method.Execute(fixed_image, moving_image)
    return _index_matrix_from_points(final.TransformPoint, spacing, ndim)


def run_dipy(case=None, *, reference=None, moving=None, spacing=None):
    """dipy imaffine's tutorial pipeline (centres of mass -> translation ->
    rigid; MI, 32 bins, all samples, levels 4/2/1 with sigmas 3/1/0 and
    10000/1000/100 iterations); the index-order matrix."""
    from dipy.align.imaffine import (
        AffineRegistration,
        MutualInformationMetric,
        transform_centers_of_mass,
    )
    from dipy.align.transforms import (
        RigidTransform2D,
        RigidTransform3D,
        TranslationTransform2D,
        TranslationTransform3D,
    )

    if case is not None:
        reference, moving, spacing = case.reference, case.moving, case.spacing
    ndim = reference.ndim
    spacing = np.ones(ndim) if spacing is None else np.asarray(spacing, float)
    grid = np.diag(np.append(spacing, 1.0))
    static = np.asarray(reference, np.float64)
    mov = np.asarray(moving, np.float64)
    affreg = AffineRegistration(
        metric=MutualInformationMetric(nbins=32, sampling_proportion=None),
        level_iters=[10000, 1000, 100],
        sigmas=[3.0, 1.0, 0.0],
        factors=[4, 2, 1],
        verbosity=0,
    )
    start = transform_centers_of_mass(static, grid, mov, grid).affine
    translation = TranslationTransform2D() if ndim == 2 else TranslationTransform3D()
    affine = affreg.optimize(
        static,
        mov,
        translation,
        None,
        static_grid2world=grid,
        moving_grid2world=grid,
        starting_affine=start,
    ).affine
    rigid = RigidTransform2D() if ndim == 2 else RigidTransform3D()
    affine = affreg.optimize(
        static,
        mov,
        rigid,
        None,
        static_grid2world=grid,
        moving_grid2world=grid,
        starting_affine=affine,
    ).affine
    # dipy's affine maps static world points to moving world points, index order
    return np.linalg.solve(grid, affine @ grid)


def run_elastix(case=None, *, reference=None, moving=None, spacing=None):
    """itk-elastix with its default rigid parameter map
    (``GetDefaultParameterMap("rigid")``); the index-order matrix.  Images
    as for :func:`run_simpleitk` (ITK's (x, y[, z]) order, origin 0)."""
    import itk

    if case is not None:
        reference, moving, spacing = case.reference, case.moving, case.spacing
    ndim = reference.ndim
    spacing = np.ones(ndim) if spacing is None else np.asarray(spacing, float)
    images = []
    for array in (reference, moving):
        image = itk.GetImageFromArray(np.ascontiguousarray(array, dtype=np.float32))
        image.SetSpacing(tuple(float(v) for v in spacing[::-1]))
        images.append(image)
    parameters = itk.ParameterObject.New()
    parameters.AddParameterMap(parameters.GetDefaultParameterMap("rigid"))
    method = itk.ElastixRegistrationMethod.New(*images)
    method.SetParameterObject(parameters)
    method.SetLogToConsole(False)
    method.UpdateLargestPossibleRegion()
    transform = method.GetCombinationTransform()
    return _index_matrix_from_points(transform.TransformPoint, spacing, ndim)


def run_ants(case=None, *, reference=None, moving=None, spacing=None):
    """ANTsPy's ``ants.registration(fixed, moving, type_of_transform="Rigid")``
    (its defaults); the index-order matrix.  ``ants.from_numpy`` keeps
    NumPy's axis order, so its physical points are in index order (origin
    0, ``spacing``): reversed here to the (x, y[, z]) order that
    :func:`_index_matrix_from_points` reads."""
    import ants

    if case is not None:
        reference, moving, spacing = case.reference, case.moving, case.spacing
    ndim = reference.ndim
    spacing = np.ones(ndim) if spacing is None else np.asarray(spacing, float)
    fixed, mov = (
        ants.from_numpy(np.ascontiguousarray(a, dtype=np.float32), spacing=tuple(spacing))
        for a in (reference, moving)
    )
    result = ants.registration(fixed, mov, type_of_transform="Rigid")
    transforms = [ants.read_transform(path) for path in result["fwdtransforms"]]

    def map_point(point):  # (x, y[, z]) order in and out
        point = list(point)[::-1]
        for transform in reversed(transforms):  # the last listed applies first
            point = transform.apply_to_point(point)
        return tuple(point)[::-1]

    return _index_matrix_from_points(map_point, spacing, ndim)


PEERS = {}
if have_simpleitk():
    PEERS["SimpleITK"] = run_simpleitk
if have_dipy():
    PEERS["dipy"] = run_dipy
if have_elastix():
    PEERS["itk-elastix"] = run_elastix
if have_module("ants"):
    PEERS["ANTs"] = run_ants


def _check_sitk_resample():
    """SimpleITK's own resampler against the conversion: a known rigid
    transform (rotation and translation, anisotropic 3-D spacing) resamples
    the moving image as ``ndi.affine_transform`` does with the converted
    matrix.  Returns the largest difference (images in [0, 1])."""
    import SimpleITK as sitk

    worst = 0.0
    for ndim, spacing in ((2, (1.0, 1.0)), (3, (2.5, 1.0, 1.5))):
        shape = (36, 44) if ndim == 2 else (20, 36, 28)
        rng = np.random.default_rng(11)
        moving = ndi.gaussian_filter(rng.random(shape), 2.0)
        moving = (moving - moving.min()) / (moving.max() - moving.min())
        if ndim == 2:
            euler = sitk.Euler2DTransform((10.0, 12.0), 0.2, (1.5, -2.0))
        else:
            euler = sitk.Euler3DTransform((20.0, 18.0, 25.0), 0.1, -0.15, 0.2, (1.5, -2.0, 3.0))
        image = _sitk_image(moving, spacing)
        resampled = sitk.GetArrayFromImage(
            sitk.Resample(image, image, euler, sitk.sitkLinear, 0.0, sitk.sitkFloat64)
        )
        matrix = _index_matrix_from_points(euler.TransformPoint, spacing, ndim)
        ours = ndi.affine_transform(
            moving.astype(np.float32).astype(np.float64),
            matrix,
            order=1,
            mode="constant",
            cval=0.0,
        )
        # compare where the mapped point is inside the moving image (the
        # resamplers treat points beyond the border differently)
        idx = np.indices(shape).reshape(ndim, -1).astype(float)
        mapped = matrix[:ndim, :ndim] @ idx + matrix[:ndim, ndim:]
        inside = np.all((mapped >= 0.5) & (mapped <= np.array(shape)[:, None] - 1.5), axis=0)
        assert inside.mean() > 0.5
        worst = max(worst, float(np.abs(resampled - ours).ravel()[inside].max()))
    return worst


def _check_dipy_resample():
    """dipy's AffineMap resampling against the conversion (anisotropic 3-D
    grid, rotation and translation); the largest difference."""
    from dipy.align.imaffine import AffineMap

    shape, spacing = (20, 36, 28), np.array([2.5, 1.0, 1.5])
    rng = np.random.default_rng(12)
    moving = ndi.gaussian_filter(rng.random(shape), 2.0)
    grid = np.diag(np.append(spacing, 1.0))
    _, physical = rigid_truth(shape, (6.0, -4.0, 9.0), (1.5, -2.0, 3.0), spacing)
    affine_map = AffineMap(
        physical,
        domain_grid_shape=shape,
        domain_grid2world=grid,
        codomain_grid_shape=shape,
        codomain_grid2world=grid,
    )
    resampled = affine_map.transform(moving, interpolation="linear")
    matrix = np.linalg.solve(grid, physical @ grid)
    ours = ndi.affine_transform(moving, matrix, order=1, mode="constant", cval=0.0)
    idx = np.indices(shape).reshape(3, -1).astype(float)
    mapped = matrix[:3, :3] @ idx + matrix[:3, 3:]
    inside = np.all((mapped >= 0.5) & (mapped <= np.array(shape)[:, None] - 1.5), axis=0)
    assert inside.mean() > 0.5
    return float(np.abs(resampled - ours).ravel()[inside].max())


def check_conversions(tolerance=0.25):
    """Check the peers' matrix conversions; returns {check: error}.

    * SimpleITK: its resampler agrees with the converted matrix (exact, see
      :func:`_check_sitk_resample`), and a registration it solves -- a small
      rotation plus translation, 2-D and 3-D at 2 mm, with the robust
      optimizer (``tutorial=False``; the tutorial settings fail even these)
      -- is recovered to ``tolerance`` px / mm;
    * dipy: its resampler likewise, and its tutorial pipeline on the 2-D
      case and on a 3-D pure translation;
    * itk-elastix and ANTs: their defaults on the 2-D and 3-D cases.

    A wrong axis order or spacing shows up as errors of pixels.
    """
    out = {}
    ref2 = resized(data.camera(), 128)
    truth2, _ = rigid_truth(ref2.shape, 5.0, (2.5, -4.0))
    mov2 = make_moving(ref2, truth2)
    shape3, spacing3 = (40, 48, 36), (2.0, 2.0, 2.0)
    f = blobs_volume(shape3, spacing3, seed=3)
    ref3 = sampled(f, shape3, spacing3)
    truth3, physical3 = rigid_truth(shape3, (4.0, -3.0, 5.0), (3.0, -5.0, 2.0), spacing3)
    mov3 = sampled(f, shape3, spacing3, physical3)
    if "SimpleITK" in PEERS:
        out["SimpleITK resample (max abs difference)"] = _check_sitk_resample()
        run = functools.partial(run_simpleitk, tutorial=False)
        m2 = run(reference=ref2, moving=mov2, spacing=None)
        out["SimpleITK robust optimizer, 2-D (px)"] = mean_error(m2, truth2, ref2.shape)
        m3 = run(reference=ref3, moving=mov3, spacing=spacing3)
        out["SimpleITK robust optimizer, 3-D (mm)"] = mean_error(m3, truth3, shape3) * 2.0
    if "dipy" in PEERS:
        out["dipy resample (max abs difference)"] = _check_dipy_resample()
        m2 = run_dipy(reference=ref2, moving=mov2, spacing=None)
        out["dipy, 2-D (px)"] = mean_error(m2, truth2, ref2.shape)
        # dipy misses the small volume's rotation; a pure shift it solves
        shift3, physical = rigid_truth(shape3, (0.0, 0.0, 0.0), (3.0, -5.0, 2.0), spacing3)
        shifted = sampled(f, shape3, spacing3, physical)
        m3 = run_dipy(reference=ref3, moving=shifted, spacing=spacing3)
        out["dipy translation, 3-D (mm)"] = mean_error(m3, shift3, shape3) * 2.0
    for name in ("itk-elastix", "ANTs"):  # their defaults solve these two
        if name in PEERS:
            m2 = PEERS[name](reference=ref2, moving=mov2, spacing=None)
            out[f"{name}, 2-D (px)"] = mean_error(m2, truth2, ref2.shape)
            m3 = PEERS[name](reference=ref3, moving=mov3, spacing=spacing3)
            out[f"{name}, 3-D (mm)"] = mean_error(m3, truth3, shape3) * 2.0
    limits = {k: (1e-4 if "resample" in k else tolerance) for k in out}
    bad = {k: v for k, v in out.items() if not v < limits[k]}
    if bad:
        raise AssertionError(f"peer matrix conversion check failed: {bad}")
    return out
