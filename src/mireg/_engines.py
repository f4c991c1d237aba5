"""How batches run: a local thread pool or a dask cluster, one driver.

The shared machinery of :func:`mireg.register_many`,
:func:`mireg.register_stack` and ``mireg batch``: the checks of their run
options (:func:`check_run_options`), the engines (a thread pool or a dask
cluster, chosen by :func:`engine_for`) that take tasks ``(index, function,
args)``, :func:`drive`, which keeps a bounded number in flight and yields
``(index, outcome)`` as they finish, and the :class:`Progress` line.  Every
task runs the serial kernels (:func:`_one_core`): the pool or the cluster
already keeps the cores busy, and parallel kernels on top of each other
only oversubscribe them.
"""

from __future__ import annotations

import concurrent.futures
import inspect
import numbers
import os
import queue
import sys
import time

import numpy as np

from . import transforms as tf
from .registration import METRICS, register

ERRORS = ("raise", "return")
REGISTER_OPTIONS = frozenset(inspect.signature(register).parameters) - {
    "reference_image",
    "moving_image",
}


# ---- argument checks ------------------------------------------------------


def check_run_options(n_jobs, client, errors, register_kwargs, jobs_name="n_jobs"):
    """Raise on a bad ``errors``, ``n_jobs`` (named ``jobs_name`` in the
    message) or register option, or on both ``n_jobs`` and ``client``."""
    if errors not in ERRORS:
        raise ValueError(f"`errors` must be one of {ERRORS}, got {errors!r}")
    if client is not None and n_jobs is not None:
        raise ValueError(
            f"give `n_jobs` (local threads) or `client` (a dask cluster), "
            f"not both; got n_jobs={n_jobs!r} and client={client!r}"
        )
    if n_jobs is not None and (
        isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs < 1
    ):
        raise ValueError(f"`{jobs_name}` must be an integer >= 1, got {n_jobs!r}")
    check_register_options(register_kwargs, "register_kwargs")


def check_register_options(options, name):
    """Raise on options of :func:`~mireg.register` that every pair would
    fail on alike (named ``name`` in the message), before any work."""
    unknown = sorted(set(options) - REGISTER_OPTIONS)
    if unknown:
        raise TypeError(
            f"`{name}`: unknown mireg.register option(s) {unknown}; "
            f"known: {sorted(REGISTER_OPTIONS)}"
        )
    if "transform" in options and options["transform"] not in tf.TRANSFORMS:
        raise ValueError(
            f"`transform` must be one of {tf.TRANSFORMS}, got {options['transform']!r}"
        )
    if "metric" in options and options["metric"] not in METRICS:
        raise ValueError(f"`metric` must be one of {METRICS}, got {options['metric']!r}")


# ---- one task ---------------------------------------------------------------


def register_one(reference, moving, options, errors):
    """One pair, on a pool thread or a dask worker; with ``errors="return"``
    a failure is the result, so it travels back like any other."""
    if errors == "raise":
        return register(reference, moving, **options)
    try:
        return register(reference, moving, **options)
    except Exception as error:  # noqa: BLE001 -- handed back to the caller
        return error


# ---- where the work runs ----------------------------------------------------


def _one_core(function, *args):
    """``function(*args)`` with Numba's serial kernels in this thread.

    Pool threads and cluster tasks each keep one core busy; a parallel
    kernel inside one would put more runnable threads than cores on the
    machine, and a parallel region waits for its slowest thread, so every
    task would wait on the others.  (Numba's thread count is per thread,
    so this touches no other work.)
    """
    import numba

    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return function(*args)
    finally:
        numba.set_num_threads(previous)


class _Local:
    """``n_jobs`` pool threads, or this thread when ``n_jobs == 1``."""

    def __init__(self, n_jobs):
        self.window = 1 if n_jobs == 1 else 2 * n_jobs
        self.pool = (
            None
            if n_jobs == 1
            else concurrent.futures.ThreadPoolExecutor(n_jobs, thread_name_prefix="mireg")
        )

    def submit(self, batch):
        """Futures for ``[(index, function, arguments), ...]``."""
        if self.pool is not None:
            return [self.pool.submit(_one_core, function, *args) for _, function, args in batch]
        futures = []
        for _, function, args in batch:
            future = concurrent.futures.Future()
            try:
                future.set_result(function(*args))
            except Exception as error:  # noqa: BLE001 -- raised by _outcome
                future.set_exception(error)
            futures.append(future)
        return futures

    def release(self, index):
        pass

    def close(self, pending):
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


