"""Register every benchmark case with mireg, its peers (SimpleITK, dipy,
itk-elastix, ANTs, those installed) and the reference implementation in one
run, and print Markdown tables (for the README and for reviews); then the
MNI152 3-D pairs of ``report_mni.py`` (if nilearn's template is there).

    PYTHONPATH=src python benchmarks/report/report_registration.py [--skip-check]

Cases, peers' settings and the error metric are those of
:mod:`benchmarks.cases.registration` (shared with the pytest-benchmark
suite ``benchmarks/pytest/bench_registration.py`` and the asv suite).  Timings:

* mireg: one warm-up run first (Numba compilation is not timed), then the
  minimum of 3 runs;
* the peers: the minimum of 3 runs when one takes under 5 s, else of 2
  (the minimum drops first-call costs: module loading);
* the reference (``mireg.reference.register``, 2-D cases only): in a
  child process, the minimum of 2 runs when the first takes under 10 s,
  else one run; a run is cut off after 60 s ("skipped (>60 s)").

The minimum is the timing least disturbed by other jobs on the machine.
Before timing, the peers' conversions to mireg's index-order matrix are
checked (``benchmarks.cases.peers.check_conversions``).  Takes ~10-20 minutes
(ANTs and SimpleITK take about a minute each on a 1 mm pair).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np

if not __package__:  # run as a script: the repository root holds `benchmarks`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.cases import registration as rc  # noqa: E402
from benchmarks.cases.peers import PEERS, SITK_SETTINGS, check_conversions  # noqa: E402
from benchmarks.report import report_mni  # noqa: E402

MIREG_REPEATS = 3
PEER_REPEATS, SLOW_PEER_REPEATS, SLOW_PEER_SECONDS = 3, 2, 5.0
REFERENCE_TIMEOUT = 60.0
# a peer's answer counts as a success below the goal bounds
ACCURATE = {2: 0.1, 3: 0.2}


def best_of(function, case, repeats, warmup=False):
    """(error, min seconds, seconds of every timed run) of ``function(case)``;
    every run's error must agree (the runners are deterministic).  Errors
    are computed after the timed runs: their matrix products wake NumPy's
    OpenBLAS threads, which keep spinning for a while and would share the
    cores with the next timed run."""
    if warmup:
        function(case)
    matrices, seconds = [], []
    for i in range(repeats):
        matrix, t = rc.timed(function, case)
        matrices.append(matrix)
        seconds.append(t)
        if i == 0 and not warmup and t > SLOW_PEER_SECONDS:
            repeats = min(repeats, SLOW_PEER_REPEATS)
        if i + 1 >= repeats:
            break
    errors = [case.error(matrix) for matrix in matrices]
    if max(errors) - min(errors) > 1e-6 * max(1.0, max(errors)):
        warnings.warn(
            f"{function.__name__} on {case.name}: errors differ between runs {errors}",
            stacklevel=2,
        )
    return errors[0], min(seconds), seconds


def run_peer(function, case):
    try:
        return best_of(function, case, PEER_REPEATS)
    except RuntimeError as exc:  # e.g. SimpleITK: "All samples map outside ..."
        return f"error: {str(exc).strip().splitlines()[-1][:80]}", math.nan, []


def run_reference(case, timeout=REFERENCE_TIMEOUT):
    """(error, min seconds, runs) of the reference in a child process -- one
    run, two when the first takes under 10 s -- or ("skipped (>60 s)", nan,
    []) when a run takes longer than ``timeout``."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(
        target=rc.reference_worker, args=(child, case.reference, case.moving), daemon=True
    )
    process.start()
    child.close()
    try:
        if not parent.poll(120.0):  # start-up: imports, not timed
            raise RuntimeError("the reference's child process did not start")
        parent.recv()
        for _ in range(2):  # ("run", seconds), then ("done", ...)
            if not parent.poll(timeout):
                process.terminate()
                return f"skipped (>{timeout:.0f} s)", math.nan, []
            message = parent.recv()
            if message[0] != "run":
                break
    finally:
        process.join(10.0)
        if process.is_alive():
            process.kill()
            process.join()
        parent.close()
    if message[0] == "error":
        return f"error: {message[1][:80]}", math.nan, []
    _, matrix, seconds = message
    return case.error(np.asarray(matrix)), min(seconds), seconds


