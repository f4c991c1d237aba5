"""How ``register`` searches: parameter units, pyramid and search levels,
the global search grid, and Powell on one level.

The machinery of :func:`mireg.register` (``registration.py`` keeps the
public API, validation and the coarse-to-fine loop)::

    parameter_units, default_shrinks, search_shrink   the plan
    level_maker(inputs, ...)        prepare(shrink, cubic) -> _levels.Level
    search_stage -> global_search   a coarse level: search_grid evaluated in
                                    one kernel call (Level.stats_grid), the
                                    best candidates polished by powell()
    powell_stage -> powell          one level: Numba's Powell in one nogil
                                    call (Level.minimize), or scipy's Powell
                                    on Objective (Level.stats) when a level
                                    is large enough for parallel evaluations

Parameters are optimised in scaled units ``x`` about an origin,
``p = origin + x * units``, one unit moving the image by about one pixel.
The Numba kernels driven through ``_levels.Level`` are
``_kernels/cost.py`` and ``_kernels/powell.py``.
"""

from __future__ import annotations

import itertools
import logging
import math
import time

import numba
import numpy as np
from scipy import optimize

from . import transforms as tf
from ._config import COARSE_MAXITER, PARALLEL_MIN_SAMPLES
from ._kernels import cost as _cost
from ._levels import Level, Pyramid
from ._parallel import parallel_chunks

logger = logging.getLogger("mireg")


def parameter_units(ndim, kind, radius, unit_length):
    """World size of one Powell step per parameter: one pixel of motion
    at ``radius`` for rotations, log-scale and an affine's matrix entries,
    one pixel for shifts."""
    n_rot = tf.n_linear(ndim, kind)
    units = [unit_length / radius] * n_rot + [unit_length] * ndim
    if kind == "similarity":
        units.append(unit_length / radius)
    return np.array(units)


def default_shrinks(shape, ndim):
    # the global search's polish works at a coarser level still (about 16 px)
    smallest = 48 if ndim == 2 else 24
    shrinks = [1]
    while min(shape) / (shrinks[-1] * 2) >= smallest and len(shrinks) < 4:
        shrinks.append(shrinks[-1] * 2)
    return shrinks[::-1]


def search_grid(ndim, kind, extent, max_angle, max_shift):
    """Candidate parameter vectors for the coarse global search, one a row:
    every rotation with every shift (the last shift axis varying fastest)."""
    n_rot = 0 if kind == "translation" else tf.n_rotations(ndim)
    if ndim == 2:
        shift_steps = np.linspace(-max_shift, max_shift, 7)
        angles = np.deg2rad(np.arange(-max_angle, max_angle + 1e-9, 6.0))
        rotations = angles.reshape(-1, 1) if n_rot else np.zeros((1, 0))
    else:
        shift_steps = np.linspace(-max_shift, max_shift, 3)
        a = math.radians(min(max_angle, 20.0))
        rotations = (
            np.array(list(itertools.product((-a, 0.0, a), repeat=3)))
            if n_rot
            else np.zeros((1, 0))
        )
    axes = np.meshgrid(*[shift_steps * e for e in extent], indexing="ij")
    shifts = np.stack([g.reshape(-1) for g in axes], axis=1)
    n_r, n_t = len(rotations), len(shifts)
    columns = [np.repeat(rotations, n_t, axis=0), np.tile(shifts, (n_r, 1))]
    if kind == "similarity":
        columns.append(np.zeros((n_r * n_t, 1)))
    return np.concatenate(columns, axis=1)


class Objective:
    """Cost of scaled parameters ``x`` (``p = origin + x * units``) at one
    level, counting evaluations."""

    def __init__(self, level, metric, origin, units):
        self.level, self.metric = level, metric
        self.criterion = level.criterion(metric)
        self.origin = np.asarray(origin, dtype=np.float64)
        self.units = units
        self.nfev = 0
        self.parallel = level.n_samples >= PARALLEL_MIN_SAMPLES
        self.serial_seconds = None  # timed on the first (serial) evaluation

    def parameters(self, x):
        return self.origin + x * self.units

    def value(self, stats):
        """The measure (larger is better), -inf without enough overlap."""
        return _cost.measure(*stats, self.criterion)

    def __call__(self, x):
        self.nfev += 1
        x = np.asarray(x, dtype=np.float64)
        if self.parallel and self.serial_seconds is None:
            start = time.perf_counter()
            stats = self.level.stats(x, self.origin, self.units)
            self.serial_seconds = time.perf_counter() - start
        elif self.parallel:
            # same bits either way; parallel only while it beats serial
            with parallel_chunks(
                self.level.n_samples,
                PARALLEL_MIN_SAMPLES,
                serial_seconds=self.serial_seconds,
                kernel="cost",
            ) as n_chunks:
                stats = self.level.stats(x, self.origin, self.units, n_chunks)
        else:
            stats = self.level.stats(x, self.origin, self.units)
        v = self.value(stats)
        # no overlap is the worst possible value, finite so Powell's
        # bracketing arithmetic stays finite
        return 0.0 if v == -math.inf else -v


