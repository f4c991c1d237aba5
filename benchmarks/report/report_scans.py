"""A T1 -> T2-like pair on different grids registered by mireg, itk-elastix
and SimpleITK in one run; prints a Markdown table (for the README and
reviews).

    PYTHONPATH=src python benchmarks/report/report_scans.py [--out DIR]

The pair, written as NIfTI files into ``DIR`` (a temporary folder by
default) and read by every tool from there:

* reference: nilearn's MNI152 2009 T1 template, 1 mm, 197 x 233 x 189, RAS;
* moving: a T2-like image made from the same T1 by a non-monotone
  intensity map (background 0, CSF brightest, grey matter mid, white matter
  dark), blurred across its 3 mm slices, moved by a known rigid motion
  (rotations of 6, -4 and 8 degrees about the brain's centre, a shift of
  (5, -7, 4) mm) and sampled on a 0.9 x 0.9 x 3 mm grid oriented LPS with
  the slice axis first (voxel axes S, L, P) and tilted 10 degrees.

Error: the mean distance, over the reference's head voxels (every 4th
along each axis), between where the estimated and the true world maps send
each voxel, in mm.  Timings: one run each, warm: each tool's import and a
first registration of a small pair are done before (Numba compilation for
mireg, ITK's module loading for the others).  Peers:

* itk-elastix: the default rigid parameter map
  (``GetDefaultParameterMap('rigid')``), images read by ``itk.imread``;
* SimpleITK: the tutorial settings of ``benchmarks.cases.peers``
  (Mattes MI, 50 bins, 1% random samples, gradient descent, levels 4/2/1),
  started by ``CenteredTransformInitializer(GEOMETRY)``;
* mireg: ``mireg.register(t1, t2, reference_affine=..., moving_affine=...)``
  (rigid, defaults).

Before timing, the truth is checked: the true transform written by
``mireg.transform_files.save_transform`` and read by SimpleITK resamples the
moving image back onto the reference grid, where it must match the T2-like
image made there directly.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial.transform import Rotation

if not __package__:  # run as a script: the repository root holds `benchmarks`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.cases.scans import (  # noqa: E402
    mni_t1,
    run_elastix,
    run_mireg,
    run_simpleitk,
)

MOVING_ZOOMS = (3.0, 0.9, 0.9)  # voxel axes: S, L, P
MOTION_DEGREES = (6.0, -4.0, 8.0)
MOTION_SHIFT_MM = (5.0, -7.0, 4.0)
# T1 value (0..1) -> T2-like value: not monotone, so only a statistical measure aligns them
T1_LEVELS = [0.0, 0.05, 0.2, 0.35, 0.55, 0.85, 1.0]
T2_LEVELS = [0.0, 0.0, 1.0, 0.9, 0.6, 0.35, 0.3]


def t2_like(t1, sigma_voxels=(0.0, 0.0, 0.0)):
    t2 = np.interp(t1, T1_LEVELS, T2_LEVELS)
    return ndi.gaussian_filter(t2, sigma_voxels) if any(sigma_voxels) else t2


def true_motion(centre):
    """Reference world -> moving world: a rotation about ``centre`` and a shift."""
    world = np.eye(4)
    rotation = Rotation.from_euler("xyz", MOTION_DEGREES, degrees=True).as_matrix()
    world[:3, :3] = rotation
    world[:3, 3] = centre - rotation @ centre + MOTION_SHIFT_MM
    return world


def moving_grid(centre):
    """Voxel (S, L, P order) -> RAS, 0.9 x 0.9 x 3 mm, tilted 10 deg about x,
    covering the head around ``centre``."""
    shape = (66, 230, 270)
    axes = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])  # columns: S, L, P
    tilt = Rotation.from_euler("x", 10.0, degrees=True).as_matrix()
    affine = np.eye(4)
    affine[:3, :3] = tilt @ axes @ np.diag(MOVING_ZOOMS)
    middle = (np.array(shape) - 1) / 2.0
    affine[:3, 3] = centre - affine[:3, :3] @ middle
    return affine, shape


def make_pair(folder):
    """Write reference.nii.gz and moving.nii.gz; return the truth and grids."""
    import nibabel

    t1, ref_affine = mni_t1()
    head = t1 > 0.05
    centre = ref_affine[:3] @ np.r_[ndi.center_of_mass(head), 1.0]
    truth = true_motion(centre)
    mov_affine, mov_shape = moving_grid(centre)
    # T2-like on the reference grid, blurred along world z (the slice axis)
    # as a 3 mm slice would, then sampled where the moving voxels land
    t2 = t2_like(t1, (0.3, 0.3, 1.25))
    index_map = np.linalg.solve(ref_affine, np.linalg.solve(truth, mov_affine))
    moving = ndi.affine_transform(t2, index_map, output_shape=mov_shape, order=3)
    moving = np.clip(moving, 0.0, None)
    nibabel.save(
        nibabel.Nifti1Image(t1.astype(np.float32), ref_affine), folder / "reference.nii.gz"
    )
    nibabel.save(
        nibabel.Nifti1Image(moving.astype(np.float32), mov_affine), folder / "moving.nii.gz"
    )
    return {
        "truth": truth,
        "reference": t1,
        "moving": moving,
        "ref_affine": ref_affine,
        "mov_affine": mov_affine,
        "points": head_points(head, ref_affine),
        "t2_on_reference": t2,
    }


def head_points(head, affine, step=4):
    index = np.argwhere(head[::step, ::step, ::step]) * step
    return index @ affine[:3, :3].T + affine[:3, 3]


def mean_error(world, pair):
    points = pair["points"]
    estimated = points @ world[:3, :3].T + world[:3, 3]
    true = points @ pair["truth"][:3, :3].T + pair["truth"][:3, 3]
    return float(np.linalg.norm(estimated - true, axis=1).mean())


def check_truth(folder, pair):
    """The moving image resampled by SimpleITK with the true transform read
    from mireg's .tfm: its mean difference from the T2-like reference."""
    import SimpleITK as sitk

    from mireg.transform_files import save_transform

    save_transform(folder / "truth.tfm", pair["truth"])
    fixed = sitk.ReadImage(str(folder / "reference.nii.gz"), sitk.sitkFloat32)
    moving = sitk.ReadImage(str(folder / "moving.nii.gz"), sitk.sitkFloat32)
    transform = sitk.ReadTransform(str(folder / "truth.tfm"))
    back = sitk.GetArrayFromImage(sitk.Resample(moving, fixed, transform, sitk.sitkLinear))
    back = back.transpose(2, 1, 0)
    inside = ndi.binary_erosion(pair["reference"] > 0.05, iterations=6)
    return float(np.abs(back - pair["t2_on_reference"])[inside].mean())


