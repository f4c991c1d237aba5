"""Transform files other tools read: ITK ``.tfm`` read back by SimpleITK and
nitransforms and applied to NIfTI volumes, FSL ``.mat``, SimpleITK's own
files loaded, and bad input."""

from __future__ import annotations

import types

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mireg.transform_files import LoadedTransform, load_transform, save_transform

nibabel = pytest.importorskip("nibabel")
nitransforms = pytest.importorskip("nitransforms")

LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def grid(orientation, zooms, origin, degrees=0.0):
    """A voxel -> RAS affine with axes towards ``orientation`` (e.g. "LPS"),
    tilted by ``degrees`` about the z axis."""
    signs = [1.0 if code in "RAS" else -1.0 for code in orientation]
    affine = np.eye(4)
    tilt = Rotation.from_euler("z", degrees, degrees=True).as_matrix()
    affine[:3, :3] = tilt @ np.diag(np.multiply(signs, zooms))
    affine[:3, 3] = origin
    return affine


def field(points):
    """A smooth function of RAS world points (..., 3)."""
    x, y, z = np.moveaxis(points, -1, 0)
    return np.exp(-((x - 4) ** 2 + (y + 3) ** 2) / 300.0 - z**2 / 500.0) + 0.3 * np.sin(
        x / 7.0 + z / 11.0
    )


def sample(affine, shape):
    index = np.stack(np.indices(shape), axis=-1).astype(float)
    return field(index @ affine[:3, :3].T + affine[:3, 3]).astype(np.float32)


def rigid_world(degrees, axis, shift):
    world = np.eye(4)
    world[:3, :3] = Rotation.from_rotvec(np.deg2rad(degrees) * np.asarray(axis)).as_matrix()
    world[:3, 3] = shift
    return world


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    """An LPS reference and an LAS moving volume on different anisotropic grids,
    and a rigid world map between them, as a RegistrationResult-like record."""
    folder = tmp_path_factory.mktemp("scans")
    ref_affine = grid("LPS", (1.1, 0.9, 2.0), (22.0, 16.0, -20.0), degrees=7.0)
    mov_affine = grid("LAS", (1.0, 1.3, 1.6), (18.0, -25.0, -18.0))
    ref_shape, mov_shape = (40, 36, 22), (38, 40, 26)
    world = rigid_world(6.0, (0.3, -0.2, 0.93), (2.5, -1.5, 1.0))
    for name, affine, shape in (
        ("reference", ref_affine, ref_shape),
        ("moving", mov_affine, mov_shape),
    ):
        nibabel.save(nibabel.Nifti1Image(sample(affine, shape), affine), folder / f"{name}.nii")
    result = types.SimpleNamespace(
        world_matrix=world,
        matrix=np.linalg.inv(mov_affine) @ world @ ref_affine,
        reference_affine=ref_affine,
        moving_affine=mov_affine,
        reference_shape=ref_shape,
        moving_shape=mov_shape,
    )
    return folder, result


def inside(result, margin=1.5):
    """Reference voxels that map well inside the moving grid."""
    index = np.stack(np.indices(result.reference_shape), axis=-1).reshape(-1, 3)
    mapped = index @ result.matrix[:3, :3].T + result.matrix[:3, 3]
    ok = np.all((mapped > margin) & (mapped < np.array(result.moving_shape) - 1 - margin), axis=1)
    return ok.reshape(result.reference_shape)


def mireg_output(folder, result, order=1):
    moving = np.asarray(nibabel.load(folder / "moving.nii").dataobj)
    loaded = load_transform(
        folder / "t.tfm",
        reference_affine=result.reference_affine,
        reference_shape=result.reference_shape,
        moving_affine=result.moving_affine,
    )
    return loaded.warp(moving, order=order)


# ---- ITK text ---------------------------------------------------------------------


def test_tfm_round_trip_is_exact_and_gives_the_index_matrix(scans, tmp_path):
    _, result = scans
    save_transform(tmp_path / "t.tfm", result)
    loaded = load_transform(
        tmp_path / "t.tfm",
        reference_affine=result.reference_affine,
        moving_affine=result.moving_affine,
    )
    np.testing.assert_allclose(loaded.world_matrix, result.world_matrix, rtol=0, atol=1e-14)
    np.testing.assert_allclose(loaded.matrix, result.matrix, rtol=0, atol=1e-12)
    # the contract: moving_affine @ matrix == world_matrix @ reference_affine
    np.testing.assert_allclose(
        result.moving_affine @ loaded.matrix,
        loaded.world_matrix @ result.reference_affine,
        atol=1e-12,
    )
    assert load_transform(tmp_path / "t.tfm").matrix is None


