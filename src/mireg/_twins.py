"""NumPy twins of the metric kernels: a process's first metric calls
answered without waiting for Numba.

A kernel's first call in a process compiles it (seconds with a cold cache,
docs/performance.md) or loads it from Numba's cache.  A drop-in metric
whose first call takes seconds looks slower than the function it replaces
(scikit-image's NMI answers in milliseconds).  So while a kernel has not
run in this process, small inputs (up to ``TWIN_MAX_SIZE`` values) go to
its twin here instead (``_parallel.run_kernel(..., twin=)``, and
``kernel_or_twin`` for the entropies): NumPy code doing
every floating-point operation the kernel does, in the kernel's order,
hence the same bits (tests/test_twins.py compares them on many inputs).
Once the twins have spent ``TWIN_BUDGET_SECONDS`` in the process, the next
call compiles (or loads) the kernel, which serves every call after it.
:func:`mireg.warmup` compiles ahead instead.

Twins exist for the kernels of ``mireg.normalized_mutual_information``,
``mutual_information``, ``joint_histogram`` and ``AlignmentMetric``'s
entropies: the value ranges, the joint histogram and the entropies.

A registration has a twin of its own, in ``_optimize``: until Numba's
Powell (``_kernels.powell.minimize_each``) and the parallel cost kernel
(``_kernels.cost.evaluate_parallel``) have been compiled or loaded in the
process, and for ``REGISTER_TWIN_BUDGET_SECONDS`` of registration, levels
run scipy's Powell (whose algorithm the Numba one ports: the same points)
on serial evaluations through ``evaluate_grid``, which the global search
compiles anyway; a registration of up to ``TWIN_MAX_SIZE`` values that
starts within that budget stays on the twin to its end (``registration``).
Serial and parallel evaluations give the same bits (fixed G sub-chunks,
integer counts), so the registration's result is the same either way
(tests/test_twins.py).

A registration's levels have twins too, for the same budget and inputs
of up to ``TWIN_MAX_SIZE`` values: the pyramid's Gaussian at picked
samples (``_kernels.gaussian.smooth_picked``), the moving gradient stack
and the reference's sample table (``_kernels.samples``).

Why the bits agree:

* ranges: minimum and maximum are exact; floats are compared through the
  kernel's own integer keys, so ``-0.0`` sorts below ``0.0`` here too;
* counts: the kernels bin as ``np.searchsorted(edges, x, side="right") -
  1`` with the last bin closed (``_kernels.binning``), in float64;
* entropies: ``np.add.accumulate`` sums in order, as the kernel's loops
  do (adding a zero density changes no sum), and logarithms come from the
  same table (``LOG_TABLE``) or from ``math.log``, the C library's ``log``
  that Numba's compiled ``np.log`` calls;
* the Gaussian: the centre tap times its weight, then ``(lo + hi) * w``
  added for each pair of taps from the outermost in, as every path of the
  kernel (its eight-wide loops contract nothing into fused multiply-adds);
* gradients: ``np.gradient``'s differences halved inside (a division by 2
  is exact), divided by the spacing, rounded once to float32; the squared
  norm summed in float64 in the kernel's order; ``astype(np.int64)``
  truncates toward zero as ``int()`` does.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time

import numpy as np

from ._config import REGISTER_TWIN_BUDGET_SECONDS, TWIN_BUDGET_SECONDS, TWIN_MAX_SIZE

__all__ = [
    "due",
    "run",
    "kernel_or_twin",
    "register_due",
    "register_run",
    "registration",
    "charged",
    "disabled",
    "value_ranges",
    "joint_histogram",
    "entropies",
    "edge_entropies",
    "interleaved_gradient",
    "fill_table",
    "smooth_picked",
]

# seconds the twins have run: the metric twins, and the registration's
# (scipy's Powell, serial evaluations, the levels' preparation), each its
# own budget
_state = {"spent": 0.0, "register": 0.0, "disabled": 0}
_compiled = set()  # kernels found compiled: a set look-up, not a list of signatures
# per thread (register_many's tasks): whether the registration running there
# started within the registration twins' budget (None: no small one is running)
_local = threading.local()


def _compiled_here(kernel):
    """Whether ``kernel`` (a Numba dispatcher) has been compiled or loaded
    in this process."""
    if kernel in _compiled:
        return True
    if getattr(kernel, "signatures", ()):
        _compiled.add(kernel)
        return True
    return False


def due(kernel, size):
    """Whether a call on ``size`` values should run ``kernel``'s twin: the
    kernel (a Numba dispatcher) has not been compiled or loaded in this
    process, the input is small and the twins' budget is not spent."""
    if _compiled_here(kernel):
        return False
    return (
        size <= TWIN_MAX_SIZE and not _state["disabled"] and _state["spent"] < TWIN_BUDGET_SECONDS
    )


