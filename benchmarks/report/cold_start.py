"""How long mireg's first calls take, with Numba's cache cold and warm.

Each figure is a fresh Python process, import included, timed from before
``import mireg`` to the end of the call.  "Cold" points ``NUMBA_CACHE_DIR``
at an empty folder, as on a machine where mireg was just installed; "warm"
runs again on the cache the cold run filled.

    python benchmarks/report/cold_start.py [--repeats N]

Prints a Markdown table: wall-clock seconds and the process's CPU seconds
(the minimum over ``--repeats`` runs).  Compilation is single-threaded, so
on a quiet machine the two agree; on a shared one the CPU seconds are the
steadier figure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# One child process: imports mireg, runs the named steps in order and prints
# each step's seconds since the start of the process's work as JSON.
CHILD = r"""
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
import mireg
sys.path.insert(0, sys.argv[2])  # the repository, for benchmarks.cases
from benchmarks.cases.first_use import first_calls
calls = first_calls(mireg)
out = {}
for step in sys.argv[1].split(","):
    calls[step]()
    out[step] = (time.perf_counter() - t0, time.process_time() - c0)
print(json.dumps(out))
"""


def run(steps, cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, ",".join(steps), str(ROOT)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure():
    """(wall, CPU) seconds for each figure, one run each (fresh cache folders)."""
    rows = {}
    with tempfile.TemporaryDirectory() as cache:
        rows["first NMI (128x128), cold"] = run(["nmi"], cache)["nmi"]
        rows["first NMI (128x128), warm"] = run(["nmi"], cache)["nmi"]
    with tempfile.TemporaryDirectory() as cache:
        rows["first alignment (128x128), cold"] = run(["alignment"], cache)["alignment"]
    with tempfile.TemporaryDirectory() as cache:
        times = run(["register2d", "register3d"], cache)
        rows["first 2-D register (128x128), cold"] = times["register2d"]
        rows["then first 3-D register (40x44x36), cold"] = tuple(
            a - b for a, b in zip(times["register3d"], times["register2d"])
        )
        warm = run(["register2d"], cache)
        rows["first 2-D register, warm"] = warm["register2d"]
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)
    runs = [measure() for _ in range(args.repeats)]
    print(f"| first call, import included (min of {args.repeats}) | wall s | CPU s |")
    print("|---|--:|--:|")
    for name in runs[0]:
        wall = min(r[name][0] for r in runs)
        cpu = min(r[name][1] for r in runs)
        print(f"| {name} | {wall:.2f} | {cpu:.2f} |")


if __name__ == "__main__":
    main()