def test_tfm_read_by_simpleitk_resamples_like_mireg(scans):
    sitk = pytest.importorskip("SimpleITK")
    folder, result = scans
    save_transform(folder / "t.tfm", result)
    transform = sitk.ReadTransform(str(folder / "t.tfm"))
    # ITK points are LPS: RAS world x is LPS @ x
    for point in ([0.0, 0.0, 0.0], [30.0, -12.0, 7.5]):
        expected = (LPS @ result.world_matrix @ LPS @ np.r_[point, 1.0])[:3]
        np.testing.assert_allclose(transform.TransformPoint(point), expected, atol=1e-9)
    reference = sitk.ReadImage(str(folder / "reference.nii"))
    moving = sitk.ReadImage(str(folder / "moving.nii"))
    theirs = sitk.GetArrayFromImage(sitk.Resample(moving, reference, transform, sitk.sitkLinear))
    theirs = theirs.transpose(2, 1, 0)  # ITK's array is in reversed axis order
    ours = mireg_output(folder, result)
    mask = inside(result)
    assert mask.mean() > 0.5
    np.testing.assert_allclose(theirs[mask], ours[mask], atol=1e-5)
    # and both are the moving scan's field where the world map sends the reference
    truth = sample(result.world_matrix @ result.reference_affine, result.reference_shape)
    assert np.abs(ours[mask] - truth[mask]).mean() < 0.01


def test_tfm_read_by_nitransforms_resamples_like_mireg(scans):
    from nitransforms.linear import load
    from nitransforms.resampling import apply

    folder, result = scans
    save_transform(folder / "t.tfm", result)
    transform = load(folder / "t.tfm", fmt="itk")
    np.testing.assert_allclose(transform.matrix, result.world_matrix, atol=1e-6)  # float32
    reference = nibabel.load(folder / "reference.nii")
    theirs = np.asarray(
        apply(transform, folder / "moving.nii", reference=reference, order=1).dataobj
    )
    ours = mireg_output(folder, result)
    mask = inside(result)
    np.testing.assert_allclose(theirs[mask], ours[mask], atol=1e-4)


def test_tfm_2d_is_a_2d_itk_transform(tmp_path):
    sitk = pytest.importorskip("SimpleITK")
    world = np.array([[0.8, -0.6, 3.0], [0.6, 0.8, -2.0], [0.0, 0.0, 1.0]])
    save_transform(tmp_path / "t2.tfm", world)
    assert "AffineTransform_double_2_2" in (tmp_path / "t2.tfm").read_text()
    transform = sitk.ReadTransform(str(tmp_path / "t2.tfm"))
    assert transform.GetDimension() == 2
    flip = np.diag([-1.0, -1.0, 1.0])
    expected = (flip @ world @ flip @ [5.0, 7.0, 1.0])[:2]
    np.testing.assert_allclose(transform.TransformPoint((5.0, 7.0)), expected, atol=1e-12)
    np.testing.assert_allclose(load_transform(tmp_path / "t2.tfm").world_matrix, world)


# ---- transforms SimpleITK and ANTs write -------------------------------------------


def simpleitk_transforms(sitk):
    euler = sitk.Euler3DTransform((1.0, 2.0, 3.0), 0.1, -0.2, 0.3, (4.0, 5.0, 6.0))
    euler_zyx = sitk.Euler3DTransform(euler)
    euler_zyx.SetComputeZYX(True)
    versor = sitk.VersorRigid3DTransform()
    versor.SetCenter((3.0, -1.0, 2.0))
    versor.SetRotation((0.1, 0.2, 0.3), 0.4)
    versor.SetTranslation((1.0, 2.0, 3.0))
    similarity = sitk.Similarity3DTransform()
    similarity.SetParameters(versor.GetParameters() + (1.1,))
    similarity.SetFixedParameters(versor.GetFixedParameters())
    affine = sitk.AffineTransform(3)
    affine.SetMatrix((1.1, 0.1, -0.2, 0.05, 0.9, 0.1, 0.2, -0.1, 1.2))
    affine.SetTranslation((1.0, -2.0, 3.0))
    affine.SetCenter((5.0, 6.0, 7.0))
    return {
        "euler.tfm": euler,
        "euler_zyx.tfm": euler_zyx,
        "versor.tfm": versor,
        "similarity.tfm": similarity,
        "affine.tfm": affine,
        "affine_binary.mat": affine,  # ITK's MATLAB format, as ANTs writes
        "translation.tfm": sitk.TranslationTransform(3, (1.0, 2.0, 3.0)),
        "composite.tfm": sitk.CompositeTransform([euler, affine]),
        "euler2d.tfm": sitk.Euler2DTransform((1.0, 2.0), 0.3, (4.0, 5.0)),
        "similarity2d.tfm": sitk.Similarity2DTransform(1.2, 0.3, (4.0, 5.0), (1.0, 2.0)),
    }


