"""Many registrations: serial, a 2-thread pool, and a 2-worker dask cluster.

A script, not a test suite::

    PYTHONPATH=src python benchmarks/report/report_batch.py [--pairs 24] [--size 160]
        [--repeats 5] [--no-dask] [--gil] [--wait-for-quiet]

24 pairs of 160x160 (:mod:`benchmarks.cases.batch`: camera, moon, coins,
astronaut; 6 known rigid motions each, every image one reference object
shared by its 6 pairs) are registered with ``mireg.register_many`` three
ways.  Every way is warmed up
once (Numba caches loaded, dask workers started and importing mireg), then
timed ``--repeats`` times; the table shows the minimum and the median wall
time -- the minimum is the one to compare on a shared machine -- and the
speed-up of the minima over serial.  Every run's parameters are checked
bit for bit against the serial run's.

"serial" is ``register_many(n_jobs=1)``: ``register`` in a loop, free to use
its parallel kernels on large levels; "one core" forces the serial kernels,
as every pool thread and dask task runs them.

``--gil`` adds where the serial time goes: inside the cost kernels (which
release the GIL) against level preparation and the Python around them
(which hold it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

if not __package__:  # run as a script: the repository root holds `benchmarks`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import mireg  # noqa: E402
from benchmarks.cases.batch import make_pairs, mean_error  # noqa: E402
from mireg.batch import register_many  # noqa: E402


def _busy_seconds():
    """CPU seconds used so far by the whole machine and by this process tree
    (dask workers included), or None without /proc/stat or psutil."""
    try:
        import psutil

        with open("/proc/stat") as stream:
            fields = [float(v) for v in stream.readline().split()[1:]]
    except (ImportError, OSError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    machine = (sum(fields) - fields[3] - fields[4]) / ticks  # all but idle, iowait
    me = psutil.Process()
    ours = 0.0
    for process in [me] + me.children(recursive=True):
        try:
            times = process.cpu_times()
            ours += times.user + times.system
        except psutil.Error:
            pass
    return machine, ours


def wait_for_quiet(limit=0.1, longest=60.0):
    """Wait (at most ``longest`` s) until other jobs use under ``limit``
    CPUs over half a second: on a shared machine, time only quiet spells."""
    deadline = time.monotonic() + longest
    while time.monotonic() < deadline:
        before = _busy_seconds()
        if before is None:
            return
        time.sleep(0.5)
        after = _busy_seconds()
        if (after[0] - before[0]) - (after[1] - before[1]) < limit * 0.5:
            return


def time_runs(run, repeats, quiet=False):
    """Warm-up, then ``repeats`` timed runs: (wall seconds, CPUs busy with
    other jobs meanwhile) each, and the last results."""
    results = run()
    samples = []
    for _ in range(repeats):
        if quiet:
            wait_for_quiet()
        before = _busy_seconds()
        start = time.perf_counter()
        results = run()
        wall = time.perf_counter() - start
        after = _busy_seconds()
        others = float("nan")
        if before is not None:
            others = max(0.0, (after[0] - before[0]) - (after[1] - before[1])) / wall
        samples.append((wall, others))
    return samples, results


def serial_one_core(inputs):
    """register_many(n_jobs=1) with Numba's serial kernels only."""
    import numba

    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return register_many(inputs, n_jobs=1)
    finally:
        numba.set_num_threads(previous)


