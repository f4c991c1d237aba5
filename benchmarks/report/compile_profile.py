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
from pathlib import Path

if __package__:  # imported as benchmarks.report.compile_profile
    from ..cases.first_use import STEPS, first_calls
else:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from benchmarks.cases.first_use import STEPS, first_calls  # noqa: E402


def main(argv=None):
    steps = (argv if argv is not None else sys.argv[1:]) or ["register2d"]
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="mireg-compile-")
    import numba.core.dispatcher as dispatcher

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

    calls_by_step = first_calls(mireg)
    start = time.process_time()
    for step in steps:
        if step not in STEPS:
            raise SystemExit(f"unknown step {step!r}; choose from {STEPS}")
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