@pytest.mark.parametrize(
    "name",
    [
        "euler.tfm",
        "euler_zyx.tfm",
        "versor.tfm",
        "similarity.tfm",
        "affine.tfm",
        "affine_binary.mat",
        "translation.tfm",
        "composite.tfm",
        "euler2d.tfm",
        "similarity2d.tfm",
    ],
)
def test_simpleitk_files_load_as_simpleitk_maps_points(name, tmp_path):
    sitk = pytest.importorskip("SimpleITK")
    transform = simpleitk_transforms(sitk)[name]
    sitk.WriteTransform(transform, str(tmp_path / name))
    loaded = load_transform(tmp_path / name)
    ndim = loaded.ndim
    flip = np.diag([-1.0, -1.0] + [1.0] * (ndim - 1))
    lps = flip @ loaded.world_matrix @ flip
    points = np.random.default_rng(3).normal(scale=30.0, size=(6, ndim))
    for point in points:
        expected = transform.TransformPoint(tuple(point))
        np.testing.assert_allclose(lps[:ndim, :ndim] @ point + lps[:ndim, ndim], expected)


# ---- FSL ----------------------------------------------------------------------------


def test_fsl_mat_reads_back_what_was_written(scans, tmp_path):
    _, result = scans
    save_transform(tmp_path / "t.mat", result)
    rows = (tmp_path / "t.mat").read_text().split()
    assert len(rows) == 16
    loaded = load_transform(
        tmp_path / "t.mat",
        reference_affine=result.reference_affine,
        reference_shape=result.reference_shape,
        moving_affine=result.moving_affine,
        moving_shape=result.moving_shape,
    )
    np.testing.assert_allclose(loaded.world_matrix, result.world_matrix, atol=1e-6)
    np.testing.assert_allclose(loaded.matrix, result.matrix, atol=1e-6)


@pytest.mark.parametrize("orientation", ["LAS", "RAS"])
def test_fsl_mat_is_flirts_convention(orientation, tmp_path):
    """A world shift of +d along x, same grids: FLIRT's matrix (moving scaled
    voxels -> reference scaled voxels, x flipped for a positive determinant)
    is a shift of +d along its first axis in either orientation."""
    affine = grid(orientation, (2.0, 1.0, 3.0), (10.0, -20.0, 5.0))
    shape = (30, 40, 12)
    result = types.SimpleNamespace(
        world_matrix=rigid_world(0.0, (0, 0, 1), (4.0, 0.0, 0.0)),
        reference_affine=affine,
        moving_affine=affine,
        reference_shape=shape,
        moving_shape=shape,
    )
    save_transform(tmp_path / "shift.mat", result)
    flirt = np.loadtxt(tmp_path / "shift.mat")
    expected = np.eye(4)
    expected[0, 3] = 4.0
    np.testing.assert_allclose(flirt, expected, atol=1e-8)


# ---- bad input ----------------------------------------------------------------------