def powell(level, metric, origin, units, shrink, maxiter=None):
    """Powell on scaled parameters (one unit = one pixel of motion) from
    ``origin``; returns (parameters, cost, evaluations).  From each row of
    a 2-D ``origin``, returns arrays of those (one kernel call on small
    levels).  ``maxiter`` caps Powell's iterations (None: until ``ftol``).

    Bounds of +-3 pixels of the level around the level's start switch
    Powell to its bounded line search, whose tolerance ``xtol`` is absolute
    in those units: unbounded Brent line searches tighten to 1e-11 near the
    optimum and spend many evaluations per line there.  A later level starts
    from this one's answer, so the bound only limits each step of the
    coarse-to-fine walk.  ``xtol`` grows with the shrink factor: 0.05 pixel
    of the level, whatever its size.

    A level small enough for serial evaluations, or any level when Numba
    has one thread (each ``register_many`` task), runs the whole
    optimisation in one nogil Numba call (``_kernels/powell.py``, scipy's
    algorithm ported: the same points, the same bits); a level large
    enough for evaluations on both cores runs scipy's Powell itself, whose
    per-step Python is small next to those evaluations.
    """
    n = units.size
    # the finest level starts within ~0.1 px: a narrower bracket saves
    # golden-section steps in every line search
    reach = 3.0 * shrink if shrink > 1 else 1.5
    bounds = [(-reach, reach)] * n
    options = {
        "xtol": 0.05 * shrink,
        "ftol": 1e-4,
        "direc": np.eye(n) * min(4.0, shrink),
        "maxfev": 200 * n,
        "maxiter": maxiter,
    }
    # serial evaluations (a small level, or one core: register_many's
    # tasks) run the whole optimisation in Numba, without the GIL
    serial = level.n_samples < PARALLEL_MIN_SAMPLES or numba.get_num_threads() < 2
    if serial and np.ndim(origin) == 2:
        # one run from each row, the rows on both cores
        with parallel_chunks(
            len(origin) * level.n_samples * 100, PARALLEL_MIN_SAMPLES, kernel="polish"
        ) as n_chunks:
            x, cost, nfev = level.minimize(
                origin, units, metric, bounds, **options, n_chunks=min(n_chunks, len(origin))
            )
        return origin + x * units, cost, nfev
    if serial:
        x, cost, nfev = level.minimize(origin, units, metric, bounds, **options)
        return origin + x * units, cost, int(nfev)
    if np.ndim(origin) == 2:
        runs = [powell(level, metric, o, units, shrink, maxiter) for o in origin]
        return (
            np.array([r[0] for r in runs]),
            np.array([r[1] for r in runs]),
            np.array([r[2] for r in runs]),
        )
    objective = Objective(level, metric, origin, units)
    res = optimize.minimize(
        objective, np.zeros(n), method="Powell", bounds=bounds, options=options
    )
    return objective.parameters(res.x), float(res.fun), objective.nfev


def search_shrink(shape, ndim):
    """The coarse grid for the global search: smallest side 16-31 px (10-19
    in 3-D), where a grid of hundreds of candidates costs milliseconds.  In
    3-D the bound is 10 rather than 12: a volume's search grid then has
    half the side (an eighth of the samples) and large random rigid motions
    were still all recovered."""
    smallest = 16 if ndim == 2 else 10
    shrink = 1
    while min(shape) / (shrink * 2) >= smallest:
        shrink *= 2
    return shrink


def global_search(level, kind, metric, extent, origin, units, max_angle, max_shift, keep=2):
    """Global search at a coarse level; returns (best start, evaluations).

    One kernel call evaluates the grid with both NMI (or ``metric``) and
    Pluim's NMI x G.  The ``keep`` best by each go on: G's wide basins catch
    poses whose NMI peak is too narrow for the grid at this scale (a
    periodic pattern such as coins, where NMI alone chooses an alias),
    while NMI is not fooled by edges that are not anatomy (a zero-filled
    border, which pulls G towards aligning frames).  Each candidate is
    polished by Powell on ``metric`` and the best polished one wins.
    """
    grid = search_grid(level.ndim, kind, extent, max_angle, max_shift)
    with parallel_chunks(
        len(grid) * level.n_samples, PARALLEL_MIN_SAMPLES, kernel="search"
    ) as n_chunks:
        # G for the "alignment" ranking, whatever the level computes later
        stats = level.stats_grid(grid / units, origin, units, n_chunks, use_gradient=True)
    picks = []
    for ranking in (metric, "alignment"):
        values = _cost.measures(stats, level.criterion(ranking))
        picks.extend(np.argsort(-values, kind="stable")[:keep].tolist())
    starts = origin + grid[list(dict.fromkeys(picks))]  # unique, in order
    params, costs, evaluations = powell(level, metric, starts, units, level.shrink)
    # the first of the lowest costs, as min() over the candidates in order
    return params[int(np.argmin(costs))], len(grid) + int(np.sum(evaluations))


