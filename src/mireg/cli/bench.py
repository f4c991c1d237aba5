"""``mireg bench``: time the metric implementations against each other.

For each image size, NMI, gradient information and their product
(Pluim's alignment measure) are timed in

* ``reference``: :mod:`mireg.reference`, plain NumPy/SciPy (the
  reference implementation);
* ``skimage``: ``skimage.metrics.normalized_mutual_information`` (NMI only:
  scikit-image has no gradient information);
* ``mireg``: the Numba kernels.

Every result is checked against mireg's first (the largest relative
difference is part of the table), then timed timeit-style: one warm-up
call (Numba compilation and caches are not timed), fast calls looped to
fill a sample of ~20 ms, the minimum over repeats -- the timing least
disturbed by other jobs on the machine.

The images are two "modalities" of one scene: scikit-image's camera
resized, and a non-linear, inverted remap of it plus noise (3-D sizes use
a smooth random volume).  ``benchmarks/`` holds the asv and
pytest-benchmark suites and the report scripts, with more cases and peers.
"""

from __future__ import annotations

import math
import time
import timeit

import numpy as np

__all__ = ["run", "image_pair", "parse_size"]

BINS = 100
SIGMA = 1.5
SAMPLE_SECONDS = 0.02
METRICS = ("nmi", "gradient_information", "alignment")
IMPLEMENTATIONS = ("reference", "skimage", "mireg")


def parse_size(text):
    """ "256" -> (256, 256); "64x64x32" -> (64, 64, 32)."""
    try:
        shape = tuple(int(part) for part in str(text).lower().split("x"))
    except ValueError:
        raise ValueError(f"size {text!r} is not N or NxM or NxMxK (integers)") from None
    if len(shape) == 1:
        shape = shape * 2
    if len(shape) not in (2, 3) or min(shape) < 4:
        raise ValueError(f"size {text!r}: need 2 or 3 axes of at least 4 pixels")
    if math.prod(shape) > 1 << 26:
        raise ValueError(f"size {text!r} is too large for a benchmark (over 64 Mpixels)")
    return shape


def image_pair(shape, seed=20240601):
    """Two modalities of one scene, float64, seeded: skimage's camera
    resized (2-D) or a smooth random volume (3-D), values in [0, 1], and an
    inverted, non-linear remap of it plus noise at a tenth of its contrast
    -- related by a many-to-one intensity map, as multimodal pairs are
    (NMI ~1.13-1.15).  The benchmarks' pairs too."""
    from scipy import ndimage as ndi
    from skimage import data, transform

    rng = np.random.default_rng(seed)
    if len(shape) == 2:
        camera = data.camera().astype(np.float64) / 255.0
        image = transform.resize(camera, shape, order=1, anti_aliasing=True)
    else:
        volume = ndi.gaussian_filter(rng.standard_normal(shape), sigma=4.0)
        image = (volume - volume.min()) / (volume.max() - volume.min())
    noise = rng.normal(0.0, 0.1 * image.std(), image.shape)
    return image, np.sqrt(1.0 - image) + 0.5 * image**2 + noise


def _implementations():
    """{metric: {implementation: function(image0, image1)}}"""
    import skimage.metrics

    import mireg

    from .. import reference

    return {
        "nmi": {
            "reference": lambda a, b: reference.normalized_mutual_information(a, b, bins=BINS),
            "skimage": lambda a, b: skimage.metrics.normalized_mutual_information(a, b, bins=BINS),
            "mireg": lambda a, b: mireg.normalized_mutual_information(a, b, bins=BINS),
        },
        "gradient_information": {
            "reference": lambda a, b: reference.gradient_information(a, b, sigma=SIGMA),
            "mireg": lambda a, b: mireg.gradient_information(a, b, sigma=SIGMA),
        },
        "alignment": {
            "reference": lambda a, b: reference.alignment(a, b, sigma=SIGMA, bins=BINS),
            "mireg": lambda a, b: mireg.alignment(a, b, sigma=SIGMA, bins=BINS),
        },
    }


