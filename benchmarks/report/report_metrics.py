"""Time mireg's NMI against scikit-image, the reference and fast-histogram
in one run and print a Markdown table (for the README and for reviews).

    PYTHONPATH=src python benchmarks/report/report_metrics.py

Same images, implementations and result checks as the pytest-benchmark
suite ``benchmarks/pytest/bench_metrics.py`` (:mod:`benchmarks.cases.metrics`).
Each timing is timeit-style: a warm-up call first (Numba compilation is
not timed), then the minimum over repeats, the least disturbed by other
jobs on the machine.  Takes ~20-30 s.
"""

from __future__ import annotations

import argparse
import math
import sys
import timeit
from pathlib import Path

import numpy as np

if not __package__:  # run as a script: the repository root holds `benchmarks`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.cases.metrics import (  # noqa: E402
    BINS,
    CASES,
    JOINT_HISTOGRAM_IMPLEMENTATIONS,
    NMI_IMPLEMENTATIONS,
    NMI_RTOL,
    check_joint_histogram,
    image_pair,
    mireg_nmi,
)

REPEATS = 5
SLOW_REPEATS = 3  # for calls above SLOW_SECONDS, to keep the run short
SLOW_SECONDS = 0.1
SAMPLE_SECONDS = 0.05  # fast calls are looped to fill a sample this long


def best_seconds(function, *args):
    """Minimum seconds per call; the first (warm-up) call is not timed."""
    function(*args)
    timer = timeit.Timer(lambda: function(*args))
    one_call = timer.timeit(number=1)
    number = max(1, math.ceil(SAMPLE_SECONDS / one_call))
    repeats = SLOW_REPEATS if one_call > SLOW_SECONDS else REPEATS
    samples = [one_call * number] if number == 1 else []
    samples += timer.repeat(repeat=repeats - len(samples), number=number)
    return min(samples) / number


def nmi_seconds(shape, dtype):
    """{implementation: seconds per call}, each result checked first."""
    image0, image1 = image_pair(shape, dtype)
    expected = mireg_nmi(shape, dtype)
    seconds = {}
    for name, nmi in NMI_IMPLEMENTATIONS.items():
        np.testing.assert_allclose(
            nmi(image0, image1, bins=BINS), expected, rtol=NMI_RTOL[name], err_msg=name
        )
        seconds[name] = best_seconds(nmi, image0, image1)
    return seconds


def joint_histogram_seconds(shape, dtype):
    image0, image1 = image_pair(shape, dtype)
    expected = JOINT_HISTOGRAM_IMPLEMENTATIONS["mireg"](image0, image1)
    seconds = {}
    for name, histogram in JOINT_HISTOGRAM_IMPLEMENTATIONS.items():
        check_joint_histogram(name, histogram(image0, image1), expected, image0, image1)
        seconds[name] = best_seconds(histogram, image0, image1)
    return seconds


def read_floor_ns(shape=(2048, 2048)):
    """ns per float64 pixel pair to read both images once (np.sum of each,
    one core): the order of magnitude no histogram can beat."""
    image0, image1 = image_pair(shape, "float64")
    seconds = best_seconds(lambda: (np.sum(image0), np.sum(image1)))
    return 1e9 * seconds / image0.size


def _ms(seconds):
    return f"{1e3 * seconds:.3g}"


def nmi_table():
    lines = [
        "| size | dtype | mireg ms | skimage ms | reference ms | fast_histogram ms "
        "| skimage / mireg | fast_histogram / mireg | mireg ns/pixel |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for size, shape, dtype in CASES:
        t = nmi_seconds(shape, dtype)
        ns_per_pixel = 1e9 * t["mireg"] / np.prod(shape)
        lines.append(
            f"| {size} | {dtype} | {_ms(t['mireg'])} | {_ms(t['skimage'])} "
            f"| {_ms(t['reference'])} | {_ms(t['fast_histogram'])} "
            f"| {t['skimage'] / t['mireg']:.1f}x "
            f"| {t['fast_histogram'] / t['mireg']:.1f}x | {ns_per_pixel:.2f} |"
        )
    return lines


def joint_histogram_table(shape=(512, 512), dtype="float64"):
    t = joint_histogram_seconds(shape, dtype)
    size = "x".join(map(str, shape))
    lines = [f"| joint histogram, {size} {dtype} | ms | / mireg |", "|---|--:|--:|"]
    for name, seconds in t.items():
        lines.append(f"| {name} | {_ms(seconds)} | {seconds / t['mireg']:.1f}x |")
    return lines


def main(argv=None):
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)
    print(
        f"NMI, bins={BINS}, min of {REPEATS} repeats "
        f"({SLOW_REPEATS} above {SLOW_SECONDS * 1e3:.0f} ms per call), "
        "Numba compilation excluded\n"
    )
    print("\n".join(nmi_table()))
    print(
        f"\nMemory-bandwidth floor: ~1 ns per float64 pixel pair on this machine "
        f"(reading both 2048^2 images once with np.sum: {read_floor_ns():.2f} ns "
        "per pair); mireg reads float images twice (range, then binning).\n"
    )
    print("\n".join(joint_histogram_table()))


if __name__ == "__main__":
    main()
