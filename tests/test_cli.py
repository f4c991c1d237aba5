"""The ``mireg`` command on files written into a temporary folder: its
``main`` with the arguments a user types, stdout and stderr captured, and
the main job and a user's error also as a user runs them, ``python -m
mireg`` in a process of its own."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from cli_helpers import child_env, run_in_a_process, run_in_process
from scipy import ndimage as ndi

imageio = pytest.importorskip("imageio.v3")
tifffile = pytest.importorskip("tifffile")
nibabel = pytest.importorskip("nibabel")
pytest.importorskip("matplotlib")

FIGURES = [
    "fig1_nmi_aligned_vs_off.png",
    "fig2_nmi_sliding.png",
    "fig3_nmi_sliding_smoothed.png",
    "fig4_cost_profile_angle.png",
    "fig5_registration.png",
]


def run_mireg_process(*args):
    """``python -m mireg ARGS``, as a user runs it."""
    return run_in_a_process("mireg", args)


def run_mireg(*args):
    """``mireg ARGS`` in this process (see ``run_in_process``)."""
    from mireg.cli import main

    return run_in_process(main, args)


def assert_one_line_error(proc):
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "error" in lines[0]
    return lines[0]


def smooth_volume(shape, seed):
    rng = np.random.default_rng(seed)
    volume = ndi.gaussian_filter(rng.standard_normal(shape), 2.5)
    return (volume - volume.min()) / (volume.max() - volume.min())


# ---- demo -------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return run_mireg_process("demo", "--out", out), out


def test_demo_writes_the_five_figures(demo_run):
    proc, out = demo_run
    assert proc.returncode == 0, proc.stderr
    for name in FIGURES:
        image = imageio.imread(out / name)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100, name
        assert (out / name).stat().st_size < 150_000, name


def test_demo_recovers_the_angle_and_reports(demo_run):
    proc, _ = demo_run
    angle = float(re.search(r"recovered angle: ([-\d.]+) deg", proc.stdout).group(1))
    assert abs(angle - 40.0) < 0.1
    assert re.search(r"recovered offset: \([-\d.]+, [-\d.]+\) px", proc.stdout)
    assert re.search(r"registration time: [\d.]+ s", proc.stdout)
    assert "| aligned | 0 | 0 |" in proc.stdout  # figure 1's table
    assert "level 1/1" in proc.stderr  # per-level progress
    assert "Traceback" not in proc.stderr


# ---- register: PNG -------------------------------------------------------------


@pytest.fixture(scope="module")
def png_pair(tmp_path_factory):
    """Camera (uint8 gray) and the same rotated by 10 degrees, saved as RGB."""
    from skimage import data, transform, util

    folder = tmp_path_factory.mktemp("png")
    reference = transform.rescale(data.camera() / 255.0, 0.5)
    moving = transform.rotate(reference, 10.0)
    imageio.imwrite(folder / "reference.png", util.img_as_ubyte(reference))
    imageio.imwrite(
        folder / "moving.png", np.repeat(util.img_as_ubyte(moving)[..., None], 3, axis=2)
    )
    return folder


@pytest.fixture(scope="module")
def png_run(png_pair):
    proc = run_mireg(
        "register",
        png_pair / "reference.png",
        png_pair / "moving.png",
        "-o",
        png_pair / "registered.png",
        "--json",
        png_pair / "result.json",
        "--plot",
        png_pair / "check.png",
    )
    return proc, png_pair


def test_register_png_recovers_the_rotation(png_run):
    proc, folder = png_run
    assert proc.returncode == 0, proc.stderr
    result = json.loads((folder / "result.json").read_text())
    assert result["parameter_names"] == ["angle", "t0", "t1"]
    assert abs(np.rad2deg(result["parameters"][0]) - 10.0) < 0.3
    assert np.allclose(result["parameters"][1:], 0.0, atol=0.5)
    reference = imageio.imread(folder / "reference.png")
    registered = imageio.imread(folder / "registered.png")
    assert registered.shape == reference.shape and registered.dtype == np.uint8
    rows, cols = np.indices(reference.shape)
    disk = (rows - 127.5) ** 2 + (cols - 127.5) ** 2 < 100**2  # inside every rotation
    assert np.corrcoef(reference[disk], registered[disk])[0, 1] > 0.97


def test_register_json_content(png_run):
    proc, folder = png_run
    assert proc.returncode == 0, proc.stderr
    result = json.loads((folder / "result.json").read_text())
    for key in (
        "parameters",
        "matrix",
        "metric",
        "metric_name",
        "nfev",
        "levels",
        "kind",
        "spacing",
        "reference",
        "moving",
        "output",
    ):
        assert key in result, key
    matrix = np.array(result["matrix"])
    assert matrix.shape == (3, 3) and np.allclose(matrix[2], [0, 0, 1])
    assert result["kind"] == "rigid" and result["metric_name"] == "alignment"
    assert result["nfev"] > 0 and result["metric"] > 0
    assert result["levels"] and all(
        "evaluations" in lv and "shrink" in lv for lv in result["levels"]
    )
    assert "wrote" in proc.stdout and "deg" in proc.stdout
    assert "level 1/1" in proc.stderr


def test_register_plot_writes_a_png(png_run):
    proc, folder = png_run
    assert proc.returncode == 0, proc.stderr
    figure = imageio.imread(folder / "check.png")
    assert figure.shape[0] > 50 and figure.shape[1] > 200


# ---- register: multi-page TIFF ----------------------------------------------------


def test_register_multipage_tiff_volume(tmp_path):
    reference = smooth_volume((32, 40, 36), seed=1).astype(np.float32)
    shift = (1.5, -2.0, 1.0)
    moving = ndi.shift(reference, shift, order=3, mode="nearest").astype(np.float32)
    tifffile.imwrite(tmp_path / "reference.tif", reference)
    with tifffile.TiffWriter(tmp_path / "moving.tif") as tif:  # a page per write
        for page in moving:
            tif.write(page)
    proc = run_mireg(
        "register",
        tmp_path / "reference.tif",
        tmp_path / "moving.tif",
        "-o",
        tmp_path / "registered.tif",
        "--transform",
        "translation",
        "--json",
        tmp_path / "result.json",
        "-q",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # -q: no progress
    result = json.loads((tmp_path / "result.json").read_text())
    np.testing.assert_allclose(result["parameters"], shift, atol=0.15)
    assert np.array(result["matrix"]).shape == (4, 4)
    registered = tifffile.imread(tmp_path / "registered.tif")
    assert registered.shape == reference.shape and registered.dtype == np.float32


# ---- register: NIfTI, anisotropic voxels -------------------------------------------


def test_register_nifti_uses_the_voxel_size(tmp_path):
    zooms = (1.0, 1.25, 2.5)
    affine = np.diag(zooms + (1.0,))
    affine[:3, 3] = (-20.0, 10.0, 5.0)
    reference = smooth_volume((40, 36, 20), seed=2)
    shift = (2.0, -1.0, 1.0)  # voxels
    moving = ndi.shift(reference, shift, order=3, mode="nearest")
    for name, volume in (("reference", reference), ("moving", moving)):
        image = nibabel.Nifti1Image(volume.astype(np.float32), affine)
        image.header.set_zooms(zooms)
        nibabel.save(image, tmp_path / f"{name}.nii")
    proc = run_mireg(
        "register",
        tmp_path / "reference.nii",
        tmp_path / "moving.nii",
        "-o",
        tmp_path / "registered.nii.gz",
        "--json",
        tmp_path / "r.json",
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "r.json").read_text())
    np.testing.assert_allclose(result["spacing"], zooms)
    # rigid in 3-D: rotation vector, then the shift in millimetres
    np.testing.assert_allclose(result["parameters"][:3], 0.0, atol=np.deg2rad(0.5))
    np.testing.assert_allclose(result["parameters"][3:], np.multiply(shift, zooms), atol=0.2)
    np.testing.assert_allclose(np.array(result["matrix"])[:3, 3], shift, atol=0.2)
    output = nibabel.load(tmp_path / "registered.nii.gz")
    np.testing.assert_allclose(output.affine, affine)
    assert output.shape == reference.shape
    np.testing.assert_allclose(output.header.get_zooms(), zooms)


# ---- register --save-transform, apply -----------------------------------------------


def lps_grid(zooms, origin, flip_x=True):
    """Voxel -> RAS affine with axes towards L (or R), P, S, tilted 5 deg about z."""
    angle = np.deg2rad(5.0)
    tilt = np.array(
        [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
    )
    affine = np.eye(4)
    affine[:3, :3] = tilt @ np.diag(np.multiply([-1.0 if flip_x else 1.0, -1.0, 1.0], zooms))
    affine[:3, 3] = origin
    return affine


def save_nifti(path, volume, affine):
    image = nibabel.Nifti1Image(np.asarray(volume, np.float32), affine)
    image.header.set_xyzt_units("mm")
    nibabel.save(image, path)


@pytest.fixture(scope="module")
def saved_transform_run(tmp_path_factory):
    """An LPS pair with anisotropic voxels registered, the transform saved."""
    folder = tmp_path_factory.mktemp("world")
    affine = lps_grid((1.2, 1.0, 2.0), (30.0, 20.0, -18.0))
    reference = smooth_volume((36, 40, 20), seed=4)
    moving = ndi.shift(reference, (1.5, -1.0, 0.5), order=3, mode="nearest")
    save_nifti(folder / "reference.nii", reference, affine)
    save_nifti(folder / "moving.nii.gz", moving, affine)
    proc = run_mireg(
        "register",
        folder / "reference.nii",
        folder / "moving.nii.gz",
        "-o",
        folder / "registered.nii.gz",
        "--save-transform",
        folder / "t.tfm",
        "--json",
        folder / "r.json",
        "-q",
    )
    return proc, folder, affine


def test_register_saves_a_transform_apply_reproduces(saved_transform_run):
    proc, folder, affine = saved_transform_run
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout and "t.tfm" in proc.stdout
    applied = run_mireg(
        "apply",
        folder / "reference.nii",
        folder / "moving.nii.gz",
        folder / "t.tfm",
        "-o",
        folder / "applied.nii.gz",
        "-q",
    )
    assert applied.returncode == 0, applied.stderr
    registered = nibabel.load(folder / "registered.nii.gz")
    output = nibabel.load(folder / "applied.nii.gz")
    np.testing.assert_allclose(output.get_fdata(), registered.get_fdata(), atol=1e-5)
    # the reference's grid and header
    np.testing.assert_allclose(output.affine, affine, atol=1e-6)
    np.testing.assert_allclose(output.header.get_zooms(), (1.2, 1.0, 2.0), rtol=1e-6)
    assert output.header.get_xyzt_units() == ("mm", "unknown")
    # the saved world map is the registration's index map through the grids
    matrix = np.array(json.loads((folder / "r.json").read_text())["matrix"])
    world = affine @ matrix @ np.linalg.inv(affine)
    from mireg.transform_files import load_transform

    np.testing.assert_allclose(load_transform(folder / "t.tfm").world_matrix, world, atol=1e-9)


def test_register_saves_fsl_mat(saved_transform_run, tmp_path):
    proc, folder, _ = saved_transform_run
    assert proc.returncode == 0, proc.stderr
    again = run_mireg(
        "register",
        folder / "reference.nii",
        folder / "moving.nii.gz",
        "-o",
        tmp_path / "registered.nii",
        "--save-transform",
        tmp_path / "t.mat",
        "-q",
    )
    assert again.returncode == 0, again.stderr
    applied = run_mireg(
        "apply",
        folder / "reference.nii",
        folder / "moving.nii.gz",
        tmp_path / "t.mat",
        "-o",
        tmp_path / "applied.nii",
    )
    assert applied.returncode == 0, applied.stderr
    registered = nibabel.load(tmp_path / "registered.nii").get_fdata()
    # FSL's text keeps 8 decimals
    np.testing.assert_allclose(
        nibabel.load(tmp_path / "applied.nii").get_fdata(), registered, atol=1e-4
    )


def test_apply_a_simpleitk_transform_across_grids(tmp_path):
    """Different grids (LPS 1.2 x 1 x 2 mm, RAS 0.9 x 0.9 x 3 mm): apply with a
    transform SimpleITK wrote gives SimpleITK's own resampling."""
    sitk = pytest.importorskip("SimpleITK")
    reference = smooth_volume((36, 40, 20), seed=5)
    moving = smooth_volume((44, 40, 14), seed=6)
    ref_affine = lps_grid((1.2, 1.0, 2.0), (30, 20, -18))
    mov_affine = lps_grid((0.9, 0.9, 3.0), (0, 0, 0), flip_x=False)
    # the same centre in the world
    centre = ref_affine[:3] @ np.r_[(np.array(reference.shape) - 1) / 2, 1]
    mov_affine[:3, 3] = centre - mov_affine[:3, :3] @ ((np.array(moving.shape) - 1) / 2)
    save_nifti(tmp_path / "reference.nii", reference, ref_affine)
    save_nifti(tmp_path / "moving.nii", moving, mov_affine)
    euler = sitk.Euler3DTransform(
        tuple(-centre[:2]) + (centre[2],), 0.05, -0.03, 0.08, (2.0, -1.5, 1.0)
    )
    sitk.WriteTransform(euler, str(tmp_path / "sitk.tfm"))
    proc = run_mireg(
        "apply",
        tmp_path / "reference.nii",
        tmp_path / "moving.nii",
        tmp_path / "sitk.tfm",
        "-o",
        tmp_path / "out.nii",
        "--order",
        "1",
    )
    assert proc.returncode == 0, proc.stderr
    theirs = sitk.Resample(
        sitk.ReadImage(str(tmp_path / "moving.nii")),
        sitk.ReadImage(str(tmp_path / "reference.nii")),
        euler,
        sitk.sitkLinear,
    )
    theirs = sitk.GetArrayFromImage(theirs).transpose(2, 1, 0)
    ours = nibabel.load(tmp_path / "out.nii").get_fdata()
    covered = (theirs != 0) & (ours != 0)
    assert covered.mean() > 0.3
    # away from the moving volume's edge, where the two treat the border differently
    covered = ndi.binary_erosion(covered, iterations=2)
    np.testing.assert_allclose(ours[covered], theirs[covered], atol=1e-5)