def fmt_error(error, case, bound):
    if isinstance(error, str):
        return error
    mark = "" if error < bound else " ✗"
    return f"{error:.3g} {case.unit}{mark}"


def fmt_seconds(seconds):
    if seconds is None or math.isnan(seconds):
        return "–"
    return f"{seconds:.3f}" if seconds < 1 else f"{seconds:.2f}"


def fmt_ratio(numerator, denominator, label=""):
    if numerator is None or math.isnan(numerator):
        return "–"
    ratio = numerator / denominator
    text = f"{ratio:.0f}x" if ratio >= 10 else f"{ratio:.2f}x"
    return f"{text} ({label})" if label else text


def source_fingerprint():
    """A short hash of mireg's sources, to tell which state was measured."""
    import hashlib
    import pathlib

    import mireg

    root = pathlib.Path(mireg.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def main(argv=()):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--skip-check",
        action="store_true",
        help="do not check the peers' matrix conversions first",
    )
    parser.add_argument(
        "--no-mni", action="store_true", help="leave out the MNI152 3-D pairs (report_mni.py)"
    )
    args = parser.parse_args(list(argv))
    started = time.perf_counter()
    peers = dict(PEERS)
    print(
        f"# mireg registration benchmarks ({os.cpu_count()} cores, load average "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())} at start; mireg sources "
        f"sha256 {source_fingerprint()}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n"
    )
    if "SimpleITK" not in peers:
        print(
            "SimpleITK is not installed: its columns are left out (pip install 'mireg[bench]').\n"
        )
    if "dipy" not in peers:
        print("dipy is not installed: its columns are left out (optional peer).\n")
    if peers and not args.skip_check:
        print(
            "Peer matrix conversions checked (index order, against each peer's own "
            "resampler and on cases it solves):"
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name, value in check_conversions().items():
                print(f"- {name}: {value:.3g}")
        print()

    rows = []
    for name in rc.CASE_NAMES:
        case = rc.get_case(name)
        row = {"case": case}
        row["mireg"] = best_of(rc.run_mireg, case, MIREG_REPEATS, warmup=True)
        print(
            f"[{time.perf_counter() - started:6.1f} s] {name}: mireg "
            f"{row['mireg'][0]:.4g} {case.unit} in {row['mireg'][1]:.3f} s "
            f"(runs {', '.join(f'{t:.3f}' for t in row['mireg'][2])})",
            file=sys.stderr,
            flush=True,
        )
        for peer, function in peers.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                row[peer] = run_peer(function, case)
            print(
                f"[{time.perf_counter() - started:6.1f} s] {name}: {peer} "
                f"{row[peer][0]} in {row[peer][1]:.3f} s",
                file=sys.stderr,
                flush=True,
            )
        if case.ndim == 2:
            row["reference"] = run_reference(case)
            print(
                f"[{time.perf_counter() - started:6.1f} s] {name}: reference "
                f"{row['reference'][0]} in {row['reference'][1]:.3f} s (runs "
                f"{', '.join(f'{t:.2f}' for t in row['reference'][2])})",
                file=sys.stderr,
                flush=True,
            )
        else:
            row["reference"] = ("(2-D only)", math.nan, [])
        rows.append(row)

    methods = ["mireg", *peers, "reference"]
    header = ["case"]
    for method in methods:
        header += [f"{method} error", f"{method} time (s)"]
    header += ["reference / mireg", "fastest peer / mireg", "fastest accurate peer / mireg"]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(["---"] + ["--:"] * (len(header) - 1)) + "|")
    failures = []
    for row in rows:
        case = row["case"]
        accurate = ACCURATE[case.ndim]
        label = case.name + (" (substitute)" if case.substitute else "")
        cells = [label]
        for method in methods:
            error, seconds = row[method][0], row[method][1]
            bound = case.bound if method == "mireg" else accurate
            cells += [fmt_error(error, case, bound), fmt_seconds(seconds)]
        mireg_error, mireg_seconds = row["mireg"][0], row["mireg"][1]
        timed_peers = {p: row[p] for p in peers if not math.isnan(row[p][1])}
        fastest = min(timed_peers, key=lambda p: timed_peers[p][1], default=None)
        good = {
            p: r for p, r in timed_peers.items() if not isinstance(r[0], str) and r[0] < accurate
        }
        fastest_good = min(good, key=lambda p: good[p][1], default=None)
        cells.append(fmt_ratio(row["reference"][1], mireg_seconds))
        cells.append(
            fmt_ratio(timed_peers[fastest][1], mireg_seconds, fastest) if fastest else "–"
        )
        cells.append(
            fmt_ratio(good[fastest_good][1], mireg_seconds, fastest_good)
            if fastest_good
            else "none accurate"
        )
        print("| " + " | ".join(cells) + " |")
        if not mireg_error < case.bound:
            failures.append(
                f"{case.name}: mireg error {mireg_error:.3g} {case.unit} "
                f"above its bound {case.bound} {case.unit}"
            )
        for p in timed_peers:
            if timed_peers[p][1] < mireg_seconds:
                failures.append(
                    f"{case.name}: mireg ({mireg_seconds:.3f} s) slower than "
                    f"{p} ({timed_peers[p][1]:.3f} s, error "
                    f"{fmt_error(timed_peers[p][0], case, accurate)})"
                )

    cfg = SITK_SETTINGS
    notes = [
        "Errors: mean over the reference grid of the distance between the recovered "
        "and the true reference -> moving index maps, px (2-D) or mm (3-D, 2 mm "
        "isotropic voxels). ✗: above mireg's bound (0.05 px on astronaut-rot40, 0.1 px "
        "2-D, 0.2 mm 3-D) for mireg, above the goal (0.1 px, 0.2 mm) for the others.",
        f"Times: mireg min of {MIREG_REPEATS} after a warm-up run; the peers "
        f"min of {PEER_REPEATS} ({SLOW_PEER_REPEATS} when a run takes over "
        f"{SLOW_PEER_SECONDS:.0f} s); the reference min of 2 (one run when it takes over "
        f"10 s), cut off after {REFERENCE_TIMEOUT:.0f} s. "
        '"fastest peer" is over SimpleITK, dipy, itk-elastix and ANTs '
        'whatever their error; "fastest accurate peer" only over those within the goal.',
        "mireg: `mireg.register(reference, moving, spacing=...)` with its defaults "
        "(rigid, alignment metric).",
        f"SimpleITK (tutorial settings): Mattes MI {cfg['bins']} bins, RANDOM sampling "
        f"{cfg['sampling_percentage'][2]:g} (2-D, raised from the tutorial's 0.01 for "
        f"small images) / {cfg['sampling_percentage'][3]:g} (3-D), seed "
        f"{cfg['sampling_seed']}, linear interpolation, gradient descent (learning rate "
        f"{cfg['learning_rate']:g}, {cfg['iterations']} iterations, convergence "
        f"{cfg['convergence_minimum']:g} over a window of {cfg['convergence_window']}), "
        "scales from physical shift, shrink 4/2/1, smoothing 2/1/0 voxels, Euler "
        "transform from CenteredTransformInitializer(GEOMETRY).",
        "dipy (tutorial pipeline): imaffine centres of mass -> translation -> rigid, "
        "MI 32 bins, all samples, factors 4/2/1, sigmas 3/1/0, 10000/1000/100 iterations.",
        "itk-elastix: its default rigid parameter map; ANTs: ants.registration("
        "type_of_transform='Rigid') with its defaults; both on float32 images with the "
        "spacing set, origin 0 (as SimpleITK).",
        "Substitutes (MNI152 cannot be downloaded here): moon-256-t2like stands in for "
        "the MNI152 T1 slice vs T2-like pair, blobs-3d-2mm (a smooth 91x109x91 volume "
        "at 2 mm, the MNI152 2 mm grid) for the MNI152 3-D pair.",
    ]
    print()
    for note in notes:
        print(textwrap.fill(note, width=88))
    if not args.no_mni and report_mni.have_template():
        tools = ["mireg", *(p for p in report_mni.scans.TOOLS if p == "mireg" or p in peers)]
        tools = list(dict.fromkeys(tools))
        print("\n## MNI152 3-D pairs (report_mni.py)\n")
        print("\n".join(report_mni.table(report_mni.run_all(tools), tools)))
        print()
        print(textwrap.fill(report_mni.NOTE, width=88))
    print(f"\nTotal run time {time.perf_counter() - started:.0f} s.")
    if failures:
        print("\nWhere mireg misses the goal (error above its bound, or slower than a peer):")
        for line in failures:
            print(f"- {line}")
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