class _Dask:
    """Tasks on a ``dask.distributed`` cluster.  Images and masks go to the
    cluster once per array *object* (keyed by ``id``, the object kept alive
    meanwhile), however many pairs use it.  With the whole list of tasks
    known (``planned``) an array is let go after its last task; tasks from
    an iterator let it go when no task in flight needs it, so the cluster
    holds only the arrays of the pairs in flight."""

    def __init__(self, client, planned=None):
        self.client = client
        self.window = max(8, 4 * sum(client.nthreads().values()))
        self.planned = None
        if planned is not None:
            self.planned = {}
            for _, _, args in planned:
                for key in {id(a) for a in _arrays_in(args)}:
                    self.planned[key] = self.planned.get(key, 0) + 1
        self.remote = {}  # id(array) -> [array, future, uses outstanding]
        self.uses = {}  # task index -> ids of the arrays it uses

    def submit(self, batch):
        fresh = {}
        for _, _, args in batch:
            for array in _arrays_in(args):
                if id(array) not in self.remote:
                    fresh[id(array)] = array
        if fresh:  # one round trip for all new arrays of this batch
            futures = self.client.scatter(list(fresh.values()), hash=False)
            for key, array, future in zip(fresh, fresh.values(), futures):
                uses = 0 if self.planned is None else self.planned[key]
                self.remote[key] = [array, future, uses]
        out = []
        for index, function, args in batch:
            used = {id(a) for a in _arrays_in(args)}
            if self.planned is None:
                for key in used:
                    self.remote[key][2] += 1
            self.uses[index] = used
            out.append(self.client.submit(_one_core, function, *self._swap(args), pure=False))
        return out

    def _swap(self, args):
        def remote(value):
            if _is_bulky(value):
                return self.remote[id(value)][1]
            if isinstance(value, dict):
                return {k: remote(v) for k, v in value.items()}
            return value

        return tuple(remote(a) for a in args)

    def release(self, index):
        for key in self.uses.pop(index, ()):
            entry = self.remote[key]
            entry[2] -= 1
            if entry[2] == 0:
                del self.remote[key]

    def close(self, pending):
        if pending:
            self.client.cancel(list(pending))
        self.remote.clear()
        self.uses.clear()


def _is_bulky(value):
    # images and masks; 1-D options (spacing, initial) travel with the task
    return isinstance(value, np.ndarray) and value.ndim >= 2


def _arrays_in(args):
    for value in args:
        if _is_bulky(value):
            yield value
        elif isinstance(value, dict):
            yield from (v for v in value.values() if _is_bulky(v))


def engine_for(n_jobs, client, planned=None):
    """The engine: a dask cluster with ``client``, else ``n_jobs`` local
    threads (default ``os.cpu_count()``).  ``planned``, the whole list of
    tasks when known, lets the cluster release each array after its last
    use."""
    if client is not None:
        return _Dask(client, planned)
    return _Local(n_jobs if n_jobs is not None else os.cpu_count() or 1)


def drive(tasks, engine, errors, progress=None, failed=None):
    """Run ``tasks`` with at most ``engine.window`` in flight; yield
    ``(index, outcome)`` in completion order.  With ``errors="raise"`` the
    first failure is raised (the tasks in flight are cancelled).
    ``failed(outcome)`` tells the progress line which outcomes are failures
    (default: exceptions)."""
    done = queue.Queue()
    pending = {}
    tasks = iter(tasks)

    def fill():
        batch = []
        for task in tasks:
            batch.append(task)
            if len(pending) + len(batch) >= engine.window:
                break
        for (index, _, _), future in zip(batch, engine.submit(batch)):
            pending[index] = future
            future.add_done_callback(lambda _, i=index: done.put(i))

    try:
        fill()
        while pending:
            index = done.get()
            outcome = _outcome(index, pending.pop(index), errors)
            fill()  # before releasing: a pair sharing this one's arrays keeps them
            engine.release(index)
            if progress is not None:
                progress.update(failed=(failed or _is_error)(outcome))
            yield index, outcome
    finally:
        engine.close(pending.values())
        if progress is not None:
            progress.close()


def _is_error(outcome):
    return isinstance(outcome, BaseException)


def _outcome(index, future, errors):
    try:
        return future.result()
    except Exception as error:
        if errors == "return":  # the cluster lost the task, or it could not pickle
            return error
        if hasattr(error, "add_note"):
            error.add_note(f"while registering pairs[{index}]")
        raise


class Progress:
    """A status line on stderr: redrawn in place on a terminal, else a line
    at most every few seconds."""

    def __init__(self, total, label, stream=None):
        self.total, self.label = total, label
        self.stream = sys.stderr if stream is None else stream
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.done = self.failed = 0
        self.start = self.shown = time.perf_counter()

    def update(self, failed=False):
        self.done += 1
        self.failed += bool(failed)
        now = time.perf_counter()
        if now - self.shown >= (0.1 if self.tty else 5.0) or self.done == self.total:
            self.shown = now
            self._draw(now)

    def _draw(self, now):
        elapsed = now - self.start
        if self.total:
            filled = int(24 * self.done / self.total)
            left = elapsed / self.done * (self.total - self.done)
            text = (
                f"{self.label} [{'#' * filled}{'.' * (24 - filled)}] "
                f"{self.done}/{self.total}, {self.failed} failed, "
                f"{elapsed:.0f} s, ~{left:.0f} s left"
            )
        else:
            text = f"{self.label} {self.done} done, {self.failed} failed, {elapsed:.0f} s"
        self.stream.write(("\r" + text + "\x1b[K") if self.tty else text + "\n")
        self.stream.flush()

    def close(self):
        if self.tty and self.done:
            self.stream.write("\n")
            self.stream.flush()