def world_sampler(seed):
    """A smooth random field on a 1 mm world grid about the origin, and a
    function sampling it on any grid (affine, shape)."""
    field = smooth_volume((72, 72, 72), seed)

    def sample(affine, shape):
        index = np.indices(shape).reshape(3, -1).astype(float)
        world = affine[:3, :3] @ index + affine[:3, 3:]
        values = ndi.map_coordinates(field, world + 36.0, order=3, mode="nearest")
        return values.reshape(shape)

    return sample


def test_register_across_grids_saves_the_world_motion(tmp_path):
    """LPS 1.2 x 1 x 2 mm reference, RAS-ish 0.9 x 0.9 x 3 mm moving of
    another "modality", moved by a known rigid motion: the saved .tfm holds
    that motion, as SimpleITK reads it."""
    sample = world_sampler(seed=8)
    ref_affine, ref_shape = lps_grid((1.2, 1.0, 2.0), (20.0, 18.0, -18.0)), (34, 38, 18)
    mov_affine, mov_shape = (
        lps_grid((0.9, 0.9, 3.0), (-18.0, -20.0, -17.0), flip_x=False),
        (
            42,
            44,
            12,
        ),
    )
    mov_affine[:3, 1] *= -1.0  # RAS: y towards anterior
    angle = np.deg2rad(4.0)
    motion = np.eye(4)
    motion[:2, :2] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    motion[:3, 3] = (2.0, -1.5, 1.0)
    save_nifti(tmp_path / "reference.nii", sample(ref_affine, ref_shape), ref_affine)
    moving = 1.0 - sample(np.linalg.solve(motion, mov_affine), mov_shape)
    save_nifti(tmp_path / "moving.nii", moving, mov_affine)
    proc = run_mireg(
        "register",
        tmp_path / "reference.nii",
        tmp_path / "moving.nii",
        "-o",
        tmp_path / "registered.nii",
        "--save-transform",
        tmp_path / "t.tfm",
        "-q",
    )
    assert proc.returncode == 0, proc.stderr
    from mireg.transform_files import load_transform

    world = load_transform(tmp_path / "t.tfm").world_matrix
    index = np.indices(ref_shape).reshape(3, -1)[:, ::7].astype(float)
    points = ref_affine[:3, :3] @ index + ref_affine[:3, 3:]
    errors = np.linalg.norm(
        (world[:3, :3] - motion[:3, :3]) @ points + (world[:3, 3:] - motion[:3, 3:]), axis=0
    )
    assert errors.mean() < 0.3, errors.mean()
    output = nibabel.load(tmp_path / "registered.nii")
    np.testing.assert_allclose(output.affine, ref_affine, atol=1e-6)
    assert output.shape == ref_shape
    sitk = pytest.importorskip("SimpleITK")
    transform = sitk.ReadTransform(str(tmp_path / "t.tfm"))
    lps = np.diag([-1.0, -1.0, 1.0, 1.0])
    for point in points.T[:5]:
        expected = (lps @ motion @ lps @ np.r_[point, 1.0])[:3]
        np.testing.assert_allclose(transform.TransformPoint(tuple(point)), expected, atol=0.5)


