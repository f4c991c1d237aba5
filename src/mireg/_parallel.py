"""When to run a parallel kernel, and making sure only one runs at a time.

Numba's ``workqueue`` threading layer aborts the process if two threads
launch parallel kernels at once, and on two cores a second parallel kernel
only oversubscribes.  So a parallel kernel runs only while this process
holds ``_SLOT``; a caller that cannot take it at once (another thread is
inside a parallel kernel, e.g. under ``register_many``) runs the serial
kernel instead.  Kernels whose results could depend on that choice
(floating-point sums) split work into the same fixed chunks either way, so
the result is the same bits on both paths.
"""
from __future__ import annotations

import contextlib
import threading

import numba

# Below this many pixels a parallel launch (and one private histogram per
# thread) costs more than it saves on two cores.  Measured with the
# histogram kernels (serial vs 2 threads, us): 16k px 36 vs 49, 32k 70 vs
# 65, 64k 135 vs 96, 256k 539 vs 304; the range scan breaks even at ~16k.
PARALLEL_MIN_SIZE = 1 << 16

_SLOT = threading.Lock()


@contextlib.contextmanager
def parallel_chunks(size, min_size=PARALLEL_MIN_SIZE):
    """Yield the number of chunks to run in parallel, or 0 for serial."""
    threads = numba.get_num_threads()
    if size < min_size or threads < 2 or not _SLOT.acquire(blocking=False):
        yield 0
        return
    try:
        yield threads
    finally:
        _SLOT.release()
