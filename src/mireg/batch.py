"""Many registrations at once: :func:`register_many`.

:func:`register_many` registers a list (or any iterable) of image pairs on
a local thread pool -- the cost kernels release the GIL, so threads run
them side by side -- or on a ``dask.distributed`` cluster.  The frames of
a time series or z-stack: :func:`mireg.stack.register_stack`; a CSV
manifest of files, ``mireg batch``: :func:`mireg.cli.batch.run_manifest`.

Results are the same bits whichever way the work ran: each pair runs the
deterministic :func:`~mireg.register` (its serial and parallel kernels
agree to the bit), only the order of completion differs, and results are
returned in input order.
"""

from __future__ import annotations

from ._engines import (
    Progress,
    check_register_options,
    check_run_options,
    drive,
    engine_for,
    register_one,
)

__all__ = ["register_many"]


def _pair_tasks(pairs, register_kwargs, errors):
    """(index, function, arguments) for each item of ``pairs``."""
    for index, item in enumerate(pairs):
        size = len(item) if hasattr(item, "__len__") else None
        if size not in (2, 3) or (size == 3 and not isinstance(item[2], dict)):
            raise TypeError(
                f"`pairs[{index}]` must be (reference_image, moving_image) or "
                f"(reference_image, moving_image, options_dict), got "
                f"{type(item).__name__}" + ("" if size is None else f" of length {size}")
            )
        options = dict(register_kwargs)
        if size == 3:
            check_register_options(item[2], f"pairs[{index}][2]")
            options.update(item[2])
        yield index, register_one, (item[0], item[1], options, errors)


def register_many(
    pairs, *, n_jobs=None, client=None, errors="raise", progress=False, **register_kwargs
):
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
    check_run_options(n_jobs, client, errors, register_kwargs)
    total = len(pairs) if hasattr(pairs, "__len__") else None
    bar = Progress(total, "register_many") if progress else None
    tasks = _pair_tasks(pairs, register_kwargs, errors)
    if total is not None:
        tasks = list(tasks)  # every item checked before any work; arrays' uses known
    engine = engine_for(n_jobs, client, tasks if total is not None else None)
    outcomes = dict(drive(tasks, engine, errors, bar))
    return [outcomes[i] for i in range(len(outcomes))]