def test_png_transform_is_on_the_grid_simpleitk_reads(tmp_path):
    """A PNG has no geometry: the saved .tfm is on the grid ITK gives the
    file, so SimpleITK resamples the PNG through it as `mireg apply` does."""
    sitk = pytest.importorskip("SimpleITK")
    from skimage import data, transform, util

    reference = transform.rescale(data.camera() / 255.0, 0.5)
    moving = transform.rotate(reference, 8.0, center=(100, 140))
    imageio.imwrite(tmp_path / "reference.png", util.img_as_ubyte(reference))
    imageio.imwrite(tmp_path / "moving.png", util.img_as_ubyte(moving))
    proc = run_mireg(
        "register",
        tmp_path / "reference.png",
        tmp_path / "moving.png",
        "-o",
        tmp_path / "registered.png",
        "--save-transform",
        tmp_path / "t.tfm",
        "-q",
    )
    assert proc.returncode == 0, proc.stderr
    applied = run_mireg(
        "apply",
        tmp_path / "reference.png",
        tmp_path / "moving.png",
        tmp_path / "t.tfm",
        "-o",
        tmp_path / "applied.tif",
        "--order",
        "1",
    )
    assert applied.returncode == 0, applied.stderr
    theirs = sitk.GetArrayFromImage(
        sitk.Resample(
            sitk.ReadImage(str(tmp_path / "moving.png"), sitk.sitkFloat32),
            sitk.ReadImage(str(tmp_path / "reference.png"), sitk.sitkFloat32),
            sitk.ReadTransform(str(tmp_path / "t.tfm")),
            sitk.sitkLinear,
        )
    )
    ours = tifffile.imread(tmp_path / "applied.tif") * 255.0
    rows, cols = np.indices(ours.shape)
    disk = (rows - 127.5) ** 2 + (cols - 127.5) ** 2 < 100**2
    np.testing.assert_allclose(ours[disk], theirs[disk], atol=1e-3)
    # and the registration undid the rotation
    assert np.corrcoef(ours[disk], reference[disk])[0, 1] > 0.97


