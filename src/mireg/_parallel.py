"""When to run a parallel kernel, and making sure only one runs at a time.

Numba's ``workqueue`` threading layer aborts the process if two threads
launch parallel kernels at once, and on two cores a second parallel kernel
only oversubscribes.  So a parallel kernel runs only while this process
holds ``_SLOT``; a caller that cannot take it at once (another thread is
inside a parallel kernel, e.g. under ``register_many``) runs the serial
kernel instead.

A parallel region also waits for its slowest thread.  On a busy machine
(more runnable processes than cores) a worker thread that went to sleep
waits for a time slice before it joins: measured here, a 0.3 ms evaluation
then took ~30 ms, a hundred times the serial kernel's time.  So callers
that know what the serial kernel would cost say so, and a parallel call
that ran several times slower than that makes every parallel path in the
process fall back to serial for a while before trying again: 0.1 s after
the first stall, twice as long after each stall that follows a back-off,
up to 2 s, and back to 0.1 s once a parallel call runs at its pace.  A
short stall is common: NumPy's OpenBLAS threads spin for ~0.1 s after a
matrix product, and a parallel region started meanwhile waits for them
(measured: one ``A @ B`` of 3 x 262144 before each 512^2 registration took
its time from 0.15 to 0.22-0.25 s under a fixed 1 s back-off); a loaded
machine stalls every retry, and the back-off grows.

Kernels whose results could depend on any of these choices (floating-point
sums) split work into the same fixed chunks on both paths, so the result is
the same bits whichever runs.
"""
from __future__ import annotations

import threading
import time

import numba

from ._config import (BACKOFF_MAX_SECONDS, BACKOFF_MIN_SECONDS, PARALLEL_MIN_SIZE, STALL_SLACK,
                      STALLED)


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
    loads it and may start the thread pool (~0.1 s).  A class rather than
    a generator: it runs around every metric call, and costs a third.
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
