"""Powell's method with bounded line searches, on the registration cost.

A port of ``scipy.optimize.minimize(method="Powell", bounds=...)`` (scipy
1.17: ``_minimize_powell``, ``_linesearch_powell``, ``_line_for_search``,
``_minimize_scalar_bounded``), step for step and operation for operation,
so that it visits the same points and returns the same bits as scipy does
on the same objective (tested).  The whole optimisation of one pyramid
level is one call with the GIL released: between evaluations there is no
Python, so threads running registrations side by side do not queue for the
interpreter (scipy's loop holds it between evaluations, a large share
of the time under ``register_many``).

The objective is ``cost.objective_at(x, criterion, transform, level)``, its
three records (see ``records.py``) passed through unchanged; the options
come as one ``records.PowellOptions``.  Finite bounds on every parameter
and a start inside them are the only case ``register`` uses, so only
scipy's bounded branch is ported.
"""

import math

import numpy as np
from numba import njit

from .cost import objective_at
from .jit import CALLEE
from .records import Transform

_SQRT_EPS = math.sqrt(2.2e-16)
_GOLDEN_MEAN = 0.5 * (3.0 - math.sqrt(5.0))


# Vector steps as loops, not array expressions: each of those compiles
# NumPy's broadcasting with its error messages on a first call.  The same
# operations on each element, so the same bits.


@njit(cache=True, nogil=True, inline="always")
def _scaled(a, v):
    out = np.empty_like(v)
    for i in range(v.size):
        out[i] = a * v[i]
    return out


@njit(cache=True, nogil=True, inline="always")
def _plus(u, v):
    out = np.empty_like(u)
    for i in range(u.size):
        out[i] = u[i] + v[i]
    return out


@njit(cache=True, nogil=True, inline="always")
def _minus(u, v):
    out = np.empty_like(u)
    for i in range(u.size):
        out[i] = u[i] - v[i]
    return out


@njit(cache=True, nogil=True, inline="always")
def _any_nonzero(v):
    for i in range(v.size):
        if v[i] != 0.0:
            return True
    return False


@njit(cache=True, nogil=True, **CALLEE)
def _evaluate(x, count, maxfev, criterion, transform, level):
    """One counted evaluation; (value, False) once ``maxfev`` are spent
    (scipy raises ``_MaxFuncCallError`` there and keeps its last point)."""
    if count[0] >= maxfev:
        return 0.0, False
    count[0] += 1
    return objective_at(x, criterion, transform, level), True


@njit(cache=True, nogil=True, **CALLEE)
def _line_for_search(x0, alpha, lower, upper):
    """Range of ``l`` with ``lower <= x0 + l alpha <= upper``; (0, 0) if none."""
    lmin = -np.inf
    lmax = np.inf
    for i in range(x0.size):
        if alpha[i] == 0.0:
            continue
        low = (lower[i] - x0[i]) / alpha[i]
        high = (upper[i] - x0[i]) / alpha[i]
        if alpha[i] > 0.0:
            lmin = max(lmin, low)
            lmax = min(lmax, high)
        else:
            lmin = max(lmin, high)
            lmax = min(lmax, low)
    if lmax >= lmin:
        return lmin, lmax
    return 0.0, 0.0


@njit(cache=True, nogil=True, **CALLEE)
def _sign(v):
    # np.sign(v) + (v == 0), as scipy writes it
    if v > 0.0:
        return 1.0
    if v < 0.0:
        return -1.0
    return 1.0


@njit(cache=True, nogil=True, **CALLEE)
def _fminbound(p, xi, x1, x2, xatol, count, maxfev, criterion, transform, level):
    """Brent's bounded minimisation of ``f(p + a xi)`` over ``[x1, x2]``
    (scipy's ``_minimize_scalar_bounded`` with its default maxiter 500).
    Returns (a, f(a), completed)."""
    point = np.empty_like(p)
    maxfun = 500
    a, b = x1, x2
    fulc = a + _GOLDEN_MEAN * (b - a)
    nfc, xf = fulc, fulc
    rat = e = 0.0
    x = xf
    for i in range(p.size):
        point[i] = p[i] + x * xi[i]
    fx, ok = _evaluate(point, count, maxfev, criterion, transform, level)
    if not ok:
        return 0.0, 0.0, False
    num = 1
    ffulc = fnfc = fx
    xm = 0.5 * (a + b)
    tol1 = _SQRT_EPS * abs(xf) + xatol / 3.0
    tol2 = 2.0 * tol1
    while abs(xf - xm) > (tol2 - 0.5 * (b - a)):
        golden = True
        if abs(e) > tol1:
            golden = False
            r = (xf - nfc) * (fx - ffulc)
            q = (xf - fulc) * (fx - fnfc)
            pp = (xf - fulc) * q - (xf - nfc) * r
            q = 2.0 * (q - r)
            if q > 0.0:
                pp = -pp
            q = abs(q)
            r = e
            e = rat
            if (abs(pp) < abs(0.5 * q * r)) and (pp > q * (a - xf)) and (pp < q * (b - xf)):
                rat = (pp + 0.0) / q
                x = xf + rat
                if ((x - a) < tol2) or ((b - x) < tol2):
                    rat = tol1 * _sign(xm - xf)
            else:
                golden = True
        if golden:
            if xf >= xm:
                e = a - xf
            else:
                e = b - xf
            rat = _GOLDEN_MEAN * e
        x = xf + _sign(rat) * max(abs(rat), tol1)
        for i in range(p.size):
            point[i] = p[i] + x * xi[i]
        fu, ok = _evaluate(point, count, maxfev, criterion, transform, level)
        if not ok:
            return 0.0, 0.0, False
        num += 1
        if fu <= fx:
            if x >= xf:
                a = xf
            else:
                b = xf
            fulc, ffulc = nfc, fnfc
            nfc, fnfc = xf, fx
            xf, fx = x, fu
        else:
            if x < xf:
                a = x
            else:
                b = x
            if (fu <= fnfc) or (nfc == xf):
                fulc, ffulc = nfc, fnfc
                nfc, fnfc = x, fu
            elif (fu <= ffulc) or (fulc == xf) or (fulc == nfc):
                fulc, ffulc = x, fu
        xm = 0.5 * (a + b)
        tol1 = _SQRT_EPS * abs(xf) + xatol / 3.0
        tol2 = 2.0 * tol1
        if num >= maxfun:
            break
    return xf, fx, True