def gil_profile(pairs, repeats):
    """Serial seconds inside the nogil cost kernels vs. everything else."""
    from mireg import _levels

    spent = {"kernels": 0.0, "levels": 0.0}
    originals = {
        name: getattr(_levels.Level, name)
        for name in ("stats", "stats_grid", "minimize", "__init__")
    }

    def timed(function, key):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - start

        return wrapper

    _levels.Level.stats = timed(originals["stats"], "kernels")
    _levels.Level.stats_grid = timed(originals["stats_grid"], "kernels")
    _levels.Level.minimize = timed(originals["minimize"], "kernels")
    _levels.Level.__init__ = timed(originals["__init__"], "levels")
    try:
        best = None
        for _ in range(repeats):
            spent.update(kernels=0.0, levels=0.0)
            start = time.perf_counter()
            results = [mireg.register(r, m) for r, m, _ in pairs]
            total = time.perf_counter() - start
            if best is None or total < best[0]:
                best = (total, dict(spent), sum(r.nfev for r in results))
    finally:
        for name, function in originals.items():
            setattr(_levels.Level, name, function)
    total, spent, nfev = best
    print(f"\nserial, fastest of {repeats}: {total:.3f} s, {nfev} cost evaluations")
    print(
        f"  cost kernels and Numba Powell (GIL released once called): "
        f"{spent['kernels']:.3f} s "
        f"({spent['kernels'] / total:.0%}; includes Numba's argument unboxing, GIL held)"
    )
    print(
        f"  level preparation (resize, gaussian, spline_filter; GIL held): "
        f"{spent['levels']:.3f} s ({spent['levels'] / total:.0%})"
    )
    rest = total - spent["kernels"] - spent["levels"]
    print(
        f"  scipy Powell on large levels / Python around the kernels (GIL held): "
        f"{rest:.3f} s "
        f"({rest / total:.0%})"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=24)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--gil", action="store_true")
    parser.add_argument(
        "--wait-for-quiet",
        action="store_true",
        help="start each timed run when other jobs leave the CPUs idle (up to a minute's wait)",
    )
    args = parser.parse_args(argv)

    pairs = make_pairs(args.pairs, args.size)
    inputs = [(r, m) for r, m, _ in pairs]
    print(
        f"{args.pairs} pairs of {args.size}x{args.size}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f} at start"
    )
    rows = []
    serial, reference = time_runs(
        lambda: register_many(inputs, n_jobs=1), args.repeats, args.wait_for_quiet
    )
    rows.append(("serial (n_jobs=1)", serial))
    one_core, results = time_runs(
        lambda: serial_one_core(inputs), args.repeats, args.wait_for_quiet
    )
    rows.append(("serial, Numba threads 1 (one core)", one_core))
    checks = [results]
    threads, results = time_runs(
        lambda: register_many(inputs, n_jobs=2), args.repeats, args.wait_for_quiet
    )
    rows.append(("threads (n_jobs=2)", threads))
    checks.append(results)
    if not args.no_dask:
        from distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                host="127.0.0.1",
            ) as cluster,
            Client(cluster) as client,
        ):
            seconds, results = time_runs(
                lambda: register_many(inputs, client=client), args.repeats, args.wait_for_quiet
            )
        rows.append(("dask LocalCluster (2 workers x 1 thread)", seconds))
        checks.append(results)
    for results in checks:
        assert all(
            np.array_equal(a.parameters, b.parameters) for a, b in zip(results, reference)
        ), "results differ from serial"
    errors = [
        mean_error(r.matrix, truth, (args.size, args.size))
        for r, (_, _, truth) in zip(reference, pairs)
    ]

    fastest_serial = min(serial)[0]
    print(f"\n| {'mode':42s} | min (s) | median (s) | speed-up (min) | other jobs' CPUs |")
    print(f"|{'-' * 44}|---------|------------|----------------|------------------|")
    for name, samples in rows:
        wall, others = min(samples)
        median = statistics.median(w for w, _ in samples)
        print(
            f"| {name:42s} | {wall:7.3f} | {median:10.3f} "
            f"| {fastest_serial / wall:13.2f}x | {others:16.2f} |"
        )
    print(
        f"\nmin of {args.repeats} runs after a warm-up; results identical to serial "
        f"in every mode; mean error {np.mean(errors):.3f} px (max {max(errors):.3f}).\n"
        "other jobs' CPUs: CPUs busy with other processes during the fastest run "
        "(from /proc/stat); near 0 means the timing is clean."
    )
    if args.gil:
        gil_profile(pairs, args.repeats)


if __name__ == "__main__":
    main()
