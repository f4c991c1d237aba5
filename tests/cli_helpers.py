"""Running the ``mireg`` commands in tests: in this process (their
``main``, fast) or in a process of their own (as a user runs them)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import warnings
from pathlib import Path

import mireg

# The folder holding the mireg this process imported (the tree's src/ for an
# editable install, site-packages for an installed one): a child process
# imports the same files, so it shares their Numba cache (kept beside the
# kernels' sources) instead of compiling every kernel again.
PACKAGE_PARENT = str(Path(mireg.__file__).resolve().parents[1])


def child_env():
    """The environment of a Python process of a test's own: it imports the
    mireg this process imports, draws with Agg, and runs without debug."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_PARENT, env.get("PYTHONPATH")]))
    env["MPLBACKEND"] = "Agg"
    env.pop("MIREG_DEBUG", None)
    return env


def run_in_a_process(module, args, cwd=None):
    """``python -m MODULE ARGS`` in ``child_env()``."""
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=cwd,
        timeout=300,
    )


def run_in_process(main, args, cwd=None):
    """``main(ARGS)`` as ``run_in_a_process`` reports a command: its exit
    status, what it prints, and on stderr the warnings a process would print
    there (pytest would record them instead), without starting Python and
    loading the kernels for each call."""
    out, err = io.StringIO(), io.StringIO()
    debug = os.environ.pop("MIREG_DEBUG", None)
    here = os.getcwd()

    def show(message, category, filename, lineno, file=None, line=None):
        err.write(warnings.formatwarning(message, category, filename, lineno, line))

    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            with warnings.catch_warnings():
                warnings.simplefilter("default")
                warnings.showwarning = show
                try:
                    status = main([str(arg) for arg in args])
                except SystemExit as stop:  # as ``sys.exit(main())`` ends
                    code = stop.code
                    status = code if isinstance(code, int) else int(code is not None)
    finally:
        os.chdir(here)
        if debug is not None:
            os.environ["MIREG_DEBUG"] = debug
    return subprocess.CompletedProcess(list(args), status, out.getvalue(), err.getvalue())