# ---- the tools --------------------------------------------------------------------


TOOLS = {"mireg": run_mireg, "itk-elastix": run_elastix, "SimpleITK": run_simpleitk}


def warm_up(folder):
    """Each tool's import and first call, on a small pair of the same kind
    (2 mm and 4 mm grids), not timed."""
    import nibabel

    t1, affine = mni_t1()
    small = t1[::3, ::3, ::3]
    small_affine = affine @ np.diag([3.0, 3.0, 3.0, 1.0])
    nibabel.save(nibabel.Nifti1Image(small.astype(np.float32), small_affine), folder / "w_ref.nii")
    moved = t2_like(small)[::-1]  # another orientation of the same grid
    flipped = small_affine @ np.array(
        [[-1.0, 0, 0, small.shape[0] - 1], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
    )
    nibabel.save(nibabel.Nifti1Image(moved.astype(np.float32), flipped), folder / "w_mov.nii")
    for name, run in TOOLS.items():
        try:
            run(folder / "w_ref.nii", folder / "w_mov.nii")
        except Exception as error:  # reported in the table by the timed run
            print(f"warm-up of {name} failed: {error}", file=sys.stderr)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="folder for the NIfTI pair (default: a temporary one)")
    parser.add_argument("--tools", nargs="+", default=list(TOOLS), choices=list(TOOLS))
    args = parser.parse_args(argv)
    folder = Path(args.out or tempfile.mkdtemp(prefix="mireg-scans-"))
    folder.mkdir(parents=True, exist_ok=True)
    pair = make_pair(folder)
    print(f"pair in {folder}", file=sys.stderr)
    print(
        f"truth check: SimpleITK resampling with the saved true .tfm differs from the "
        f"T2-like reference by {check_truth(folder, pair):.4f} on average (values 0..1)",
        file=sys.stderr,
    )
    warm_up(folder)
    rows = []
    for name in args.tools:
        start = time.perf_counter()
        try:
            world = TOOLS[name](folder / "reference.nii.gz", folder / "moving.nii.gz")
            seconds = time.perf_counter() - start
            rows.append((name, f"{seconds:.2f}", f"{mean_error(world, pair):.3f}"))
        except Exception as error:
            rows.append((name, "-", f"error: {' '.join(str(error).split())[:70]}"))
        print(f"{name}: {rows[-1][1]} s, error {rows[-1][2]} mm", file=sys.stderr)
    identity = mean_error(np.eye(4), pair)
    print(
        "T1 (1 mm, 197x233x189, RAS) -> T2-like (0.9x0.9x3 mm, 66x230x270, "
        f"SLP tilted 10 deg), rigid; error before registration {identity:.2f} mm\n"
    )
    mireg_seconds = dict((row[0], row[1]) for row in rows).get("mireg", "-")
    print("| tool | seconds (warm, one run) | seconds / mireg's | mean error (mm) |")
    print("|---|---:|---:|---:|")
    for name, seconds, error in rows:
        ratio = "-"
        if "-" not in (seconds, mireg_seconds):
            ratio = f"{float(seconds) / float(mireg_seconds):.2f}"
        print(f"| {name} | {seconds} | {ratio} | {error} |")
    print(f"\n{os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