@pytest.fixture(scope="module")
def bad_world_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad-world")
    volume = smooth_volume((12, 14, 10), seed=7)
    good = lps_grid((1.0, 1.0, 2.0), (0, 0, 0))
    save_nifti(folder / "good.nii", volume, good)
    sheared = good.copy()
    sheared[0, 1] = 0.4
    save_nifti(folder / "sheared.nii", volume, sheared)
    singular = good.copy()
    singular[:3, 2] = 0.0
    header = nibabel.Nifti1Header()  # nibabel refuses to build a qform from it
    header["sform_code"] = 2
    header["srow_x"], header["srow_y"], header["srow_z"] = singular[:3]
    nibabel.save(
        nibabel.Nifti1Image(volume.astype(np.float32), None, header=header),
        folder / "singular.nii",
    )
    bare = nibabel.Nifti1Image(volume.astype(np.float32), None)
    nibabel.save(bare, folder / "no_orientation.nii")
    (folder / "garbage.tfm").write_text("not a transform\n")
    (folder / "spline.tfm").write_text(
        "#Insight Transform File V1.0\n#Transform 0\nTransform: BSplineTransform_double_3_3\n"
        "Parameters: 1 2 3\nFixedParameters: 0\n"
    )
    from mireg.transform_files import save_transform

    save_transform(folder / "two_d.tfm", np.eye(3))
    (folder / "flirt.mat").write_text("1 0 0\n0 1 0\n")
    return folder


