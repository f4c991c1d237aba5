"""Many registrations at once: pairs, stacks and manifests of files.

* :func:`register_many` registers a list (or any iterable) of image pairs on
  a local thread pool -- the cost kernels release the GIL, so threads run
  them side by side -- or on a ``dask.distributed`` cluster.
* :func:`mireg.stack.register_stack` (in its own module) registers the
  frames of a time series or z-stack.
* :func:`run_manifest` is ``mireg batch``: a CSV of file pairs in, the
  registered images and a resumable ``results.csv`` out.

Results are the same bits whichever way the work ran: each pair runs the
deterministic :func:`~mireg.register` (its serial and parallel kernels
agree to the bit), only the order of completion differs, and results are
returned in input order.
"""
from __future__ import annotations

import inspect
import numbers
import os

from . import transforms as tf
from ._engines import _drive, _engine, _Progress, _register_one
from .registration import METRICS, register

__all__ = ["register_many", "run_manifest"]

ERRORS = ("raise", "return")
REGISTER_OPTIONS = frozenset(inspect.signature(register).parameters) - {
    "reference_image", "moving_image"}


# ---- argument checks ------------------------------------------------------

def _check_run_options(n_jobs, client, errors, register_kwargs, jobs_name="n_jobs"):
    if errors not in ERRORS:
        raise ValueError(f"`errors` must be one of {ERRORS}, got {errors!r}")
    if client is not None and n_jobs is not None:
        raise ValueError(f"give `n_jobs` (local threads) or `client` (a dask cluster), "
                         f"not both; got n_jobs={n_jobs!r} and client={client!r}")
    if n_jobs is not None and (isinstance(n_jobs, bool)
                               or not isinstance(n_jobs, numbers.Integral) or n_jobs < 1):
        raise ValueError(f"`{jobs_name}` must be an integer >= 1, got {n_jobs!r}")
    _check_register_options(register_kwargs, "register_kwargs")


def _check_register_options(options, name):
    unknown = sorted(set(options) - REGISTER_OPTIONS)
    if unknown:
        raise TypeError(f"`{name}`: unknown mireg.register option(s) {unknown}; "
                        f"known: {sorted(REGISTER_OPTIONS)}")
    # the options every pair would fail on alike, caught before any work
    if "transform" in options and options["transform"] not in tf.TRANSFORMS:
        raise ValueError(f"`transform` must be one of {tf.TRANSFORMS}, "
                         f"got {options['transform']!r}")
    if "metric" in options and options["metric"] not in METRICS:
        raise ValueError(f"`metric` must be one of {METRICS}, got {options['metric']!r}")


def _pair_tasks(pairs, register_kwargs, errors):
    """(index, function, arguments) for each item of ``pairs``."""
    for index, item in enumerate(pairs):
        size = len(item) if hasattr(item, "__len__") else None
        if size not in (2, 3) or (size == 3 and not isinstance(item[2], dict)):
            raise TypeError(
                f"`pairs[{index}]` must be (reference_image, moving_image) or "
                f"(reference_image, moving_image, options_dict), got "
                f"{type(item).__name__}" + ("" if size is None else f" of length {size}"))
        options = dict(register_kwargs)
        if size == 3:
            _check_register_options(item[2], f"pairs[{index}][2]")
            options.update(item[2])
        yield index, _register_one, (item[0], item[1], options, errors)


def register_many(pairs, *, n_jobs=None, client=None, errors="raise", progress=False,
                  **register_kwargs):
    """Register many image pairs, in parallel; results in input order.

    Parameters
    ----------
    pairs : iterable
        ``(reference_image, moving_image)`` items, or
        ``(reference_image, moving_image, options)`` where ``options`` is a
        dict of :func:`~mireg.register` keywords for that pair only
        (overriding ``register_kwargs``).  An iterator is consumed as work
        proceeds, a few pairs ahead of the workers, so a generator reading
        files keeps only those in memory.
    n_jobs : int, optional
        Threads of the local pool; default ``os.cpu_count()``.  ``1`` runs
        the pairs one after another in this thread.
    client : dask.distributed.Client, optional
        Run on this cluster instead (one task per pair).  Each image or mask
        *object* is sent to the cluster once however many pairs use it
        (share a reference by passing the same array object).
    errors : {"raise", "return"}
        On a failing pair, raise its exception (the work in flight is
        cancelled; the exception's note names the pair) or put the
        exception object in the pair's slot and carry on.
    progress : bool
        A progress line on stderr.
    **register_kwargs
        Options of :func:`~mireg.register` for every pair.

    Returns
    -------
    list of RegistrationResult (or of the exception, with ``errors="return"``)

    Raises
    ------
    ValueError
        Bad ``errors`` or ``n_jobs``, or both ``n_jobs`` and ``client``.
    TypeError
        An unknown register option or a malformed item of ``pairs``.

    Notes
    -----
    :func:`~mireg.register` spends most of its time in Numba kernels that
    release the GIL, so pool threads run them side by side; the Powell
    loop and each level's preparation (resizing, smoothing) hold it.
    Every pool thread and cluster task runs the serial kernels (one core
    each; parallelism comes from the pairs), which give the same bits as
    the parallel ones ``register`` may use on its own; ``n_jobs=1`` leaves
    that choice to ``register``.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage as ndi
    >>> from skimage import data, transform
    >>> import mireg
    >>> reference = transform.resize(data.camera() / 255.0, (128, 128))
    >>> pairs = [(reference, ndi.shift(reference, (s, -s), order=3)) for s in (2.0, 4.0)]
    >>> results = mireg.register_many(pairs, transform="translation", n_jobs=2)
    >>> [np.round(r.parameters, 1).tolist() for r in results]
    [[-2.0, 2.0], [-4.0, 4.0]]
    """
    _check_run_options(n_jobs, client, errors, register_kwargs)
    total = len(pairs) if hasattr(pairs, "__len__") else None
    bar = _Progress(total, "register_many") if progress else None
    tasks = _pair_tasks(pairs, register_kwargs, errors)
    if total is not None:
        tasks = list(tasks)  # every item checked before any work; arrays' uses known
    engine = _engine(n_jobs, client, tasks if total is not None else None)
    outcomes = dict(_drive(tasks, engine, errors, bar))
    return [outcomes[i] for i in range(len(outcomes))]


