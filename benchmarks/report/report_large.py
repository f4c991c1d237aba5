"""How ``mireg.register``'s rigid time grows with the image: the same scene
at 512 x 512 and 2048 x 2048 (or ``--sizes``), one run per source tree.

    PYTHONPATH=src python benchmarks/report/report_large.py [--before OLD_SRC]
        [--sizes 512,2048] [--rounds 3] [--repeats 3]

The scene is the camera-512-multimodal case of
:mod:`benchmarks.cases.registration` at every size: the camera image
resized to ``n x n``, rotated by 20 degrees and shifted by (15, -22) px
scaled by ``n / 512`` (the same motion in the image's own frame), the moving
image remapped by ``sqrt(1 - x) + x^2 / 2``.  The error is the mean
displacement error over the reference grid, in px of that size and in px of
the 512 grid (``x 512 / n``: the same content, so the same scale).

Each tree (the ``src`` folder that ``PYTHONPATH`` gives, and ``--before``'s
if given) runs in child processes, ``--rounds`` times, the trees
interleaved (round 1 before, after; round 2 before, after; ...).  A child
registers each size once untimed (Numba's compilation, caches), then
``--repeats`` times; a size's time is the minimum over every run of every
round (the machine may be shared: the minimum is the run least disturbed).
"prep" is the part of that run spent building the pyramid levels
(``_levels.Level``: downsampling, smoothing, gradients, B-spline
coefficients, the sample table), the rest is the search and Powell's cost
evaluations.  The ratio column is each size's time over 512^2's (the
smallest size's if 512 is not run), per tree: issue 15's target is 2048^2
within 3x the time of 512^2.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# One child process: registers each size (argv[1]) argv[2] times after one
# untimed run and prints {size: [[seconds, prep seconds, error px], ...]}.
CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[3])  # the repository, for benchmarks
import numpy as np
import mireg
from mireg import _levels
from benchmarks.report.report_large import scene
from benchmarks.cases import registration as rc

prep = [0.0]
init = _levels.Level.__init__
def timed_init(self, *args, **kwargs):
    t = time.perf_counter()
    init(self, *args, **kwargs)
    prep[0] += time.perf_counter() - t
_levels.Level.__init__ = timed_init

out = {}
for size in [int(s) for s in sys.argv[1].split(",")]:
    reference, moving, truth = scene(size)
    mireg.register(reference, moving)
    runs = []
    for _ in range(int(sys.argv[2])):
        prep[0] = 0.0
        t = time.perf_counter()
        result = mireg.register(reference, moving)
        seconds = time.perf_counter() - t
        runs.append([seconds, prep[0], rc.mean_error(result.matrix, truth, reference.shape)])
    out[size] = runs
print(json.dumps(out))
"""


def scene(size):
    """(reference, moving, index-order truth) of the camera scene at
    ``size`` x ``size``: camera-512-multimodal's motion and remap, the shift
    scaled with the image."""
    import numpy as np
    from skimage import data

    from benchmarks.cases import registration as rc

    reference = rc.resized(data.camera(), size)
    scale = size / 512
    truth, _ = rc.rigid_truth(reference.shape, 20.0, (15.0 * scale, -22.0 * scale))
    moved = np.clip(rc.make_moving(reference, truth), 0.0, 1.0)
    return reference, np.sqrt(1.0 - moved) + 0.5 * moved**2, truth


def run_tree(src, sizes, repeats):
    """{size: [[seconds, prep, error], ...]} of one child on the tree ``src``."""
    env = dict(os.environ, PYTHONPATH=str(src))
    done = subprocess.run(
        [sys.executable, "-c", CHILD, ",".join(map(str, sizes)), str(repeats), str(ROOT)],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(f"the child on {src} failed:\n{done.stderr}")
    return {int(k): v for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", help="another tree's src folder, timed interleaved")
    parser.add_argument("--sizes", default="512,2048")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    here = os.environ.get("PYTHONPATH", str(ROOT / "src")).split(os.pathsep)[0]
    trees = ([("before", args.before)] if args.before else []) + [("after", here)]
    runs = {name: {size: [] for size in sizes} for name, _ in trees}
    for _ in range(args.rounds):
        for name, src in trees:
            for size, values in run_tree(src, sizes, args.repeats).items():
                runs[name][size].extend(values)
    n = args.rounds * args.repeats
    print(f"rigid register, camera scene; min of {n} runs ({args.rounds} rounds interleaved)")
    print()
    unit = 512 if 512 in sizes else sizes[0]
    columns = "seconds (min) | range | prep s | error px | error, 512 px"
    print(f"| tree | size | {columns} | vs {unit}^2 |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    for name, _ in trees:
        base = min(r[0] for r in runs[name][unit])
        for size in sizes:
            values = runs[name][size]
            best = min(values, key=lambda r: r[0])
            times = [r[0] for r in values]
            print(
                f"| {name} | {size}^2 | {best[0]:.3f} | {min(times):.2f}-{max(times):.2f} "
                f"| {best[1]:.3f} | {best[2]:.4f} | {best[2] * 512 / size:.4f} "
                f"| {best[0] / base:.1f}x |"
            )
    if args.before:
        print()
        for size in sizes:
            old = min(r[0] for r in runs["before"][size])
            new = min(r[0] for r in runs["after"][size])
            print(f"- {size}^2: after / before = {new / old:.2f} ({old:.3f} -> {new:.3f} s)")


if __name__ == "__main__":
    main()