@pytest.mark.parametrize(
    "case, expected",
    [
        ("sheared", "sheared"),
        ("singular", "singular"),
        ("no orientation", "no orientation"),
        ("garbage transform", "not an ITK transform file"),
        ("b-spline transform", "unsupported transform type"),
        ("2-D transform", "2-D transform, the images are 3-D"),
        ("bad fsl", "not an FSL matrix"),
        ("missing transform", "no such transform file"),
        ("save-transform suffix", "unknown transform file type"),
    ],
)
def test_world_errors_exit_2_with_one_line(case, expected, bad_world_files):
    folder = bad_world_files
    good = folder / "good.nii"
    out = ["-o", folder / "out.nii"]
    args = {
        "sheared": ["apply", good, folder / "sheared.nii", folder / "two_d.tfm", *out],
        "singular": ["register", folder / "singular.nii", good, *out],
        "no orientation": ["register", good, folder / "no_orientation.nii", *out],
        "garbage transform": ["apply", good, good, folder / "garbage.tfm", *out],
        "b-spline transform": ["apply", good, good, folder / "spline.tfm", *out],
        "2-D transform": ["apply", good, good, folder / "two_d.tfm", *out],
        "bad fsl": ["apply", good, good, folder / "flirt.mat", *out],
        "missing transform": ["apply", good, good, folder / "nope.tfm", *out],
        "save-transform suffix": [
            "register",
            good,
            good,
            *out,
            "--save-transform",
            folder / "t.xfm",
        ],
    }[case]
    line = assert_one_line_error(run_mireg(*args))
    assert expected in line, line


