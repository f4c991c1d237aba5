"""The Numba port of scipy's bounded Powell visits the same points and
returns the same bits as scipy on the registration cost; the global search
grid gives the same bits on one thread or two."""

import numpy as np
import pytest
from registration_helpers import make_level
from scipy import ndimage as ndi
from scipy import optimize
from skimage import data, transform

from mireg import _optimize as opt


def _level(ndim, shrink, kind, metric, cubic):
    if ndim == 2:
        image = transform.resize(data.camera() / 255.0, (96, 96), anti_aliasing=True)
        moving = 1.0 - transform.rotate(image, 9.0)  # inverted contrast
        spacing = np.ones(2)
    else:
        z, y, x = np.mgrid[-1:1:24j, -1:1:28j, -1:1:20j]
        image = np.exp(-4 * ((x - 0.2) ** 2 + 2 * y**2 + (z + 0.1) ** 2)) + 0.5 * np.exp(
            -9 * ((x + 0.3) ** 2 + (y - 0.3) ** 2 + 3 * z**2)
        )
        moving = ndi.shift(image, (1.0, -0.5, 0.7), order=1) ** 2
        spacing = np.array([2.0, 1.0, 1.5])
    center = (np.array(image.shape, float) - 1) / 2 * spacing
    level = make_level(
        image,
        moving,
        shrink=shrink,
        spacing=spacing,
        bins=24,
        cubic=cubic,
        max_samples=1 << 16,
        center=center,
        kind=kind,
        use_gradient=metric == "alignment",
    )
    radius = float(np.mean(np.array(image.shape) * spacing)) / 2
    units = opt.parameter_units(ndim, kind, radius, float(np.mean(spacing)))
    return level, units


def _scipy_powell(level, metric, origin, units, reach, xtol, maxfev, direc, maxiter=None):
    objective = opt.Objective(level, metric, origin, units)
    objective.parallel = False
    seen = []

    def cost(x):
        seen.append(x.copy())
        return objective(x)

    n = units.size
    res = optimize.minimize(
        cost,
        np.zeros(n),
        method="Powell",
        bounds=[(-reach, reach)] * n,
        options={
            "xtol": xtol,
            "ftol": 1e-4,
            "direc": direc.copy(),
            "maxfev": maxfev,
            "maxiter": maxiter,
        },
    )
    return res, len(seen)


@pytest.mark.parametrize(
    "ndim,shrink,kind,metric,cubic",
    [
        (2, 4, "rigid", "alignment", False),
        (2, 2, "rigid", "nmi", False),
        (2, 1, "rigid", "mi", True),
        (2, 2, "similarity", "alignment", False),
        (2, 1, "translation", "nmi", True),
        (3, 1, "rigid", "alignment", False),
        (3, 2, "translation", "mi", False),
    ],
)
@pytest.mark.parametrize(
    "start,reach,maxfev,maxiter",
    [
        (0.0, 3.0, 600, None),  # the usual bracket
        (0.05, 0.5, 600, None),  # a bracket the optimum lies outside of: ends on a bound
        (0.0, 3.0, 17, None),  # the evaluation budget runs out inside a line search
        (0.0, 3.0, 600, 1),  # one Powell iteration
        (0.0, 3.0, 600, 3),
    ],
)
def test_numba_powell_is_scipys_powell(
    ndim, shrink, kind, metric, cubic, start, reach, maxfev, maxiter
):
    level, units = _level(ndim, shrink, kind, metric, cubic)
    n = units.size
    origin = np.full(n, start)
    direc = np.eye(n) * min(4.0, shrink)
    xtol = 0.05 * shrink
    res, n_scipy = _scipy_powell(level, metric, origin, units, reach, xtol, maxfev, direc, maxiter)
    bounds = [(-reach, reach)] * n
    x, cost, nfev = level.minimize(
        origin, units, metric, bounds, direc, xtol, 1e-4, maxfev, maxiter
    )
    assert nfev == n_scipy == res.nfev
    assert x.tobytes() == np.asarray(res.x, dtype=np.float64).tobytes()
    assert cost == res.fun
    assert cost < 0.0  # a real optimum, not the no-overlap value
    assert np.all(np.abs(x) <= reach)
    assert direc.tobytes() == (np.eye(n) * min(4.0, shrink)).tobytes()  # not modified


def test_powell_stops_where_there_is_no_overlap():
    # every point of the bracket leaves no overlap: the cost is flat at 0.0
    level, units = _level(2, 2, "translation", "nmi", False)
    origin = np.array([500.0, 500.0])
    x, cost, nfev = level.minimize(
        origin, units, "nmi", [(-3.0, 3.0)] * 2, np.eye(2) * 2, 0.1, 1e-4, 400
    )
    assert cost == 0.0
    assert 0 < nfev < 400


@pytest.mark.parametrize("ndim,kind", [(2, "rigid"), (2, "similarity"), (3, "rigid")])
def test_search_grid_same_bits_on_two_threads(ndim, kind):
    level, units = _level(ndim, 2, kind, "alignment", False)
    extent = np.array(level.shape, float) * 2
    grid = np.array(opt.search_grid(ndim, kind, extent, 60.0, 0.2))
    origin = np.zeros(units.size)
    serial = level.stats_grid(grid / units, origin, units)
    assert serial.shape == (len(grid), 5)
    assert np.all(serial[:, 4] >= 0) and np.any(serial[:, 4] > level.min_overlap)
    for n_chunks in (1, 2, 3):
        parallel = level.stats_grid(grid / units, origin, units, n_chunks)
        assert parallel.tobytes() == serial.tobytes()
    # each row is the single evaluation at that point
    for q in (0, len(grid) // 2, len(grid) - 1):
        single = level.stats(grid[q] / units, origin, units)
        assert np.array(single, dtype=np.float64).tobytes() == serial[q].tobytes()


def test_powell_from_several_starts_in_one_call():
    level, units = _level(2, 2, "rigid", "nmi", False)
    starts = np.array([[0.0, 0.0, 0.0], [0.1, 2.0, -1.0], [-0.05, -3.0, 0.5]])
    args = ([(-3.0, 3.0)] * 3, np.eye(3) * 2, 0.1, 1e-4, 600, None)
    xs, costs, nfevs = level.minimize(starts, units, "nmi", *args)
    for q, start in enumerate(starts):
        x, cost, nfev = level.minimize(start, units, "nmi", *args)
        assert xs[q].tobytes() == x.tobytes() and costs[q] == cost and nfevs[q] == nfev
    assert len(set(costs.tolist())) == 3  # three different runs


@pytest.mark.parametrize("ndim", [2, 3])
def test_polish_on_two_threads_same_bits(ndim):
    level, units = _level(ndim, 2, "rigid", "alignment", False)
    n = units.size
    rng = np.random.default_rng(5)
    starts = rng.normal(scale=0.02, size=(3, n))
    args = ([(-3.0, 3.0)] * n, np.eye(n) * 2, 0.1, 1e-4, 100 * n)
    serial = level.minimize(starts, units, "alignment", *args)
    for n_chunks in (1, 2):
        parallel = level.minimize(starts, units, "alignment", *args, n_chunks=n_chunks)
        for a, b in zip(serial, parallel):
            assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
