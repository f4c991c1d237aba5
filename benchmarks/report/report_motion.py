"""Motion correction of a 4-D series by mireg, ANTs and dipy in one run;
prints a Markdown table (for the README and reviews).

    PYTHONPATH=src python benchmarks/report/report_motion.py [--volumes 40] [--skip-dipy]

Series (``benchmarks.cases.motion``): nilearn's MNI152 T1 at 3 mm on a
64 x 64 x 36 grid, 40 volumes under known rigid motions of about 1 degree
and 2 mm per volume, 2% noise; "sudden" adds jumps of 4-6 degrees and
6-10 mm to a tenth of the volumes.  Every volume is registered to volume
0 and resampled onto its grid (the corrected series): each tool's time
covers both, warm (one small series first: Numba's compilation, ITK's
module loading).  Error: the mean distance (mm) over every 4th voxel of
the grid between where the estimated and the true maps send it; mean and
max over the volumes.

* mireg: ``register_stack(frames, spacing=..., metric="nmi", bins=64,
  smoothing=0.7, search="auto")`` (``mireg motion``'s defaults for volumes:
  ``REGISTER_OPTIONS``, ``OPTIONS_BY_NDIM``, ``SMOOTHING``)
  then ``.warp(frames)``, on
  the default threads (``n_jobs`` unset: one per core), on one core
  (``n_jobs=1`` and ``numba.set_num_threads(1)``) and with ``n_jobs=2``;
* ANTs: ``ants.motion_correction(series, fixed=volume 0,
  type_of_transform="Rigid")`` (its registrations and resampling);
* dipy: ``dipy.align.register_series(series, ref=0,
  pipeline=["center_of_mass", "translation", "rigid"])``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

if not __package__:  # run as a script: the repository root holds `benchmarks`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.cases import motion as mc  # noqa: E402
from mireg.cli.motion import OPTIONS_BY_NDIM, REGISTER_OPTIONS, SMOOTHING  # noqa: E402


def run_mireg(data, voxel, n_jobs=None):
    import mireg

    frames = np.moveaxis(data, -1, 0).astype(np.float64)
    result = mireg.register_stack(
        frames,
        spacing=(voxel,) * 3,
        n_jobs=n_jobs,
        smoothing=SMOOTHING,
        **REGISTER_OPTIONS,
        **OPTIONS_BY_NDIM[3],
    )
    result.warp(frames, n_jobs=n_jobs)
    return list(result.matrices)


def run_mireg_one_core(data, voxel):
    """n_jobs=1 with Numba's kernels on one thread: one core."""
    import numba

    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return run_mireg(data, voxel, 1)
    finally:
        numba.set_num_threads(threads)


def run_ants(data, voxel):
    import ants

    series = ants.from_numpy(np.ascontiguousarray(data), spacing=(voxel,) * 3 + (2.0,))
    fixed = ants.from_numpy(np.ascontiguousarray(data[..., 0]), spacing=(voxel,) * 3)
    out = ants.motion_correction(series, fixed=fixed, type_of_transform="Rigid")
    scale = np.diag([voxel] * 3 + [1.0])
    matrices = []
    for files in out["motion_parameters"]:
        transform = ants.read_transform(files[0])  # fixed physical -> moving physical
        physical = _matrix_of(transform.apply_to_point)
        matrices.append(np.linalg.inv(scale) @ physical @ scale)
    return matrices


def run_dipy(data, voxel):
    import logging

    from dipy.align import register_series

    logging.getLogger("dipy").setLevel(logging.WARNING)  # a line per volume and step

    grid = np.diag([voxel] * 3 + [1.0])
    _, affines = register_series(
        data.astype(np.float64),
        0,
        pipeline=["center_of_mass", "translation", "rigid"],
        series_affine=grid,
        ref_affine=grid,
    )
    # each maps the reference's world to the volume's world
    return [np.linalg.inv(grid) @ affines[..., t] @ grid for t in range(data.shape[-1])]


def _matrix_of(apply_to_point):
    """The homogeneous matrix of an affine point map."""
    matrix = np.eye(4)
    origin = np.asarray(apply_to_point((0.0, 0.0, 0.0)), float)
    matrix[:3, 3] = origin
    for k in range(3):
        point = [0.0, 0.0, 0.0]
        point[k] = 10.0
        matrix[:3, k] = (np.asarray(apply_to_point(tuple(point)), float) - origin) / 10.0
    return matrix


def timed(function, *args, **kwargs):
    t0 = time.perf_counter()
    out = function(*args, **kwargs)
    return out, time.perf_counter() - t0


def errors(matrices, truth, voxel):
    values = np.array([mc.displacement_mm(m, t, voxel=voxel) for m, t in zip(matrices, truth)])
    return float(values.mean()), float(values.max())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volumes", type=int, default=40)
    parser.add_argument("--skip-dipy", action="store_true")
    args = parser.parse_args(argv)

    small, _, voxel = mc.series(3)
    run_mireg(small, voxel)  # compile
    run_ants(small, voxel)  # load ITK
    tools = [
        ("mireg (default threads)", lambda d: run_mireg(d, voxel)),
        ("mireg one core", lambda d: run_mireg_one_core(d, voxel)),
        ("mireg n_jobs=2", lambda d: run_mireg(d, voxel, 2)),
        ("ANTs motion_correction Rigid", lambda d: run_ants(d, voxel)),
    ]
    if not args.skip_dipy:
        run_dipy(small, voxel)
        tools.append(("dipy register_series", lambda d: run_dipy(d, voxel)))

    print(f"cores: {os.cpu_count()}, load before: {os.getloadavg()[0]:.2f}")
    print()
    print("| series | tool | seconds | mean error mm | max error mm |")
    print("|---|---|--:|--:|--:|")
    seconds = {}
    for name, sudden in (("smooth", False), ("sudden", True)):
        data, truth, voxel = mc.series(args.volumes, sudden=sudden)
        for tool, run in tools:
            matrices, dt = timed(run, data)
            seconds[name, tool] = dt
            mean, worst = errors(matrices, truth, voxel)
            print(f"| {name} | {tool} | {dt:.2f} | {mean:.3f} | {worst:.3f} |", flush=True)
    print()
    for name in ("smooth", "sudden"):
        ants_s = seconds[name, "ANTs motion_correction Rigid"]
        default = seconds[name, "mireg (default threads)"]
        one, two = seconds[name, "mireg one core"], seconds[name, "mireg n_jobs=2"]
        print(
            f"{name}: ANTs / mireg default {ants_s / default:.1f}x; "
            f"mireg one core / n_jobs=2 {one / two:.2f}x"
        )


if __name__ == "__main__":
    main()
