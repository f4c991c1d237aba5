"""Print the Markdown tables of gradient information, alignment and
gradient similarity, mireg against mireg.reference (ratios, ns per pixel),
and of :class:`mireg.AlignmentMetric` calls, for the README and reviews::

    PYTHONPATH=src python benchmarks/report/report_gradient.py

Same sizes, functions and result checks as the pytest-benchmark suite
``benchmarks/pytest/bench_gradient.py`` (:mod:`benchmarks.cases.gradient`).
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import timeit
from pathlib import Path

import numpy as np

if not __package__:  # run as a script: the repository root holds `benchmarks`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import mireg  # noqa: E402
from benchmarks.cases.gradient import (  # noqa: E402
    BINS,
    CASES,
    FUNCTIONS,
    IMPLEMENTATIONS,
    SIGMA,
    check,
    image_pair,
)


def best_seconds(function, repeats=7, sample_seconds=0.05):
    """Minimum seconds per call, timeit-style; the first call is not timed.
    The minimum is the timing least disturbed by other jobs."""
    function()
    timer = timeit.Timer(function)
    one_call = timer.timeit(number=1)
    number = max(1, math.ceil(sample_seconds / one_call))
    repeats = 3 if one_call > 0.1 else repeats
    samples = [one_call * number] if number == 1 else []
    samples += timer.repeat(repeat=repeats - len(samples), number=number)
    return min(samples) / number


def table(function):
    lines = [
        f"| {function} | dtype | mireg ms | reference ms | reference / mireg | mireg ns/pixel |",
        "|---|---|--:|--:|--:|--:|",
    ]
    for size, shape, dtype in CASES:
        image0, image1 = image_pair(shape, dtype)
        seconds = {}
        for name, module in IMPLEMENTATIONS.items():
            run = functools.partial(FUNCTIONS[function], module, image0, image1)
            check(function, run(), shape, dtype)
            seconds[name] = best_seconds(run)
        ns = 1e9 * seconds["mireg"] / np.prod(shape)
        lines.append(
            f"| {size} | {dtype} | {1e3 * seconds['mireg']:.3g} "
            f"| {1e3 * seconds['reference']:.3g} "
            f"| {seconds['reference'] / seconds['mireg']:.1f}x | {ns:.2f} |"
        )
    return lines


def metric_table():
    lines = [
        "| AlignmentMetric call | dtype | ms | alignment() ms | ns/pixel |",
        "|---|---|--:|--:|--:|",
    ]
    for size, shape, dtype in CASES:
        image0, image1 = image_pair(shape, dtype)
        metric = mireg.AlignmentMetric(image0, sigma=SIGMA, bins=BINS)
        check("alignment", metric(image1), shape, dtype)
        seconds = best_seconds(lambda m=metric, b=image1: m(b))
        function = best_seconds(
            lambda a=image0, b=image1: mireg.alignment(a, b, sigma=SIGMA, bins=BINS)
        )
        lines.append(
            f"| {size} | {dtype} | {1e3 * seconds:.3g} | {1e3 * function:.3g} "
            f"| {1e9 * seconds / np.prod(shape):.2f} |"
        )
    return lines


def main(argv=None):
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)
    print(
        f"sigma={SIGMA}, bins={BINS}; minimum over repeats, Numba compilation "
        "excluded; results checked against mireg's to 1e-9\n"
    )
    for function in FUNCTIONS:
        print("\n".join(table(function)) + "\n")
    print("\n".join(metric_table()))


if __name__ == "__main__":
    main()