def best_seconds(function, *args, repeats=5):
    """Minimum seconds per call; the first (warm-up) call is not timed."""
    function(*args)
    timer = timeit.Timer(lambda: function(*args))
    one_call = timer.timeit(number=1)
    number = max(1, math.ceil(SAMPLE_SECONDS / max(one_call, 1e-9)))
    samples = [one_call] if number == 1 else []
    samples += [
        s / number for s in timer.repeat(repeat=max(1, repeats - len(samples)), number=number)
    ]
    return min(samples)


def measure(shape, metric, functions, repeats=5, progress=None):
    """{implementation: (seconds, relative difference to mireg)}"""
    image0, image1 = image_pair(shape)
    expected = functions["mireg"](image0, image1)
    out = {}
    for name in IMPLEMENTATIONS:
        if name not in functions:
            continue
        start = time.perf_counter()
        value = functions[name](image0, image1)
        difference = abs(value - expected) / abs(expected) if expected else abs(value)
        seconds = best_seconds(functions[name], image0, image1, repeats=repeats)
        out[name] = (seconds, difference)
        if progress is not None:
            progress(
                f"{metric} {'x'.join(map(str, shape))} {name}: {1e3 * seconds:.3g} ms "
                f"({time.perf_counter() - start:.1f} s)"
            )
    return out


def _ms(seconds):
    return "-" if seconds is None else f"{1e3 * seconds:.3g}"


def _ratio(numerator, denominator):
    return "-" if numerator is None else f"{numerator / denominator:.1f}x"


def table_lines(rows):
    """Markdown table from ``[(metric, shape, {implementation: (s, diff)})]``."""
    lines = [
        "| metric | size | reference ms | skimage ms | mireg ms | reference / mireg "
        "| skimage / mireg | mireg ns/pixel | max rel. diff |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for metric, shape, timings in rows:
        get = {name: timings.get(name, (None, 0.0))[0] for name in IMPLEMENTATIONS}
        fast = get["mireg"]
        diff = max(d for _, d in timings.values())
        lines.append(
            f"| {metric} | {'x'.join(map(str, shape))} | {_ms(get['reference'])} "
            f"| {_ms(get['skimage'])} | {_ms(fast)} | {_ratio(get['reference'], fast)} "
            f"| {_ratio(get['skimage'], fast)} | {1e9 * fast / math.prod(shape):.2f} "
            f"| {diff:.1e} |"
        )
    return lines


def run(sizes=("256", "512"), *, repeats=5, echo=print, progress=None):
    """Time every metric and implementation at each size; print the table.

    Parameters
    ----------
    sizes : sequence of str or tuple
        "N" (N x N), "NxM" or "NxMxK", or shapes.
    repeats : int
        Timing samples per case (the minimum is reported).
    echo : callable
        Receives the table's lines.
    progress : callable, optional
        Receives a line per timed case.

    Returns
    -------
    rows : list of (metric, shape, {implementation: (seconds, rel. diff)})
    """
    shapes = [tuple(s) if isinstance(s, (tuple, list)) else parse_size(s) for s in sizes]
    if repeats < 1:
        raise ValueError(f"`repeats` must be >= 1, got {repeats}")
    from ..first_use import warmup

    # until they have compiled, mireg's first metric calls run NumPy twins,
    # which the timing would then measure
    warmup(registration=False)
    functions = _implementations()
    rows = []
    for shape in shapes:
        for metric in METRICS:
            rows.append(
                (
                    metric,
                    shape,
                    measure(shape, metric, functions[metric], repeats=repeats, progress=progress),
                )
            )
    echo(
        f"Metric implementations, float64 images, bins={BINS}, sigma={SIGMA}; "
        f"min of {repeats} repeats after a warm-up call (Numba compilation not timed); "
        f"ratios > 1x: mireg is faster.\n"
    )
    for line in table_lines(rows):
        echo(line)
    return rows