def test_bad_input_names_the_argument(scans, tmp_path):
    _, result = scans
    with pytest.raises(ValueError, match="unknown transform file type"):
        save_transform(tmp_path / "t.xfm", result)
    with pytest.raises(ValueError, match="unknown transform file type"):
        load_transform(tmp_path / "t.h5")
    with pytest.raises(ValueError, match="FSL .mat holds 3-D"):
        save_transform(tmp_path / "t2.mat", np.eye(3))
    with pytest.raises(ValueError, match="FSL .mat needs both images' grids"):
        save_transform(tmp_path / "t.mat", result.world_matrix)
    with pytest.raises(ValueError, match="result.*singular"):
        save_transform(tmp_path / "t.tfm", np.diag([1.0, 0.0, 1.0, 1.0]))
    with pytest.raises(TypeError, match="world_matrix"):
        save_transform(tmp_path / "t.tfm", "identity")
    save_transform(tmp_path / "t.tfm", result)
    with pytest.raises(ValueError, match="`reference_affine` is 3x3"):
        load_transform(tmp_path / "t.tfm", reference_affine=np.eye(3))
    with pytest.raises(ValueError, match="`moving_shape` must be 3"):
        load_transform(tmp_path / "t.tfm", moving_shape=(4, 5))
    save_transform(tmp_path / "t.mat", result)
    with pytest.raises(ValueError, match="`reference_affine` is needed"):
        load_transform(tmp_path / "t.mat")
    with pytest.raises(ValueError, match="warp needs the grids"):
        load_transform(tmp_path / "t.tfm").warp(np.zeros((4, 4, 4)))
    assert isinstance(load_transform(tmp_path / "t.tfm"), LoadedTransform)


@pytest.mark.parametrize(
    "content, message",
    [
        ("hello\n", "not an ITK transform file"),
        (
            "#Insight Transform File V1.0\n#Transform 0\nTransform: BSplineTransform_double_3_3\n"
            "Parameters: 1 2 3\nFixedParameters: 0\n",
            "unsupported transform type 'BSplineTransform_double_3_3'",
        ),
        (
            "#Insight Transform File V1.0\n#Transform 0\nTransform: AffineTransform_double_3_3\n"
            "Parameters: 1 0 0 0 1 0\nFixedParameters: 0 0 0\n",
            "needs 12 parameters, got 6",
        ),
        (
            "#Insight Transform File V1.0\n#Transform 0\nTransform: AffineTransform_double_3_3\n"
            "Parameters: 1 0 0 0 x 0 0 0 1 0 0 0\nFixedParameters: 0 0 0\n",
            "Parameters are not numbers",
        ),
    ],
)
def test_unreadable_itk_files(content, message, tmp_path):
    (tmp_path / "bad.tfm").write_text(content)
    with pytest.raises(ValueError, match=message):
        load_transform(tmp_path / "bad.tfm")


def test_unreadable_mat_files(scans, tmp_path):
    _, result = scans
    grids = dict(
        reference_affine=result.reference_affine,
        reference_shape=result.reference_shape,
        moving_affine=result.moving_affine,
        moving_shape=result.moving_shape,
    )
    (tmp_path / "short.mat").write_text("1 0 0 0\n0 1 0 0\n")
    with pytest.raises(ValueError, match="not an FSL matrix"):
        load_transform(tmp_path / "short.mat", **grids)
    (tmp_path / "binary.mat").write_bytes(np.random.default_rng(0).bytes(300) + b"\xff")
    with pytest.raises(ValueError, match="neither an FSL matrix nor an ITK MATLAB"):
        load_transform(tmp_path / "binary.mat", **grids)


def test_docstring_examples():
    import doctest

    import mireg.transform_files

    result = doctest.testmod(mireg.transform_files)
    assert result.attempted > 0 and result.failed == 0


def test_result_method_writes_the_same_file(scans, tmp_path):
    from mireg import RegistrationResult
    from mireg import transforms as tf

    _, plain = scans
    center = np.zeros(3)
    result = RegistrationResult(
        matrix=plain.matrix,
        parameters=tf.parameters_from_physical(plain.world_matrix, 3, "rigid", center),
        center=center,
        kind="rigid",
        metric=1.0,
        metric_name="nmi",
        nfev=0,
        reference_shape=plain.reference_shape,
        reference_affine=plain.reference_affine,
        moving_affine=plain.moving_affine,
        moving_shape=plain.moving_shape,
    )
    for suffix in (".tfm", ".mat"):
        result.save_transform(tmp_path / f"method{suffix}")
        save_transform(tmp_path / f"function{suffix}", result)
        written = (tmp_path / f"method{suffix}").read_bytes()
        assert written == (tmp_path / f"function{suffix}").read_bytes()
        loaded = load_transform(
            tmp_path / f"method{suffix}",
            reference_affine=plain.reference_affine,
            reference_shape=plain.reference_shape,
            moving_affine=plain.moving_affine,
            moving_shape=plain.moving_shape,
        )
        # FSL's text keeps fewer digits than ITK's (see the FSL round trip above)
        atol = 1e-12 if suffix == ".tfm" else 1e-6
        np.testing.assert_allclose(loaded.world_matrix, plain.world_matrix, atol=atol)
