"""MNI152 T1 -> T2-like pairs at 2 mm and 1 mm, several known rigid motions,
registered by mireg, itk-elastix, ANTs and SimpleITK in one run; prints a
Markdown table (also printed by ``report_registration.py``).

    PYTHONPATH=src python benchmarks/report/report_mni.py [--tools ...] [--sizes 2 1]

The pairs, the error (mean distance over the head, mm) and each tool's
settings are those of :mod:`benchmarks.cases.scans`; every tool reads the
same NIfTI files.  Timings: one run each, warm: each tool's import and a
first registration of a small pair of the same kind (4 mm) are done before
(ITK's module loading; for mireg Numba's compilation, with ``mireg.warmup()``
for the kernels of large images).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

if not __package__:  # run as a script: the repository root holds `benchmarks`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.cases import compile_mireg, scans  # noqa: E402

SIZES = (2, 1)
# a tool "recovers" the motion if it ends within this (mm): the time ratio
# is to the fastest of those
RECOVERED_MM = 1.0


def have_template():
    try:
        scans.mni_t1()
    except (ImportError, OSError):
        return False
    return True


def warm_up(folder, tools):
    """Each tool's import and first call on a 4 mm pair, not timed; for
    mireg also ``mireg.warmup()``: the 4 mm volumes are too small for the
    kernels that only images of 2^18 voxels or more compile (the 2 mm
    pair's first run would time ~1 s of their compilation)."""
    paths = scans.mni_pair(4, 0).write(folder)
    if "mireg" in tools:
        compile_mireg()
    for name in tools:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scans.TOOLS[name](*paths)
        except Exception as error:  # reported in the table by the timed run
            print(f"warm-up of {name} failed: {error}", file=sys.stderr)


def run_all(tools, sizes=SIZES, motions=None, folder=None):
    """{(voxel_mm, motion): {tool: (error mm or message, seconds)}}."""
    folder = Path(folder or tempfile.mkdtemp(prefix="mireg-mni-"))
    folder.mkdir(parents=True, exist_ok=True)
    motions = range(len(scans.MOTIONS)) if motions is None else motions
    warm_up(folder, tools)
    results = {}
    for voxel in sizes:
        for motion in motions:
            pair = scans.mni_pair(voxel, motion)
            paths = pair.write(folder)
            row = {}
            for name in tools:
                start = time.perf_counter()
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        world = scans.TOOLS[name](*paths)
                    row[name] = (world, time.perf_counter() - start)
                except Exception as error:
                    row[name] = (f"error: {' '.join(str(error).split())[:60]}", math.nan)
            # errors after the timed runs (NumPy's threads would share the cores)
            for name, (world, seconds) in row.items():
                if not isinstance(world, str):
                    row[name] = (pair.error(world), seconds)
                print(
                    f"{pair.name} {name}: {row[name][0]} ({seconds:.2f} s)",
                    file=sys.stderr,
                    flush=True,
                )
            results[(voxel, motion)] = row
    return results


def _cell(error, seconds):
    text = error if isinstance(error, str) else f"{error:.4f}"
    return [text, "–" if math.isnan(seconds) else f"{seconds:.2f}"]


def table(results, tools):
    """The Markdown lines: one row a pair, then each size's mean and max
    error and mean time, mireg's error against the best peer's and its time
    against the fastest peer's."""
    lines = []
    header = ["pair"]
    for name in tools:
        header += [f"{name} error (mm)", f"{name} s"]
    peers = [t for t in tools if t != "mireg"]
    if "mireg" in tools and peers:
        header += ["mireg error / best peer's", "mireg time / fastest recovering peer's"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---"] + ["--:"] * (len(header) - 1)) + "|")
    shapes = {voxel: scans.mni_pair(voxel, 0).reference.shape for voxel, _ in results}
    by_size = {}
    for (voxel, motion), row in results.items():
        cells = [f"{voxel} mm {'x'.join(map(str, shapes[voxel]))}, motion {motion}"]
        for name in tools:
            cells += _cell(*row[name])
        cells += _ratios(row, peers) if "mireg" in tools and peers else []
        lines.append("| " + " | ".join(cells) + " |")
        by_size.setdefault(voxel, []).append(row)
    for voxel, rows in by_size.items():
        cells = [f"**{voxel} mm: mean / max error, mean s**"]
        summary = {}
        for name in tools:
            errors = [r[name][0] for r in rows]
            seconds = float(np.mean([r[name][1] for r in rows]))
            if any(isinstance(e, str) for e in errors):
                cells += ["failed on some", "–"]
                summary[name] = (math.inf, seconds)
                continue
            cells += [f"{np.mean(errors):.4f} / {np.max(errors):.4f}", f"{seconds:.2f}"]
            summary[name] = (float(np.max(errors)), seconds)
        cells += _ratios(summary, peers) if "mireg" in tools and peers else []
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _ratios(row, peers):
    """[mireg's error / the best peer's, mireg's time / the fastest peer's
    among those that end within ``RECOVERED_MM``]."""
    errors = {p: row[p][0] for p in peers if not isinstance(row[p][0], str)}
    seconds = {p: row[p][1] for p in errors if errors[p] < RECOVERED_MM}
    mireg_error, mireg_seconds = row["mireg"]
    if not errors or isinstance(mireg_error, str):
        return ["–", "–"]
    best = min(errors, key=errors.get)
    if not seconds:
        return [f"{mireg_error / errors[best]:.2f} ({best})", "none recovered"]
    fastest = min(seconds, key=seconds.get)
    return [
        f"{mireg_error / errors[best]:.2f} ({best})",
        f"{mireg_seconds / seconds[fastest]:.2f} ({fastest})",
    ]


NOTE = (
    "MNI152 2009 T1 (nilearn) -> a T2-like image (non-monotone intensity map) moved by "
    "a known rigid motion (rotations of up to 10 deg, shifts of up to 9 mm) and sampled "
    "on the reference's grid: 2 mm (99x117x95) and 1 mm (197x233x189). Error: mean "
    "distance over the head (every 4th voxel of the 1 mm T1 above 0.05) between the "
    "recovered and the true world maps, mm. One run each, warm (import and first "
    "call on a 4 mm pair first). mireg: register(..., reference_affine=, moving_affine=) "
    "rigid, defaults; itk-elastix: GetDefaultParameterMap('rigid'); ANTs: "
    "ants.registration(type_of_transform='Rigid'); SimpleITK: the tutorial settings of "
    "benchmarks.cases.peers (Mattes MI, 1% random samples, levels 4/2/1). Ratios: mireg's "
    "error over the best peer's on that row (the max errors on "
    "a summary row), mireg's time over the fastest peer's among those ending within 1 mm."
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", nargs="+", default=list(scans.TOOLS), choices=list(scans.TOOLS))
    parser.add_argument("--sizes", nargs="+", type=int, default=list(SIZES), choices=[1, 2])
    parser.add_argument("--motions", nargs="+", type=int, default=None)
    parser.add_argument("--out", help="folder for the NIfTI pairs (default: a temporary one)")
    args = parser.parse_args(argv)
    print(
        f"# MNI152 3-D pairs ({os.cpu_count()} cores, load average "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())} at start, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n"
    )
    results = run_all(args.tools, args.sizes, args.motions, args.out)
    print("\n".join(table(results, args.tools)))
    print(f"\n{NOTE}")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
