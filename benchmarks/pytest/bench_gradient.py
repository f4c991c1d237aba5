"""pytest-benchmark suite: mireg's gradient information, alignment and
gradient similarity against mireg.reference, one group per function, size
and dtype (so the ratio reads off each group's table).

Run with::

    PYTHONPATH=src python -m pytest benchmarks/bench_gradient.py --benchmark-enable -q

(pyproject's ``addopts`` disables benchmarks by default), or print the
Markdown tables of the README (mireg vs reference, ratios, ns per pixel)::

    PYTHONPATH=src python benchmarks/bench_gradient.py

Every benchmark checks its result against mireg's, so none can silently
time broken code.  Images are those of ``bench_metrics.py``: two
'modalities' of skimage's camera (2-D) or of a smooth random volume (3-D).
"""
from __future__ import annotations

import functools
import math
import timeit

import numpy as np
import pytest

import mireg
import mireg.reference

if __package__:  # pytest, asv
    from .bench_metrics import image_pair
else:  # run as a script: benchmarks/ is sys.path[0]
    from bench_metrics import image_pair

SIGMA = 1.5
BINS = 100

CASES = [
    ("256^2", (256, 256), "float64"),
    ("256^2", (256, 256), "float32"),
    ("512^2", (512, 512), "float64"),
    ("512^2", (512, 512), "float32"),
    ("2048^2", (2048, 2048), "float64"),
    ("2048^2", (2048, 2048), "float32"),
    ("128^3", (128, 128, 128), "float64"),
    ("128^3", (128, 128, 128), "float32"),
]

FUNCTIONS = {
    "gradient_information": lambda module, a, b: module.gradient_information(a, b, sigma=SIGMA),
    "alignment": lambda module, a, b: module.alignment(a, b, sigma=SIGMA, bins=BINS),
    "gradient_similarity": lambda module, a, b: module.gradient_similarity(a, b, sigma=SIGMA),
}
IMPLEMENTATIONS = {"mireg": mireg, "reference": mireg.reference}
RTOL = 1e-9
# The reference is skipped where one call takes longer than this.
REFERENCE_LIMIT_SECONDS = 10.0


@functools.lru_cache(maxsize=None)
def mireg_result(function, shape, dtype):
    """mireg's result for the pair; the first call also compiles the kernels."""
    return FUNCTIONS[function](mireg, *image_pair(shape, dtype))


def check(function, result, shape, dtype):
    np.testing.assert_allclose(result, mireg_result(function, shape, dtype), rtol=RTOL,
                               atol=0, err_msg=function)


@pytest.mark.parametrize("implementation", list(IMPLEMENTATIONS))
@pytest.mark.parametrize(("size", "shape", "dtype"), CASES,
                         ids=[f"{size}-{dtype}" for size, _, dtype in CASES])
@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_gradient(benchmark, function, size, shape, dtype, implementation):
    image0, image1 = image_pair(shape, dtype)
    mireg_result(function, shape, dtype)  # warm-up: compile outside the timing
    module = IMPLEMENTATIONS[implementation]
    run = functools.partial(FUNCTIONS[function], module, image0, image1)
    benchmark.group = f"{function}-{size}-{dtype}"
    benchmark.extra_info["pixels"] = int(np.prod(shape))
    if implementation == "reference":
        start = timeit.default_timer()
        result = run()
        seconds = timeit.default_timer() - start
        if seconds > REFERENCE_LIMIT_SECONDS:
            pytest.skip(f"the reference takes {seconds:.0f} s a call here")
        check(function, result, shape, dtype)
        result = benchmark.pedantic(run, rounds=3 if seconds > 0.1 else 10, iterations=1)
    else:
        result = benchmark(run)
    check(function, result, shape, dtype)


@pytest.mark.parametrize(("size", "shape", "dtype"),
                         [c for c in CASES if c[2] == "float64"],
                         ids=[f"{s}-{d}" for s, _, d in CASES if d == "float64"])
def test_alignment_metric(benchmark, size, shape, dtype):
    """One evaluation of a registration's cost: the reference's work done once."""
    image0, image1 = image_pair(shape, dtype)
    metric = mireg.AlignmentMetric(image0, sigma=SIGMA, bins=BINS)
    metric(image1)
    benchmark.group = f"alignment-{size}-{dtype}"
    result = benchmark(metric, image1)
    check("alignment", result, shape, dtype)


# ------------------------------------------------------------ the report


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
    lines = [f"| {function} | dtype | mireg ms | reference ms | reference / mireg "
             "| mireg ns/pixel |",
             "|---|---|--:|--:|--:|--:|"]
    for size, shape, dtype in CASES:
        image0, image1 = image_pair(shape, dtype)
        seconds = {}
        for name, module in IMPLEMENTATIONS.items():
            run = functools.partial(FUNCTIONS[function], module, image0, image1)
            check(function, run(), shape, dtype)
            seconds[name] = best_seconds(run)
        ns = 1e9 * seconds["mireg"] / np.prod(shape)
        lines.append(f"| {size} | {dtype} | {1e3 * seconds['mireg']:.3g} "
                     f"| {1e3 * seconds['reference']:.3g} "
                     f"| {seconds['reference'] / seconds['mireg']:.1f}x | {ns:.2f} |")
    return lines


def metric_table():
    lines = ["| AlignmentMetric call | dtype | ms | alignment() ms | ns/pixel |",
             "|---|---|--:|--:|--:|"]
    for size, shape, dtype in CASES:
        image0, image1 = image_pair(shape, dtype)
        metric = mireg.AlignmentMetric(image0, sigma=SIGMA, bins=BINS)
        check("alignment", metric(image1), shape, dtype)
        seconds = best_seconds(lambda: metric(image1))
        function = best_seconds(lambda: mireg.alignment(image0, image1, sigma=SIGMA, bins=BINS))
        lines.append(f"| {size} | {dtype} | {1e3 * seconds:.3g} | {1e3 * function:.3g} "
                     f"| {1e9 * seconds / np.prod(shape):.2f} |")
    return lines


def main():
    print(f"sigma={SIGMA}, bins={BINS}; minimum over repeats, Numba compilation "
          "excluded; results checked against mireg's to 1e-9\n")
    for function in FUNCTIONS:
        print("\n".join(table(function)) + "\n")
    print("\n".join(metric_table()))


if __name__ == "__main__":
    main()
