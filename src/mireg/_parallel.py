"""When to run a parallel kernel, and making sure only one runs at a time.

Every kernel with a parallel twin is run through :func:`run_kernel`, which
calls ``serial(*args)`` or ``parallel(*args, n_chunks)`` as
:class:`parallel_chunks` decides.

Numba's ``workqueue`` threading layer aborts the process if two threads
launch parallel kernels at once, and on two cores a second parallel kernel
only oversubscribes.  So a parallel kernel runs only while this process
holds ``_SLOT``; a caller that cannot take it at once (another thread is
inside a parallel kernel, e.g. under ``register_many``) runs the serial
kernel instead.

A parallel region also waits for its slowest thread.  On a busy machine
(more runnable processes than cores) a worker thread that went to sleep
waits for a time slice before it joins, and a parallel run can then take
many times the serial kernel's time.  So callers that know what the serial
kernel would cost say so, and a parallel call that ran several times
slower than that makes every parallel path in the process fall back to
serial for a while before trying again: ``BACKOFF_MIN_SECONDS`` after the
first stall, twice as long after each stall that follows a back-off, up to
``BACKOFF_MAX_SECONDS``, and back to the minimum once a parallel call runs
at its pace.  A short stall is common (NumPy's OpenBLAS threads spin for a
while after a matrix product, and a parallel region started meanwhile
waits for them), so a fixed long back-off would cost more than it saves; a
loaded machine stalls every retry, and the back-off grows.

Kernels whose results could depend on any of these choices (floating-point
sums) split work into the same fixed chunks on both paths, so the result is
the same bits whichever runs.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time

import numba
import numpy as np

from . import _twins
from ._config import (
    BACKOFF_MAX_SECONDS,
    BACKOFF_MIN_SECONDS,
    PARALLEL_MIN_SIZE,
    PREP_PARALLEL_MIN_SIZE,
    STALL_SLACK,
    STALLED,
)

_SLOT = threading.Lock()
_state = {"serial_until": 0.0, "warm": set(), "backoff": BACKOFF_MIN_SECONDS}


def _backing_off():
    return time.monotonic() < _state["serial_until"]


class parallel_chunks:
    """Context manager: enter gives the number of chunks to run in
    parallel, or 0 for serial.

    ``serial_seconds``, if given, is what the serial kernel would take; a
    parallel run slower than ``STALLED`` times that (plus ``STALL_SLACK``)
    starts a back-off (see module notes) -- except the first run of each
    ``kernel`` in the process (a hashable naming the kernel and its
    argument dtypes: each dtype is its own compiled specialisation), which
    loads it and may start the thread pool.  A class rather than a
    generator: it runs around every metric call, and is cheaper.
    """

    __slots__ = ("size", "min_size", "serial_seconds", "kernel", "start")

    def __init__(self, size, min_size=PARALLEL_MIN_SIZE, serial_seconds=None, kernel=None):
        self.size = size
        self.min_size = min_size
        self.serial_seconds = serial_seconds
        self.kernel = kernel
        self.start = None

    def __enter__(self):
        if self.size < self.min_size:
            return 0
        threads = numba.get_num_threads()
        if threads < 2 or _backing_off() or not _SLOT.acquire(blocking=False):
            return 0
        self.start = time.perf_counter()
        return threads

    def __exit__(self, *exc_info):
        if self.start is None:
            return False
        elapsed = time.perf_counter() - self.start
        self.start = None
        _SLOT.release()
        kernel = self.kernel
        first = kernel not in _state["warm"]
        _state["warm"].add(kernel)
        if self.serial_seconds is not None and not first:
            if elapsed > STALLED * self.serial_seconds + STALL_SLACK:
                backoff = _state["backoff"]
                _state["serial_until"] = time.monotonic() + backoff
                _state["backoff"] = min(2.0 * backoff, BACKOFF_MAX_SECONDS)
            else:
                _state["backoff"] = BACKOFF_MIN_SECONDS
        return False


def run_kernel(
    serial, parallel, *args, size, min_size=PARALLEL_MIN_SIZE, seconds_per_item=None, twin=None
):
    """``serial(*args)``, or ``parallel(*args, n_chunks)`` when
    :class:`parallel_chunks` grants chunks for ``size`` items of work, or
    ``twin(*args)`` while the kernel has not run in this process.

    Parameters
    ----------
    serial, parallel : Numba dispatchers
        A kernel and its parallel twin, which takes the number of chunks
        as its last argument and returns the same bits.
    *args
        The kernel's arguments.
    size : int
        Items of work (pixels); below ``min_size`` the serial kernel runs.
    seconds_per_item : float, optional
        What the serial kernel costs per item, if known: a parallel run
        much slower than that is a stall (see the module notes).  The
        kernel and the dtypes of its array arguments name it for the
        stall detection, which skips each one's first (compiling) run.
    twin : callable, optional
        The kernel's NumPy twin (:mod:`mireg._twins`: the same bits), run
        instead while ``_twins.due`` says so (a process's first small calls).
    """
    if twin is not None and _twins.due(serial, size):
        return _twins.run(twin, *args)
    serial_seconds = kernel = None
    if seconds_per_item is not None:
        serial_seconds = seconds_per_item * size
        kernel = (serial,) + tuple(a.dtype for a in args if isinstance(a, np.ndarray))
    with parallel_chunks(size, min_size, serial_seconds, kernel) as n_chunks:
        if n_chunks:
            return parallel(*args, n_chunks)
        return serial(*args)


_POOL = {"executor": None}
_POOL_LOCK = threading.Lock()


def run_chunks(function, chunks):
    """``[function(*args) for args in chunks]``, the chunks on as many
    threads: the first in this thread, the others on a small pool.

    For serial ``nogil`` kernels whose chunks are independent (a search
    grid's rows, the polish of separate starts): they run on both cores
    without a ``parallel=True`` twin, whose compilation costs seconds on a
    first call.  Each chunk runs the same code alone, so the results are
    the same bits however the work is split.  Callers take the slot with
    :class:`parallel_chunks` first, as for a parallel kernel.
    """
    if len(chunks) == 1:
        return [function(*chunks[0])]
    with _POOL_LOCK:
        if _POOL["executor"] is None:
            _POOL["executor"] = concurrent.futures.ThreadPoolExecutor(
                max_workers=max(1, numba.config.NUMBA_NUM_THREADS - 1),
                thread_name_prefix="mireg-chunk",
            )
        executor = _POOL["executor"]
    futures = [executor.submit(function, *args) for args in chunks[1:]]
    first = function(*chunks[0])
    return [first] + [future.result() for future in futures]


def side_by_side(tasks, size, min_size=None):
    """``[task() for task in tasks]``, on both cores when ``size`` (pixels
    of the images the tasks read) is at least ``min_size`` (default
    ``PREP_PARALLEL_MIN_SIZE``) and :class:`parallel_chunks` grants the
    slot.

    For independent preparation steps, each a serial kernel or a SciPy
    filter that releases the GIL (a pyramid level of each image, the
    moving image's B-spline coefficients beside its gradients).  Every
    free thread takes the next task in order, so list the heaviest first.
    Each task runs alone on its own data: the same bits on either path.
    A task's error is raised once every thread has stopped (no thread
    starts a task after it).
    """
    if min_size is None:
        min_size = PREP_PARALLEL_MIN_SIZE
    with parallel_chunks(size, min_size) as n_chunks:
        if n_chunks < 2 or len(tasks) < 2:
            return [task() for task in tasks]
        results = [None] * len(tasks)
        errors = []
        order = iter(range(len(tasks)))
        lock = threading.Lock()

        def drain():
            while True:
                with lock:
                    i = None if errors else next(order, None)
                if i is None:
                    return
                try:
                    results[i] = tasks[i]()
                except BaseException as error:  # re-raised below, in the caller
                    with lock:
                        errors.append(error)

        run_chunks(drain, [()] * min(n_chunks, len(tasks)))
        if errors:
            raise errors[0]
        return results