@njit(cache=True, nogil=True, **CALLEE)
def _linesearch(p, xi, fval, options, count, criterion, transform, level):
    """scipy's bounded ``_linesearch_powell`` with its tolerance
    ``100 xtol``: (f, new point, step, completed)."""
    if not _any_nonzero(xi):
        return fval, p.copy(), xi.copy(), True
    tol = options.xtol * 100.0
    lmin, lmax = _line_for_search(p, xi, options.lower, options.upper)
    alpha, f, ok = _fminbound(
        p, xi, lmin, lmax, tol / 100.0, count, options.maxfev, criterion, transform, level
    )
    step = _scaled(alpha, xi)
    return f, _plus(p, step), step, ok


@njit(cache=True, nogil=True, **CALLEE)
def minimize(x0, options, criterion, transform, level):
    """scipy's bounded Powell from ``x0`` (inside the bounds).

    Parameters
    ----------
    x0 : ndarray of float64, shape (n,)
        Start, in scaled units about ``transform.origin``.
    options : records.PowellOptions
        Bounds, initial directions (copied), tolerances and budgets;
        ``maxiter`` counts Powell iterations (one line search along every
        direction), as scipy's option does.
    criterion, transform, level : records.Criterion, records.Transform, records.LevelData
        The arguments of ``cost.objective_at`` after ``x``.

    Returns
    -------
    (x, f, nfev)
        The minimiser (scaled units), the cost there and the number of
        cost evaluations.
    """
    n = x0.size
    direc = options.direc.copy()
    count = np.zeros(1, np.int64)
    x = x0.copy()
    fval, ok = _evaluate(x, count, options.maxfev, criterion, transform, level)
    if not ok:
        return x, fval, count[0]
    x1 = x.copy()
    iteration = 0
    while True:
        fx = fval
        bigind = 0
        delta = 0.0
        stopped = False
        for i in range(n):
            fx2 = fval
            f, xn, _, ok = _linesearch(
                x, direc[i], fval, options, count, criterion, transform, level
            )
            if not ok:
                stopped = True
                break
            fval, x = f, xn
            if (fx2 - fval) > delta:
                delta = fx2 - fval
                bigind = i
        if stopped:
            break
        iteration += 1
        bnd = options.ftol * (abs(fx) + abs(fval)) + 1e-20
        if 2.0 * (fx - fval) <= bnd:
            break
        if count[0] >= options.maxfev:
            break
        if iteration >= options.maxiter:
            break
        if np.isnan(fx) and np.isnan(fval):
            break
        direc1 = _minus(x, x1)
        x1 = x.copy()
        _, lmax = _line_for_search(x, direc1, options.lower, options.upper)
        x2 = _plus(x, _scaled(min(lmax, 1.0), direc1))
        fx2, ok = _evaluate(x2, count, options.maxfev, criterion, transform, level)
        if not ok:
            break
        if fx > fx2:
            t = 2.0 * (fx + fx2 - 2.0 * fval)
            temp = fx - fval - delta
            t *= temp * temp
            temp = fx - fx2
            t -= delta * temp * temp
            if t < 0.0:
                f, xn, step, ok = _linesearch(
                    x, direc1, fval, options, count, criterion, transform, level
                )
                if not ok:
                    break
                fval, x = f, xn
                if _any_nonzero(step):
                    for i in range(n):
                        direc[bigind, i] = direc[n - 1, i]
                        direc[n - 1, i] = step[i]
    return x, fval, count[0]


@njit(cache=True, nogil=True)
def minimize_each(origins, options, criterion, transform, level):
    """``minimize`` from each row of ``origins`` (each replaces
    ``transform.origin``; ``x`` starts at 0), in one call: the global
    search's candidates polished with no Python between them, and a single
    start as a one-row ``origins`` (one compiled entry point, not two).
    Returns (x, f, nfev) arrays, ``x`` in scaled units about each row's
    origin."""
    m, n = origins.shape
    xs = np.empty((m, n))
    fs = np.empty(m)
    nfevs = np.empty(m, np.int64)
    for q in range(m):
        start = Transform(
            origins[q].copy(),
            transform.units,
            transform.kind,
            transform.ndim,
            transform.center,
            transform.ref_grid,
            transform.mov_inverse,
        )
        x, fs[q], nfevs[q] = minimize(np.zeros(n), options, criterion, start, level)
        for i in range(n):
            xs[q, i] = x[i]
    return xs, fs, nfevs