def run_manifest(manifest_path, out_dir, *, scheduler=None, jobs=None, progress=True,
                 order=3, **register_kwargs):
    """Register the file pairs of a CSV manifest: ``mireg batch``.

    Parameters
    ----------
    manifest_path : str or os.PathLike
        A CSV with columns ``reference``, ``moving`` and optionally
        ``output``.  Relative image paths are relative to the manifest's
        folder; an output path is relative to ``out_dir`` and defaults to
        ``<moving name>_registered<moving suffix>``.
    out_dir : str or os.PathLike
        Created if missing; receives the outputs and ``results.csv``.
    scheduler : str or dask.distributed.Client, optional
        A dask scheduler address (or a client) to run the rows on.  Each row
        is one task that reads, registers, resamples and writes on the
        worker, so the workers must see the same files (absolute paths are
        sent).
    jobs : int, optional
        Local threads (default ``os.cpu_count()``); not with ``scheduler``.
    progress : bool
        A progress bar on stderr.
    order : int
        Spline order (0-5) of the resampled outputs.
    **register_kwargs
        Options of :func:`~mireg.register` for every row.  ``spacing``
        defaults to the voxel size in the files (NIfTI).

    Returns
    -------
    list of dict
        One ``results.csv`` record per manifest row, in manifest order.

    Raises
    ------
    ValueError, OSError
        A missing or malformed manifest, bad options.  A failing *row* does
        not raise: it is recorded with status "error" and its message, and
        the other rows go on.

    Notes
    -----
    ``results.csv`` (columns ``mireg.batch_cli.RESULT_COLUMNS``) gets a
    record as soon as a row finishes, so an interrupted run loses nothing
    finished; at the end it is rewritten with one record per row.  A re-run
    skips the rows whose record says "ok" and whose output exists and
    redoes the others, with the re-run's options: delete ``results.csv`` to
    redo everything.
    """
    from . import batch_cli as files

    if scheduler is not None and jobs is not None:
        raise ValueError(f"give `jobs` (local threads) or `scheduler` (a dask cluster), "
                         f"not both; got jobs={jobs!r} and scheduler={scheduler!r}")
    _check_run_options(jobs, None, "return", register_kwargs, jobs_name="jobs")
    if isinstance(order, bool) or not isinstance(order, numbers.Integral) or not 0 <= order <= 5:
        raise ValueError(f"`order` must be an integer 0-5, got {order!r}")
    rows = files.read_manifest(manifest_path, out_dir)
    os.makedirs(out_dir, exist_ok=True)
    results_path = os.path.join(out_dir, files.RESULTS_NAME)
    records = files.read_results(results_path)
    todo = [i for i, row in enumerate(rows) if not files.is_finished(records.get(row.key), row)]
    for i in todo:
        os.makedirs(os.path.dirname(rows[i].output_path), exist_ok=True)
    client = files.connect(scheduler) if isinstance(scheduler, (str, os.PathLike)) else scheduler
    tasks = ((i, files.process_row, (rows[i].reference_path, rows[i].moving_path,
                                     rows[i].output_path, register_kwargs, order))
             for i in todo)
    bar = _Progress(len(todo), "mireg batch") if progress and todo else None
    try:
        with open(results_path, "a", newline="", encoding="utf-8") as stream:
            writer = files.results_writer(stream)
            for i, record in _drive(tasks, _engine(jobs, client), "return", bar,
                                    failed=files.is_failure):
                if isinstance(record, BaseException):  # the cluster lost the task
                    record = files.row_record("error", error=files.one_line(record))
                record.update(zip(("reference", "moving", "output"), rows[i].key))
                records[rows[i].key] = record
                writer.writerow(record)
                stream.flush()
    finally:
        if client is not scheduler:
            client.close()
        files.rewrite_results(results_path, rows, records)
    return [records[row.key] for row in rows]
