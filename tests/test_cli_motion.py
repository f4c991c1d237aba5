"""``mireg motion``: a 4-D NIfTI and a TIFF time series with known motions,
corrected by the command (run as a user would, in a subprocess), their
outputs read back with nibabel, tifffile and imageio; bad inputs end in
one line and exit status 2."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from motion_helpers import moving_series
from test_cli import assert_one_line_error, run_mireg, run_mireg_process

import mireg
from mireg.cli import main
from mireg.cli.motion import OPTIONS_BY_NDIM, REGISTER_OPTIONS, SMOOTHING

tifffile = pytest.importorskip("tifffile")
nibabel = pytest.importorskip("nibabel")
imageio = pytest.importorskip("imageio.v3")

# x flipped and an origin off the grid: the motions are in world (scanner) axes
AFFINE = np.array(
    [[-3.0, 0.0, 0.0, 40.0], [0.0, 3.0, 0.0, -30.0], [0.0, 0.0, 3.5, -20.0], [0, 0, 0, 1]]
)


def read_table(path):
    with open(path, newline="", encoding="utf-8") as stream:
        rows = list(csv.reader(stream, delimiter="\t"))
    return rows[0], np.array(rows[1:], dtype=np.float64)


@pytest.fixture(scope="module")
def nifti_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("motion")
    frames, truth = moving_series((32, 32, 20), AFFINE)
    image = nibabel.Nifti1Image(np.moveaxis(frames, 0, -1).astype(np.float32), AFFINE)
    image.header.set_zooms((3.0, 3.0, 3.5, 2.0))  # a repetition time of 2 s
    nibabel.save(image, folder / "bold.nii.gz")
    proc = run_mireg(
        "motion",
        folder / "bold.nii.gz",
        "-o",
        folder / "corrected.nii.gz",
        "--params",
        folder / "motion.tsv",
        "--plot",
        folder / "motion.png",
        "--jobs",
        "2",
    )
    assert proc.returncode == 0, proc.stderr
    return folder, frames, truth, proc


def test_nifti_series_keeps_the_header(nifti_run):
    folder, frames, _, _ = nifti_run
    corrected = nibabel.load(folder / "corrected.nii.gz")
    assert corrected.shape == (32, 32, 20, 6)
    np.testing.assert_array_equal(corrected.affine, AFFINE)
    assert corrected.header.get_zooms() == (3.0, 3.0, 3.5, 2.0)
    assert corrected.get_data_dtype() == np.float32


def test_nifti_series_is_aligned_to_the_first_volume(nifti_run):
    folder, frames, _, _ = nifti_run
    corrected = np.moveaxis(nibabel.load(folder / "corrected.nii.gz").get_fdata(), -1, 0)
    inner = (slice(4, -4),) * 3  # away from the borders the motion brings in
    np.testing.assert_allclose(corrected[0], frames[0], atol=1e-5)  # its own grid
    for i in range(1, len(frames)):
        before = np.abs(frames[i] - frames[0])[inner].mean()
        after = np.abs(corrected[i] - frames[0])[inner].mean()
        assert after < 0.15 * before, (i, before, after)


def test_nifti_table_recovers_the_motions(nifti_run):
    folder, _, truth, proc = nifti_run
    names, table = read_table(folder / "motion.tsv")
    assert names == [
        "volume",
        "rot_x_deg",
        "rot_y_deg",
        "rot_z_deg",
        "trans_x_mm",
        "trans_y_mm",
        "trans_z_mm",
        "fd_mm",
    ]
    assert table.shape == (6, 8)
    np.testing.assert_array_equal(table[:, 0], np.arange(6))
    error = np.abs(table[:, 1:7] - truth)
    # measured: <= 0.14 degree, <= 0.07 mm (1-degree, 1.5-mm motions of 3-mm voxels)
    assert error[:, :3].max() < 0.25 and error[:, 3:].max() < 0.12, error
    # the FD column is the library's FD of the table's columns (6 decimals written)
    fd = mireg.framewise_displacement(table[:, 1:7])
    np.testing.assert_allclose(table[:, 7], fd, atol=1e-5)
    assert fd[0] == 0.0 and (fd[1:] > 1.0).all()
    assert "6 frames registered to first" in proc.stdout


def test_nifti_plot_is_a_png(nifti_run):
    folder, *_ = nifti_run
    path = folder / "motion.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    picture = imageio.imread(path)
    assert picture.shape[0] > 400 and picture.shape[1] > 400
    assert picture[..., :3].std() > 10  # not blank


def test_tiff_series_with_spacing_and_an_index_reference(tmp_path):
    # pixels of 0.5 units; frame 2 the reference: the table is each frame's
    # motion relative to frame 2, in units
    frames, truth = moving_series((64, 64), np.diag([0.5, 0.5, 1.0]), degrees=2.0, shift=1.0)
    tifffile.imwrite(tmp_path / "cells.tif", frames.astype(np.float32))
    proc = run_mireg(
        "motion",
        tmp_path / "cells.tif",
        "-o",
        tmp_path / "corrected.tif",
        "--reference",
        "2",
        "--spacing",
        "0.5,0.5",
        "--params",
        tmp_path / "motion.tsv",
        "-q",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # --quiet: no progress line
    corrected = tifffile.imread(tmp_path / "corrected.tif")
    assert corrected.shape == frames.shape and corrected.dtype == np.float32
    names, table = read_table(tmp_path / "motion.tsv")
    assert names == ["frame", "rot_deg", "trans_row", "trans_col", "fd"]
    assert table.shape == (6, 5)

    from motion_helpers import world_motion

    from mireg import transforms as tf

    center = np.array([31.5, 31.5]) * 0.5
    to_reference = np.linalg.inv(world_motion(truth[2, :1], truth[2, 1:], center))
    for i, row in enumerate(table):
        relative = world_motion(truth[i, :1], truth[i, 1:], center) @ to_reference
        expected = tf.parameters_from_physical(relative, 2, "rigid", center)
        # measured: <= 0.06 degree, <= 0.008 units
        assert abs(row[1] - np.rad2deg(expected[0])) < 0.15, (i, row, expected)
        np.testing.assert_allclose(row[2:4], expected[1:], atol=0.02)
    np.testing.assert_array_equal(table[2, 1:4], 0.0)  # the reference itself
    inner = (slice(8, -8),) * 2
    for i in range(6):
        assert np.abs(corrected[i] - frames[2])[inner].mean() < 0.02


def test_mean_reference_aligns_the_frames(tmp_path):
    frames, _ = moving_series((64, 64), np.eye(3), degrees=2.0, shift=1.5, seed=4)
    tifffile.imwrite(tmp_path / "cells.tif", frames.astype(np.float32))
    inner = (slice(1, None), slice(10, -10), slice(10, -10))
    spread = {}
    for reference in ("first", "mean"):
        out = tmp_path / f"{reference}.tif"
        arguments = [str(tmp_path / "cells.tif"), "-o", str(out), "--reference", reference]
        assert main(["motion", *arguments, "-q"]) == 0
        spread[reference] = tifffile.imread(out)[inner].std(axis=0).mean()
    raw = frames[inner].std(axis=0).mean()
    # measured: 0.9% of the uncorrected spread either way
    assert max(spread.values()) < 0.05 * raw, (raw, spread)


@pytest.mark.parametrize("smoothing", [None, "0", "1.5"])
def test_table_is_register_stack_with_the_command_options(tmp_path, smoothing):
    # the command registers with REGISTER_OPTIONS, its measure for the frames'
    # dimensionality and --smoothing (default SMOOTHING): the library's answer
    frames, _ = moving_series((48, 48), np.eye(3), n_frames=5, degrees=1.5, shift=1.0, seed=2)
    tifffile.imwrite(tmp_path / "cells.tif", frames.astype(np.float32))
    chosen = [] if smoothing is None else ["--smoothing", smoothing]
    paths = [str(tmp_path / name) for name in ("cells.tif", "out.tif", "motion.tsv")]
    arguments = [paths[0], "-o", paths[1], "--params", paths[2], "-q", *chosen]
    assert main(["motion", *arguments]) == 0
    _, table = read_table(tmp_path / "motion.tsv")
    result = mireg.register_stack(
        frames.astype(np.float32).astype(np.float64),
        smoothing=SMOOTHING if smoothing is None else float(smoothing),
        **REGISTER_OPTIONS,
        **OPTIONS_BY_NDIM[2],
    )
    parameters = mireg.motion_parameters(result)
    np.testing.assert_allclose(table[:, 1:4], parameters, atol=2e-6)


# ---- bad input ------------------------------------------------------------------


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad_motion")
    volume = np.random.default_rng(0).random((8, 8, 6)).astype(np.float32)
    nibabel.save(nibabel.Nifti1Image(volume, np.eye(4)), folder / "volume.nii.gz")
    nibabel.save(nibabel.Nifti1Image(volume[..., None], np.eye(4)), folder / "one.nii.gz")
    series = np.repeat(volume[..., None], 3, axis=-1)
    nibabel.save(nibabel.Nifti1Image(series, np.eye(4)), folder / "series.nii.gz")
    tifffile.imwrite(folder / "page.tif", volume[..., 0])
    (folder / "corrupt.nii.gz").write_bytes(np.random.default_rng(1).bytes(500))
    return folder


CASES = {
    "3-D volume": (["volume.nii.gz"], "single 3-D volume"),
    "one volume": (["one.nii.gz"], "series of one volume"),
    "index out of range": (["series.nii.gz", "--reference", "3"], "out of range"),
    "negative index out of range": (["series.nii.gz", "--reference", "-4"], "out of range"),
    "bad reference": (["series.nii.gz", "--reference", "middle"], "'middle' is not"),
    "negative smoothing": (["series.nii.gz", "--smoothing", "-1"], "must be finite and >= 0"),
    "smoothing not a number": (["series.nii.gz", "--smoothing", "a"], "'a' is not a number"),
    "unreadable": (["corrupt.nii.gz"], "cannot read"),
    "missing": (["nope.nii.gz"], "no such file"),
    "single tiff page": (["page.tif", "-o", "{out}.tif"], "single 2-D image"),
    "output folder": (["series.nii.gz", "-o", "{out}/no/such/c.nii.gz"], "no such folder"),
    "output format": (["series.nii.gz", "-o", "{out}.tif"], "input's format"),
    "overwrites the input": (["series.nii.gz", "-o", "{dir}/series.nii.gz"], "different files"),
    "spacing on nifti": (["series.nii.gz", "--spacing", "2"], "--spacing is for TIFF"),
    "spacing": (["page.tif", "--spacing", "1,2,3", "-o", "{out}.tif"], "one or two sizes"),
    "jobs": (["series.nii.gz", "--jobs", "0"], "must be >= 1"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_and_status_2(case, bad_files, capsys):
    arguments, expected = CASES[case]
    out = str(bad_files / "out")
    options = [a.format(out=out, dir=bad_files) for a in arguments[1:]]
    args = [str(bad_files / arguments[0]), *options]
    if "-o" not in args:
        args += ["-o", out + ".nii.gz"]
    assert main(["motion"] + args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0], captured.err
    assert expected in lines[0]
    assert not list(bad_files.glob("out*"))  # nothing written


def test_bad_input_in_a_subprocess(bad_files):
    line = assert_one_line_error(
        run_mireg_process("motion", bad_files / "volume.nii.gz", "-o", bad_files / "o.nii.gz")
    )
    assert line.startswith("mireg: error:") and "single 3-D volume" in line
