"""A process's first calls: :func:`warmup` compiles mireg's kernels ahead
of them (``mireg warmup`` on the command line)."""

from __future__ import annotations

import logging
import time

import numpy as np

from . import _twins

__all__ = ["warmup"]


def _pair(shape):
    """A smooth float64 image and a shifted, slightly different copy."""
    grids = np.meshgrid(*(np.linspace(0.0, 1.0, n) for n in shape), indexing="ij")
    image = np.ones(shape)
    for k, g in enumerate(grids):
        image = image * np.sin((5 + k) * g + 0.3 * k) + 0.5 * (g > 0.45)
    moving = np.roll(image, (2,) + (-1,) * (len(shape) - 1), axis=tuple(range(len(shape))))
    return image, moving**2 + 0.1 * moving


def warmup(*, registration=True, progress=None):
    """Compile mireg's kernels for float64 images now, or load them from
    Numba's on-disk cache if an earlier process compiled them.

    Every kernel compiles on its first call in a process anyway: with an
    empty cache (just installed, or a new version) that costs a few
    seconds on the first ``alignment`` and 10-15 s on the first
    ``register``, then about 15 s more on a later one (docs/performance.md);
    once the cache is filled, a fresh process loads them in well under a
    second.  Call this where every call must be fast (timing loops, a
    service answering requests), or run ``mireg warmup`` once after
    installing to fill the cache.

    Until their kernels have compiled, the first metric calls in a process
    run NumPy twins that return the same bits, and the first registrations
    scipy's Powell on serial evaluations and NumPy twins of the levels'
    kernels (the same bits too; docs/architecture.md); after this they
    never do.

    Parameters
    ----------
    registration : bool, optional
        Also compile :func:`mireg.register` in 2-D (small and large
        images) and 3-D (rigid, the default metric) and
        :meth:`~mireg.RegistrationResult.warp`; False compiles the metrics
        only.
    progress : callable, optional
        Called with one line of text as each step starts.

    Returns
    -------
    seconds : dict
        Seconds per step, in the order run.  Other dtypes than float64,
        and other registration options, compile on their first use.
    """
    if not isinstance(registration, (bool, np.bool_)):
        raise TypeError(f"`registration` must be True or False, got {registration!r}")
    if progress is not None and not callable(progress):
        raise TypeError(
            f"`progress` must be None or a callable taking one line of text, got {progress!r}"
        )
    from . import alignment, joint_histogram, normalized_mutual_information, register

    small, large = _pair((96, 96)), _pair((320, 320))
    steps = {
        # the serial kernels, then (above PARALLEL_MIN_SIZE) the parallel ones
        "metrics": lambda: [
            (normalized_mutual_information(*p), joint_histogram(*p), alignment(*p))
            for p in (small, large)
        ],
    }
    if registration:
        # a small image, then a large one (from 2^18 pixels its levels are
        # resized and B-spline filtered by kernels of their own), and warp
        steps["2-D register"] = lambda: [
            register(*pair).warp(pair[1]) for pair in (_pair((96, 112)), _pair((512, 520)))
        ]
        steps["3-D register"] = lambda: register(*_pair((32, 36, 28)))
    seconds = {}
    logger = logging.getLogger("mireg")
    for name, step in steps.items():
        if progress is not None:
            progress(f"compiling the kernels of {name}")
        # the steps' own progress lines (search, levels) say nothing here
        logger.addFilter(_warnings_only)
        start = time.perf_counter()
        try:
            with _twins.disabled():
                step()
        finally:
            logger.removeFilter(_warnings_only)
        seconds[name] = time.perf_counter() - start
    return seconds


def _warnings_only(record):
    return record.levelno >= logging.WARNING