def run(twin, *args):
    """``twin(*args)``, its time charged to the twins' budget."""
    start = time.perf_counter()
    try:
        return twin(*args)
    finally:
        _state["spent"] += time.perf_counter() - start


def kernel_or_twin(kernel, twin, *args, size):
    """``kernel(*args)``, or ``twin(*args)`` while ``due(kernel, size)``: for
    a kernel without a parallel twin (``_parallel.run_kernel`` serves those)."""
    if due(kernel, size):
        return run(twin, *args)
    return kernel(*args)


def register_run(twin, *args):
    """``twin(*args)``, its time charged to the registration twins' budget."""
    with charged(True):
        return twin(*args)


def _register_budget_left():
    return _state["register"] < REGISTER_TWIN_BUDGET_SECONDS


def register_due(kernel, size=0):
    """Whether a registration should do without ``kernel`` (Numba's Powell,
    the parallel cost kernel, or a level's preparation on ``size`` values):
    it has not been compiled or loaded in this process, the input is small
    and the registration twins' budget is not spent (within a small
    registration: was not spent when it started, see ``registration``)."""
    if _compiled_here(kernel):
        return False
    within = getattr(_local, "within_budget", None)
    if within is None:
        within = _register_budget_left()
    return size <= TWIN_MAX_SIZE and not _state["disabled"] and within


@contextlib.contextmanager
def registration(size):
    """Within: one registration of images of ``size`` values in all.  Up to
    ``TWIN_MAX_SIZE``, whether the budget was left when it started decides
    for all of it: a small registration that starts on the twins ends on
    them, rather than compile Numba's Powell (seconds) for its last levels
    when the budget runs out halfway.  Larger ones check the budget at each
    level (their serial twin evaluations cost more than a compile saves)."""
    if getattr(_local, "within_budget", None) is not None or size > TWIN_MAX_SIZE:
        yield
        return
    _local.within_budget = _register_budget_left()
    try:
        yield
    finally:
        _local.within_budget = None