# ---- the stages of register ------------------------------------------------


def level_maker(inputs, shrinks, center, kind, metric, frames=None):
    """``prepare(shrink, cubic, use_gradient=..., kind=...)``: the ``Level``
    of one shrink factor of ``inputs`` (``register``'s checked inputs:
    images, masks, spacing, sigma, bins, max_samples) placed by ``frames``
    (the images' ``_world.Frame`` pair; None: plain, of ``inputs.spacing``);
    ``use_gradient`` defaults to whether ``metric`` needs G, ``kind`` to
    ``kind``.

    Volumes share each image's pyramid between the levels, its finest
    reduced level computed first so that the coarser ones (the global
    search's too) are resized from it rather than from the full volume.
    Images resize from the full image, which is cheap at 2-D sizes.
    """
    pyramids = None
    if inputs.reference.ndim == 3:
        pyramids = (Pyramid(inputs.reference), Pyramid(inputs.moving))
        reduced = [s for s in shrinks if s > 1]
        if reduced:
            for pyramid in pyramids:
                pyramid(min(reduced))

    def prepare(shrink, cubic, use_gradient=metric == "alignment", kind=kind):
        return Level(
            inputs.reference,
            inputs.moving,
            shrink,
            spacing=inputs.spacing,
            sigma=inputs.sigma,
            bins=inputs.n_bins,
            reference_mask=inputs.reference_mask,
            moving_mask=inputs.moving_mask,
            cubic=cubic,
            max_samples=inputs.max_samples,
            center=center,
            kind=kind,
            use_gradient=use_gradient,
            pyramids=pyramids,
            frames=frames,
        )

    return prepare


def search_stage(prepare, shape, kind, metric, extent, params, units, max_angle, max_shift):
    """The global search on a coarse level: (start parameters, record)."""
    shrink = search_shrink(shape, len(shape))
    t0 = time.perf_counter()
    search_metric = "nmi" if metric == "alignment" else metric
    level = prepare(shrink, cubic=False, use_gradient=False)
    params, n = global_search(
        level, kind, search_metric, extent, params, units, max_angle, max_shift
    )
    record = {
        "shrink": shrink,
        "shape": level.shape,
        "stage": "search",
        "samples": level.n_samples,
        "interpolation": "linear",
        "parameters": params.copy(),
        "metric": float("nan"),
        "evaluations": n,
        "seconds": time.perf_counter() - t0,
    }
    logger.info(
        "global search at 1/%d: %d candidates tried, best %s", shrink, n, np.round(params, 4)
    )
    return params, record


def powell_stage(prepare, shrink, finest, metric, params, units):
    """Powell on the level of ``shrink`` from ``params``: (parameters,
    cost, record); linear interpolation and at most COARSE_MAXITER
    iterations unless ``finest``."""
    t0 = time.perf_counter()
    level = prepare(shrink, cubic=finest)
    # a coarse level only hands a start to the next one: past a few Powell
    # iterations its ftol test chases the roughness of linear interpolation
    maxiter = None if finest else COARSE_MAXITER
    params, value, evaluations = powell(level, metric, params, units, shrink, maxiter)
    if value == 0.0:
        raise ValueError(
            "the transform leaves (almost) no overlap between the images; "
            "check `initial`, `spacing` and that the images show the same scene"
        )
    seconds = time.perf_counter() - t0
    record = {
        "shrink": shrink,
        "shape": level.shape,
        "stage": "powell",
        "samples": level.n_samples,
        "interpolation": "cubic" if finest else "linear",
        "parameters": params.copy(),
        "metric": -value,
        "evaluations": evaluations,
        "seconds": seconds,
    }
    logger.info(
        "level 1/%d %s: parameters %s metric %.6g (%d evaluations, %.3f s)",
        shrink,
        level.shape,
        np.round(params, 4),
        -value,
        evaluations,
        seconds,
    )
    return params, value, record