# ---- errors a user makes ----------------------------------------------------------


@pytest.fixture(scope="module")
def error_files(tmp_path_factory, png_pair):
    folder = tmp_path_factory.mktemp("errors")
    rng = np.random.default_rng(0)
    (folder / "corrupt.png").write_bytes(rng.bytes(2000))
    (folder / "corrupt.nii").write_bytes(rng.bytes(2000))
    (folder / "truncated.png").write_bytes(png_pair.joinpath("reference.png").read_bytes()[:3000])
    tifffile.imwrite(folder / "volume.tif", smooth_volume((8, 32, 32), 3).astype(np.float32))
    return folder, png_pair / "reference.png"


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "corrupt png",
        "truncated png",
        "corrupt nifti",
        "2-D vs 3-D",
        "3-D into png",
        "unknown command",
        "unknown option",
        "unknown format",
    ],
)
def test_user_errors_exit_2_with_one_line(case, error_files):
    folder, png = error_files
    args = {
        "missing": ["register", folder / "nope.png", png, "-o", folder / "o.png"],
        "corrupt png": ["register", folder / "corrupt.png", png, "-o", folder / "o.png"],
        "truncated png": ["register", png, folder / "truncated.png", "-o", folder / "o.png"],
        "corrupt nifti": ["register", folder / "corrupt.nii", png, "-o", folder / "o.nii"],
        "2-D vs 3-D": ["register", png, folder / "volume.tif", "-o", folder / "o.tif"],
        "3-D into png": [
            "register",
            folder / "volume.tif",
            folder / "volume.tif",
            "-o",
            folder / "o.png",
        ],
        "unknown command": ["align", png, png],
        "unknown option": ["register", png, png, "-o", folder / "o.png", "--frobnicate"],
        "unknown format": ["register", png, png, "-o", folder / "o.bmp"],
    }[case]
    line = assert_one_line_error(run_mireg(*args))
    expected = {
        "missing": "no such file",
        "corrupt png": "not a PNG file",
        "truncated png": "cannot read",
        "corrupt nifti": "cannot read",
        "2-D vs 3-D": "2-D",
        "3-D into png": "2-D images only",
        "unknown command": "invalid choice",
        "unknown option": "unrecognized arguments",
        "unknown format": "unknown image file type",
    }[case]
    assert expected in line


