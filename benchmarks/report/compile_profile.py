"""Where a first call's compile time goes: CPU seconds per Numba function.

Runs the named calls in this process with Numba's cache pointed at an empty
folder and prints, per compiled function, the CPU seconds spent compiling it
*exclusive* of the functions it calls (each of which is compiled, and
counted, on its own), and how many times it was asked to compile.  A
callee's code is linked into, and optimised again with, every caller, so
deep call chains and big inlined bodies show up here.

    python benchmarks/report/compile_profile.py nmi|alignment|register2d|register3d ...
"""

from __future__ import annotations

import collections
import os
import sys
import tempfile
import time


def main(argv=None):
    steps = (argv if argv is not None else sys.argv[1:]) or ["register2d"]
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="mireg-compile-")
    import numba.core.dispatcher as dispatcher
    import numpy as np

    exclusive, calls, stack = collections.Counter(), collections.Counter(), []
    original = dispatcher.Dispatcher.compile

    def compile_timed(self, sig):
        start = time.process_time()
        stack.append(0.0)
        try:
            return original(self, sig)
        finally:
            elapsed = time.process_time() - start
            children = stack.pop()
            name = f"{self.py_func.__module__.rsplit('.', 1)[-1]}.{self.py_func.__name__}"
            exclusive[name] += elapsed - children
            calls[name] += 1
            if stack:
                stack[-1] += elapsed

    dispatcher.Dispatcher.compile = compile_timed
    import mireg

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:128, :128] / 128.0
    image = np.sin(6 * yy) * np.cos(4 * xx) + 0.5 * (yy > 0.4) + 0.3 * (xx > 0.6)
    moving = np.roll(image, (3, -2), axis=(0, 1)) + 0.01 * rng.standard_normal(image.shape)
    zz, yy, xx = np.mgrid[:40, :44, :36] / 40.0
    volume = np.sin(5 * zz) * np.cos(4 * yy) * np.sin(3 * xx + 0.5) + 0.5 * (zz > 0.5)
    calls_by_step = {
        "nmi": lambda: mireg.normalized_mutual_information(image, moving),
        "alignment": lambda: mireg.alignment(image, moving),
        "register2d": lambda: mireg.register(image, moving),
        "register3d": lambda: mireg.register(volume, np.roll(volume, (2, -1, 1), (0, 1, 2))),
    }
    start = time.process_time()
    for step in steps:
        if step not in calls_by_step:
            raise SystemExit(f"unknown step {step!r}; choose from {sorted(calls_by_step)}")
        calls_by_step[step]()
    total = time.process_time() - start
    print(
        f"{' + '.join(steps)}: {total:.1f} CPU s in all, {sum(exclusive.values()):.1f} compiling"
    )
    print("| function | compile CPU s (exclusive) | compile requests |")
    print("|---|--:|--:|")
    for name, seconds in exclusive.most_common(30):
        print(f"| {name} | {seconds:.2f} | {calls[name]} |")


if __name__ == "__main__":
    main()