@contextlib.contextmanager
def charged(twin):
    """Within: time charged to the registration twins' budget if ``twin``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        if twin:
            _state["register"] += time.perf_counter() - start


@contextlib.contextmanager
def disabled():
    """Within: every call runs its kernel (``mireg.warmup`` compiles them)."""
    _state["disabled"] += 1
    try:
        yield
    finally:
        _state["disabled"] -= 1


# ------------------------------------------------------------------ ranges


def _range(values):
    """(min, max, finite) of a flat kernel view, as ``_kernels.ranges``'s
    ``min_max`` returns it to Python (Python scalars)."""
    if values.dtype.kind != "f":
        return values.min().item(), values.max().item(), True
    wide = values.dtype.itemsize == 8
    int_type, shift = (np.int64, 63) if wide else (np.int32, 31)
    magnitude = 0x7FFF_FFFF_FFFF_FFFF if wide else 0x7FFF_FFFF
    inf_key = 0x7FF0_0000_0000_0000 if wide else 0x7F80_0000
    bits = values.view(int_type)
    keys = bits ^ ((bits >> shift) & magnitude)
    out = np.array([keys.min(), keys.max()], int_type)
    finite = bool(out[0] >= -inf_key and out[1] < inf_key)
    out ^= (out >> shift) & magnitude
    lo, hi = out.view(values.dtype)
    return lo.item(), hi.item(), finite


def value_ranges(values0, values1):
    """Twin of ``_kernels.ranges.value_ranges``."""
    return _range(values0), _range(values1)


# ------------------------------------------------------------------ counts


def _bins(values, edges):
    """The bin of each value (within the edges), compared in float64."""
    edges = edges.astype(np.float64)
    k = np.searchsorted(edges, values.astype(np.float64), side="right") - 1
    return np.minimum(k, edges.size - 2)


def joint_histogram(values0, values1, edges0, edges1):
    """Twin of ``_kernels.histogram.joint_histogram``: int64 counts."""
    n0, n1 = edges0.size - 1, edges1.size - 1
    flat = _bins(values0, edges0) * n1 + _bins(values1, edges1)
    return np.bincount(flat, minlength=n0 * n1).astype(np.int64).reshape(n0, n1)


# --------------------------------------------------------------- entropies


def _logs(values):
    """``np.log`` of each value as the compiled kernels take it."""
    return np.array([math.log(v) for v in values.tolist()], np.float64)


def _last(partial_sums):
    return partial_sums[-1] if partial_sums.size else 0.0


def _marginal_entropy(marginal, total, log_total):
    occupied = marginal[marginal > 0.0]
    terms = occupied * _logs(occupied)
    acc = _last(np.add.accumulate(terms))
    return 0.0 if occupied.size == 1 else log_total - acc / total


def entropies(counts, widths0, widths1, log_table):
    """Twin of ``_kernels.entropy.entropies``: (H0, H1, H01) as floats."""
    log_w0, log_w1 = _logs(widths0), _logs(widths1)
    density = counts / widths0[:, None] / widths1[None, :]
    rows = np.add.accumulate(density, axis=1)[:, -1]
    columns = np.add.accumulate(density, axis=0)[-1]
    total = float(_last(np.add.accumulate(rows)))
    i, j = np.nonzero(counts)
    c = counts[i, j]
    small = c < log_table.size
    log_c = np.empty(c.size)
    log_c[small] = log_table[c[small]]
    log_c[~small] = _logs(c[~small].astype(np.float64))
    terms = density[i, j] * (log_c - log_w0[i] - log_w1[j])
    d_log_d = float(_last(np.add.accumulate(terms)))
    log_total = math.log(total)
    joint = 0.0 if c.size == 1 else log_total - d_log_d / total
    return (
        float(_marginal_entropy(rows, total, log_total)),
        float(_marginal_entropy(columns, total, log_total)),
        float(joint),
    )


def edge_entropies(counts, edges0, edges1, log_table):
    """Twin of ``_kernels.entropy.edge_entropies``: (H0, H1, H01) as floats."""
    widths0 = np.diff(edges0).astype(np.float64)
    widths1 = np.diff(edges1).astype(np.float64)
    return entropies(counts, widths0, widths1, log_table)


# ------------------------------------------------- a registration's levels


def interleaved_gradient(smooth, spacing):
    """Twin of ``_kernels.samples.interleaved_gradient`` (returns the
    stack): the 3-D ``smooth``'s ``np.gradient`` along its last
    ``spacing.size`` axes, each divided by its spacing, interleaved in
    float32."""
    k = spacing.size
    out = np.empty(smooth.shape + (k,), np.float32)
    for c in range(k):
        out[..., c] = np.gradient(smooth, axis=3 - k + c) / spacing[c]
    return out


def fill_table(image, smooth, spacing, keep, lo, scale, n_bins):
    """Twin of ``_kernels.samples.fill_table``: one float32 row per
    set pixel of ``keep`` (C order): its index, the gradient of ``smooth``
    there (``np.gradient``'s stencil, / spacing), the gradient's squared norm
    summed in float64, and ``image``'s bin there."""
    index = np.nonzero(keep)
    k = spacing.size
    table = np.zeros((index[0].size, 8), np.float32)
    for axis in range(3):
        table[:, axis] = index[axis]
    norm2 = None
    for c in range(k):
        axis = 3 - k + c
        p, n = index[axis], smooth.shape[axis]
        upper, lower = list(index), list(index)
        upper[axis], lower[axis] = np.minimum(p + 1, n - 1), np.maximum(p - 1, 0)
        divisor = np.where((p == 0) | (p == n - 1), 1.0, 2.0)
        g = (smooth[tuple(upper)] - smooth[tuple(lower)]) / divisor / spacing[c]
        table[:, 6 - k + c] = g
        norm2 = g * g if norm2 is None else norm2 + g * g
    table[:, 6] = norm2
    # in float64 as the kernel's arithmetic (a float32 image minus a Python
    # float would stay float32); int() truncates toward zero, as astype does
    bins = ((image[index].astype(np.float64) - lo) * scale).astype(np.int64)
    table[:, 7] = np.clip(bins, 0, n_bins - 1)
    return table


def _folded(i, n, edge):
    """``_kernels.gaussian._folded`` of an index array."""
    if edge:
        return np.clip(i, 0, n - 1)
    return np.where(i < 0, -i, np.where(i > n - 1, 2 * (n - 1) - i, i))


def smooth_picked(src, half, picks, edge):
    """Twin of ``_kernels.gaussian.smooth_picked`` (returns ``out``): the
    centre tap, then each pair of taps from the outermost in, added one
    pair at a time."""
    n = src.shape[1]
    out = src[:, picks, :] * half[0]
    for m in range(half.size - 1, 0, -1):
        lo, hi = _folded(picks - m, n, edge), _folded(picks + m, n, edge)
        out += (src[:, lo, :] + src[:, hi, :]) * half[m]
    return out