@pytest.mark.parametrize(
    "args, expected",
    [
        (["register", "nope.png", "nope.png", "-o", "o.png"], "no such file"),
        (["align"], "invalid"),
    ],
)
def test_a_users_error_in_a_process_of_its_own(args, expected, tmp_path):
    """What the shell sees: status 2 and one line, from ``python -m mireg``."""
    line = assert_one_line_error(
        run_mireg_process(*[tmp_path / a if "." in a else a for a in args])
    )
    assert expected in line, line


# ---- bench ----------------------------------------------------------------------


def test_bench_prints_the_table():
    proc = run_mireg("bench", "--sizes", "32", "--repeats", "1")
    assert proc.returncode == 0, proc.stderr
    header = next(line for line in proc.stdout.splitlines() if line.startswith("| metric"))
    for column in (
        "reference ms",
        "skimage ms",
        "mireg ms",
        "reference / mireg",
        "skimage / mireg",
        "ns/pixel",
    ):
        assert column in header
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| ")][1:]
    assert [row.split("|")[1].strip() for row in rows] == [
        "nmi",
        "gradient_information",
        "alignment",
    ]
    assert all("32x32" in row for row in rows)
    assert len(proc.stderr.strip().splitlines()) == 7  # a line per timed case


# ---- file formats, in process ------------------------------------------------------


def test_io_round_trips(tmp_path):
    from mireg.cli.io import read_image, write_image

    deep = np.arange(64 * 48, dtype=np.uint16).reshape(64, 48) * 21
    imageio.imwrite(tmp_path / "deep.png", deep)
    image, spacing, info = read_image(tmp_path / "deep.png")
    assert spacing is None and info.dtype == np.uint16 and image.max() <= 1.0
    write_image(tmp_path / "again.png", image, like=info)  # 16 bit stays 16 bit
    np.testing.assert_array_equal(imageio.imread(tmp_path / "again.png"), deep)

    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[..., 1] = 200
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb")
    gray, _, info = read_image(tmp_path / "rgb.tif")
    assert gray.shape == (20, 30) and info.from_rgb

    flat = nibabel.Nifti1Image(np.ones((12, 10, 1), np.int16), np.diag([0.5, 0.7, 3.0, 1]))
    nibabel.save(flat, tmp_path / "slice.nii.gz")
    image, spacing, info = read_image(tmp_path / "slice.nii.gz")
    assert image.shape == (12, 10)
    np.testing.assert_allclose(spacing, (0.5, 0.7), rtol=1e-6)
    write_image(tmp_path / "out.nii.gz", image * 2.5, like=info)
    out = nibabel.load(tmp_path / "out.nii.gz")
    assert out.shape == (12, 10, 1) and out.get_data_dtype() == np.float32
    np.testing.assert_allclose(out.get_fdata(), 2.5)


# ---- the application sits on the library -----------------------------------------


def test_the_library_never_imports_the_application():
    code = (
        "import sys, mireg, mireg.batch, mireg.stack, mireg.reference\n"
        "print(sorted(m for m in sys.modules if m.startswith('mireg.cli')))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=child_env(), timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
