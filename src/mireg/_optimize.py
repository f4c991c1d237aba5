"""How ``register`` searches: parameter units, pyramid and search levels,
the global search grid, and Powell (or COBYQA) on one level.

The machinery of :func:`mireg.register` (``registration.py`` keeps the
public API, validation and the coarse-to-fine loop)::

    parameter_units, default_shrinks, level_plan, search_shrink   the plan:
                                    shrink factors per axis (axis_factors),
                                    so a strip shrinks along its long axis
    level_maker(inputs, ...)        prepare(shrink, cubic) -> _levels.Level
    search_stage -> global_search   a coarse level: search_grid evaluated in
                                    one kernel call (Level.stats_grid), the
                                    best candidates polished by powell()
    powell_stage -> powell          one level: Numba's Powell in one nogil
                                    call (Level.minimize), or scipy's Powell
                                    on Objective (Level.stats) when a level
                                    is large enough for parallel evaluations;
                 -> trust_region    a volume's finest level refining the
                                    answer of the level above: scipy's
                                    COBYQA on Objective;
                                    on the finest level, the search's
                                    candidates scored against the answer

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
from functools import partial

import numba
import numpy as np
from scipy import optimize

from . import _twins
from . import transforms as tf
from ._config import (
    COARSE_MAXITER,
    COARSE_XTOL,
    FINEST_TRUST_RADIUS,
    FINEST_XTOL,
    PARALLEL_MIN_SAMPLES,
    TRUST_REGION_MIN_SAMPLES,
)
from ._kernels import cost as _cost
from ._kernels import powell as _powell
from ._kernels.modes import ALIGNMENT, MI, SIMILARITY
from ._levels import Level
from ._parallel import parallel_chunks, side_by_side
from ._pyramid import Pyramid, axis_shrinks

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


# The smallest side a level may have along an axis that is shrunk: the
# pyramid's (2-D, 3-D), the global search's, and that of a level a user's
# ``levels`` asks for.  The global search's polish works at a coarser level
# than the pyramid's coarsest still.
PYRAMID_SIDE = {2: 48, 3: 24}
SEARCH_SIDE = {2: 16, 3: 10}
USER_LEVEL_SIDE = 8


def largest_shrink(n, smallest):
    """The largest power of two ``f`` with ``n / f >= smallest`` (at least
    1): how far an axis of ``n`` samples may be shrunk."""
    f = 1
    while n / (f * 2) >= smallest:
        f *= 2
    return f


def axis_factors(shape, shrink, smallest):
    """Shrink factors per axis for a level of nominal factor ``shrink``:
    each axis shrunk by ``shrink`` unless that takes it below ``smallest``
    samples, where it is shrunk less (or not at all).  A square image gets
    ``shrink`` on every axis; a 56 x 540 strip keeps its 56 rows while its
    columns shrink: the level's pixels stay meaningful along every axis
    (ITK's per-dimension shrink factors)."""
    return tuple(min(int(shrink), largest_shrink(n, smallest)) for n in shape)


def default_shrinks(shape, ndim):
    """Nominal shrink factors, coarse to fine: halving while the longest
    side stays at least ``PYRAMID_SIDE`` pixels, at most 4 levels; each
    level's factors per axis are ``axis_factors`` of its nominal one."""
    smallest = PYRAMID_SIDE[ndim]
    shrinks = [1]
    while max(shape) / (shrinks[-1] * 2) >= smallest and len(shrinks) < 4:
        shrinks.append(shrinks[-1] * 2)
    return shrinks[::-1]


def level_plan(shape, shrinks, user_levels):
    """(nominal shrink, factors per axis) of each pyramid level, coarse to
    fine; a level whose factors repeat the previous one's is left out.
    The default plan caps every axis at ``PYRAMID_SIDE`` samples, a user's
    ``levels`` at ``USER_LEVEL_SIDE``."""
    smallest = USER_LEVEL_SIDE if user_levels else PYRAMID_SIDE[len(shape)]
    plan = []
    for shrink in shrinks:
        factors = axis_factors(shape, shrink, smallest)
        if not plan or plan[-1][1] != factors:
            plan.append((shrink, factors))
    return plan


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


# ``cost.measure`` (the measure from one evaluation's statistics, by a
# ``records.Criterion``) run as plain Python: called from Python once per
# evaluation, where the kernel would cost a dispatch and, in a process's
# first registration, a compile; Python floats do the same operations (pow
# is the C library's in both), so the same bits (tests/test_registration.py)
measure = _cost.measure.py_func


def measures(stats, criterion):
    """``measure`` of each row of ``cost.evaluate_grid``'s output (a global
    search's candidates), elementwise."""
    h0, h1, h01, g, overlap = np.asarray(stats, dtype=np.float64).T
    with np.errstate(divide="ignore", invalid="ignore"):
        if criterion.metric == MI:
            values = h0 + h1 - h01
        else:
            values = (h0 + h1) / h01
            if criterion.metric == ALIGNMENT:
                power = criterion.gradient_power
                # math.pow, the C library's pow that the kernel calls (NumPy's
                # power may round differently)
                weight = g if power == 1.0 else np.array([math.pow(x, power) for x in g])
                values = values * weight
    values[(overlap < criterion.min_overlap) | (h01 <= 0.0)] = -np.inf
    return values


class Objective:
    """Cost of scaled parameters ``x`` (``p = origin + x * units``) at one
    level, counting evaluations."""

    def __init__(self, level, metric, origin, units):
        self.level, self.metric = level, metric
        self.criterion = level.criterion(metric)
        self.origin = np.asarray(origin, dtype=np.float64)
        self.units = units
        self.nfev = 0
        parallel = level.n_samples >= PARALLEL_MIN_SAMPLES
        # a process's first registrations: serial, without compiling the
        # parallel kernel (``_twins.register_due``; the same bits)
        self.twin = parallel and _twins.register_due(_cost.evaluate_parallel)
        self.parallel = parallel and not self.twin
        self.serial_seconds = None  # timed on the first (serial) evaluation

    def parameters(self, x):
        return self.origin + x * self.units

    def value(self, stats):
        """The measure (larger is better), -inf without enough overlap."""
        return measure(*stats, self.criterion)

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


def powell(level, metric, origin, units, shrink, maxiter=None, xtol=None):
    """Powell on scaled parameters (one unit = one pixel of motion) from
    ``origin``; returns (parameters, cost, evaluations).  From each row of
    a 2-D ``origin``, returns arrays of those (one kernel call on small
    levels).  ``maxiter`` caps Powell's iterations (None: until ``ftol``).

    Bounds of +-3 pixels of the level around the level's start switch
    Powell to its bounded line search, whose tolerance ``xtol`` is absolute
    in those units: unbounded Brent line searches tighten to 1e-11 near the
    optimum and spend many evaluations per line there.  A later level starts
    from this one's answer, so the bound only limits each step of the
    coarse-to-fine walk.  ``xtol`` (default: ``COARSE_XTOL`` pixel of the
    level, whatever its size) grows with the shrink factor.

    A level small enough for serial evaluations, or any level when Numba
    has one thread (each ``register_many`` task), runs the whole
    optimisation in one nogil Numba call (``_kernels/powell.py``, scipy's
    algorithm ported: the same points, the same bits); a level large
    enough for evaluations on both cores runs scipy's Powell itself, whose
    per-step Python is small next to those evaluations.
    """
    n = units.size
    reach, step = _axis_reach(level, n)
    bounds = [(-r, r) for r in reach]
    options = {
        "xtol": COARSE_XTOL * shrink if xtol is None else xtol,
        "ftol": 1e-4,
        "direc": np.diag(step),
        "maxfev": 200 * n,
        "maxiter": maxiter,
    }
    # a process's first registrations run scipy's Powell (the same points,
    # the same bits) rather than wait for Numba's to compile (_twins)
    twin = _twins.register_due(_powell.minimize_each)
    # serial evaluations (a small level, or one core: register_many's
    # tasks) run the whole optimisation in Numba, without the GIL
    serial = not twin and (level.n_samples < PARALLEL_MIN_SAMPLES or numba.get_num_threads() < 2)
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
        runs = [powell(level, metric, o, units, shrink, maxiter, xtol) for o in origin]
        return (
            np.array([r[0] for r in runs]),
            np.array([r[1] for r in runs]),
            np.array([r[2] for r in runs]),
        )
    objective = Objective(level, metric, origin, units)
    with _twins.charged(twin or objective.twin):
        res = optimize.minimize(
            objective, np.zeros(n), method="Powell", bounds=bounds, options=options
        )
    return objective.parameters(res.x), float(res.fun), objective.nfev


def trust_region(level, metric, origin, units):
    """COBYQA (scipy's derivative-free trust-region method on quadratic
    models) from ``origin``, in the bounds Powell would have; returns
    (parameters, cost, evaluations).

    For a volume's finest level: its windowed histogram makes the cost
    smooth near the answer, where a quadratic model of all six parameters
    at once needs about a quarter of the evaluations of Powell's line
    searches along one direction at a time (whose directions the rotations
    and shifts couple), and each evaluation there costs milliseconds, far
    more than COBYQA's own arithmetic per step.  The radius starts at
    ``FINEST_TRUST_RADIUS`` pixel and ends at ``FINEST_XTOL``.
    """
    n = units.size
    reach, _ = _axis_reach(level, n)
    objective = Objective(level, metric, origin, units)
    with _twins.charged(objective.twin):
        res = optimize.minimize(
            objective,
            np.zeros(n),
            method="COBYQA",
            bounds=[(-r, r) for r in reach],
            options={
                "initial_tr_radius": FINEST_TRUST_RADIUS,
                "final_tr_radius": FINEST_XTOL,
                "maxfev": 200 * n,
            },
        )
    return objective.parameters(res.x), float(res.fun), objective.nfev


def _axis_reach(level, n):
    """Powell's bound and first step per parameter, in pixels of motion:
    +-3 pixels of the level (+-1.5 on the finest level, which starts within
    ~0.1 px: a narrower bracket saves golden-section steps in every line
    search), steps of the level's pixel up to 4.  A shift along an axis
    the level did not shrink (a strip's short axis) moves by that axis's
    pixels, not the level's nominal ones; rotations and scale by the
    nominal (largest) factor."""
    reach = np.full(n, 3.0 * level.shrink if level.shrink > 1 else 1.5)
    step = np.full(n, min(4.0, level.shrink))
    n_rot = n - level.ndim - (1 if level.kind == SIMILARITY else 0)
    for axis, f in enumerate(level.factors):
        if f != level.shrink:
            reach[n_rot + axis] = 3.0 * f if f > 1 else 1.5
            step[n_rot + axis] = min(4.0, f)
    return reach, step


def search_shrink(shape, ndim):
    """The coarse grid for the global search, as (nominal shrink, factors
    per axis): every axis 16-31 px (10-19 in 3-D) where it is that long,
    where a grid of hundreds of candidates costs milliseconds.  In 3-D the
    bound is 10 rather than 12: a volume's search grid then has half the
    side (an eighth of the samples) and large random rigid motions were
    still all recovered.  The nominal factor is that of the shortest
    side, and a longer axis is shrunk further only in proportion to its
    length (``axis_factors``): a near-square image shrinks alike on every
    axis, a strip's long axis shrinks to its own 16-31 px."""
    smallest = SEARCH_SIDE[ndim]
    base = largest_shrink(min(shape), smallest)
    factors = tuple(
        min(largest_shrink(n, smallest), base * largest_shrink(n / min(shape), 1.0)) for n in shape
    )
    return max(factors), factors


def global_search(level, kind, metric, extent, origin, units, max_angle, max_shift, keep=2):
    """Global search at a coarse level; returns (best start, evaluations,
    every polished candidate, their costs).

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
        values = measures(stats, level.criterion(ranking))
        picks.extend(np.argsort(-values, kind="stable")[:keep].tolist())
    starts = origin + grid[list(dict.fromkeys(picks))]  # unique, in order
    params, costs, evaluations = powell(level, metric, starts, units, level.shrink)
    # the first of the lowest costs, as min() over the candidates in order
    best = int(np.argmin(costs))
    # what the finest level checks the answer against: the polished
    # candidates and the start itself (a pose of the grid)
    seen = np.concatenate([params, np.asarray(origin, dtype=np.float64)[None]])
    return params[best], len(grid) + int(np.sum(evaluations)), seen, costs


# ---- the stages of register ------------------------------------------------


def level_maker(inputs, shrinks, center, kind, metric, frames, max_samples):
    """``prepare(shrink, cubic, use_gradient=..., kind=...)``: the ``Level``
    of one shrink factor (or one per axis) of ``inputs`` (``register``'s
    checked inputs: images, masks, spacing, sigma, bins) placed by
    ``frames`` (the images' ``_world.Frame`` pair; None: plain, of
    ``inputs.spacing``); ``use_gradient`` defaults to whether ``metric``
    needs G, ``kind`` to ``kind``; ``max_samples(factors)`` gives a level's
    sample limit (``_inputs.samples_by_level``).

    ``shrinks`` are the pyramid's levels, coarse to fine.  Volumes share
    each image's pyramid between the levels, its finest reduced level
    computed first so that the coarser ones (the global
    search's too) are resized from it rather than from the full volume.
    Images resize from the full image (a cascade would change their
    results), whose value range their pyramid finds once;
    ``_pyramid.downsample`` filters it only where the resize reads, so a
    coarse level costs what its samples do.
    """
    cascade = inputs.reference.ndim == 3
    ranges = inputs.ranges or (None, None)
    pyramids = tuple(
        Pyramid(image, cascade, value_range=value_range)
        for image, value_range in zip((inputs.reference, inputs.moving), ranges)
    )
    if cascade:
        reduced = [f for f in shrinks if max(axis_shrinks(f, 3)) > 1]
        if reduced:
            size = inputs.reference.size + inputs.moving.size
            side_by_side([partial(pyramid, reduced[-1]) for pyramid in pyramids], size)

    def prepare(shrink, cubic, use_gradient=metric == "alignment", kind=kind, gradients=None):
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
            max_samples=max_samples(shrink),
            center=center,
            kind=kind,
            use_gradient=use_gradient,
            pyramids=pyramids,
            frames=frames,
            gradients=gradients,
        )

    return prepare


def search_stage(prepare, shape, kind, metric, extent, params, units, max_angle, max_shift):
    """The global search on a coarse level: (start parameters, record,
    every polished candidate).  The record's "warnings" says if no
    candidate overlapped the reference."""
    shrink, factors = search_shrink(shape, len(shape))
    t0 = time.perf_counter()
    search_metric = "nmi" if metric == "alignment" else metric
    level = prepare(factors, cubic=False, use_gradient=False, gradients=True)
    params, n, candidates, costs = global_search(
        level, kind, search_metric, extent, params, units, max_angle, max_shift
    )
    record = {
        "shrink": shrink,
        "factors": factors,
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
        "global search at %s: %d candidates tried, best %s",
        level_name(factors),
        n,
        np.round(params, 4),
    )
    if not np.any(np.asarray(costs) < 0.0):
        record["warning"] = (
            f"global search at {level_name(factors)}: no candidate within max_angle and max_shift "
            "overlaps the reference by enough samples (or every one scored NaN)"
        )
    return params, record, candidates


def powell_stage(prepare, shrink, finest, metric, params, units, candidates=None, refine=False):
    """Powell on the level of ``shrink`` (one factor, or one per axis) from
    ``params``: (parameters, cost, record); linear interpolation and at
    most COARSE_MAXITER iterations unless ``finest``.  ``refine``: ``params``
    is the answer of the level just above, within a fraction of a pixel of
    this one's; a volume's finest level of ``TRUST_REGION_MIN_SAMPLES``
    samples or more then runs COBYQA (:func:`trust_region`) instead of
    Powell, whose line searches across the level's whole reach a start a
    pixel or more away still needs (a single level, a search candidate).

    ``candidates`` (rows of parameters, on the finest level): poses the
    global search saw.  Each is scored on this level, and the best one
    that scores better than Powell's answer is the record's "restart": a
    coarse level can rank two basins the other way round from the finest
    one (small or thin images), and ``register`` then walks the pyramid
    again from there, so that its answer never scores worse than a pose
    the search saw.  A "restart" is (parameters, cost)."""
    t0 = time.perf_counter()
    level = prepare(shrink, cubic=finest)
    # a coarse level only hands a start to the next one: past a few Powell
    # iterations its ftol test chases the roughness of linear interpolation
    maxiter = None if finest else COARSE_MAXITER
    if finest and refine and level.ndim == 3 and level.n_samples >= TRUST_REGION_MIN_SAMPLES:
        method = "cobyqa"
        params, value, evaluations = trust_region(level, metric, params, units)
    else:
        method = "powell"
        # a windowed level (the finest of NMI or MI: jittered samples, a
        # smooth cost) gives the result: line searches within FINEST_XTOL pixel
        xtol = FINEST_XTOL if level.data.parzen else None
        params, value, evaluations = powell(
            level, metric, params, units, level.shrink, maxiter, xtol
        )
    restart = None
    if candidates is not None and len(candidates):
        restart, more = _better_candidate(level, metric, params, value, candidates, units)
        evaluations += more
    if value == 0.0 and restart is None:
        raise ValueError(
            "the transform leaves (almost) no overlap between the images; "
            "check `initial`, `spacing` and that the images show the same scene"
        )
    seconds = time.perf_counter() - t0
    record = {
        "shrink": level.shrink,
        "factors": level.factors,
        "shape": level.shape,
        "stage": method,
        "samples": level.n_samples,
        "interpolation": "cubic" if finest else "linear",
        "parameters": params.copy(),
        "metric": -value,
        "evaluations": evaluations,
        "seconds": seconds,
    }
    if restart is not None:
        record["restart"] = restart
    if not math.isfinite(value):
        record["warning"] = (
            f"level {level_name(level.factors)}: the measure is {-value} at the level's answer; "
            "the pose is not reliable"
        )
    logger.info(
        "level %s %s: parameters %s metric %.6g (%d evaluations, %.3f s)",
        level_name(level.factors),
        level.shape,
        np.round(params, 4),
        -value,
        evaluations,
        seconds,
    )
    return params, value, record


def level_name(factors):
    """ "1/4" for a level shrunk alike on every axis, "1/(1, 8)" if not."""
    if len(set(factors)) == 1:
        return f"1/{factors[0]}"
    return f"1/({', '.join(str(f) for f in factors)})"


def _better_candidate(level, metric, params, value, candidates, units):
    """((the best of ``candidates`` on ``level``, its cost) if it scores
    better than ``params``'s cost ``value``, else None; evaluations)."""
    origin = np.asarray(params, dtype=np.float64)
    objective = Objective(level, metric, origin, units)
    costs = [objective((np.asarray(c) - origin) / units) for c in candidates]
    best = int(np.argmin(costs))
    if not costs[best] < value:
        return None, objective.nfev
    logger.info(
        "search candidate %s scores %.6g on the finest level, better than %.6g",
        np.round(candidates[best], 4),
        -costs[best],
        -value,
    )
    return (np.array(candidates[best], dtype=np.float64), costs[best]), objective.nfev
