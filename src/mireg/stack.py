"""Time series and z-stacks: every frame registered to one reference.

:func:`register_stack` registers the frames to one of them, to their mean,
or each to the previous one with the transforms chained back to the first
frame; the pairs run through :func:`mireg.batch.register_many`, so threads
or a dask cluster serve stacks as they serve pairs.
"""

from __future__ import annotations

import concurrent.futures
import numbers
import os
from dataclasses import dataclass

import numpy as np

from . import transforms as tf
from ._config import (
    LOCAL_COARSE_SAMPLES,
    LOCAL_COARSEST_SIDE,
    STACK_OUTLIER_FRACTION,
    STACK_OUTLIER_MADS,
    STACK_OUTLIER_MIN_FRAMES,
)
from ._engines import check_run_options
from ._inputs import default_samples
from ._optimize import default_shrinks
from .batch import register_many
from .registration import RegistrationResult

__all__ = ["register_stack", "StackResult"]


@dataclass
class StackResult:
    """The outcome of :func:`register_stack`; indexes like its ``results``.

    Attributes
    ----------
    results : list
        Per frame ``i``: a :class:`~mireg.RegistrationResult` whose
        ``matrix`` maps the stack's reference grid to frame ``i`` (index
        coordinates), or the exception if that frame failed
        (``errors="return"``).  The reference frame itself gets the
        identity (metric NaN, no evaluations).
    reference : int or str
        The frame index everything is registered to, or ``"previous"`` or
        ``"mean"``.  Frame 0 is the reference grid of ``"previous"``.
    pairwise : list or None
        ``"previous"`` only: ``pairwise[i]`` maps frame ``i - 1`` to frame
        ``i`` (``pairwise[0]`` is the identity).
    template : ndarray or None
        ``"mean"`` only: the template everything was registered to (the
        mean of the frames aligned to their plain mean).

    Notes
    -----
    For ``"previous"`` the transform of frame ``i`` is the chain

        ``results[i].matrix = pairwise[i].matrix @ ... @ pairwise[1].matrix``

    (the rightmost applies first: frame 0 -> frame 1 -> ... -> frame ``i``);
    its ``parameters`` describe that product about frame 0's centre, its
    ``metric`` is NaN (never measured: see ``pairwise``) and ``nfev`` sums
    the chain's.  A failed link leaves every later frame unlinked: those
    slots hold a ``ValueError`` whose ``__cause__`` is the link's error.
    """

    results: list
    reference: object
    pairwise: list | None = None
    template: np.ndarray | None = None

    def __len__(self):
        return len(self.results)

    def __getitem__(self, index):
        return self.results[index]

    def __iter__(self):
        return iter(self.results)

    @property
    def failed(self):
        """Indices of the frames without a transform."""
        return [i for i, r in enumerate(self.results) if not isinstance(r, RegistrationResult)]

    def _any_result(self):
        for result in self.results:
            if isinstance(result, RegistrationResult):
                return result
        raise ValueError("no frame of the stack was registered")

    @property
    def matrices(self):
        """(n_frames, ndim+1, ndim+1) index-order matrices, NaN where failed."""
        good = self._any_result()
        nan = np.full_like(good.matrix, np.nan)
        return np.stack(
            [r.matrix if isinstance(r, RegistrationResult) else nan for r in self.results]
        )

    def warp(self, stack, *, order=3, cval=0.0, n_jobs=None):
        """Every frame resampled onto the reference grid: an array
        ``(n_frames, *reference_shape)``, NaN for the failed frames.
        ``n_jobs`` threads (default: one per core) resample frames side by
        side; each frame's values do not depend on it."""
        check_run_options(n_jobs, None, "raise", {})
        frames = _frames(stack)
        good = self._any_result()
        out = np.full((len(frames),) + tuple(good.reference_shape), np.nan)

        def one(i):
            result = self.results[i]
            if isinstance(result, RegistrationResult):
                out[i] = result.warp(frames[i], order=order, cval=cval)

        n_jobs = (os.cpu_count() or 1) if n_jobs is None else n_jobs
        if n_jobs == 1 or len(frames) < 2:
            for i in range(len(frames)):
                one(i)
        else:
            with concurrent.futures.ThreadPoolExecutor(n_jobs) as pool:
                list(pool.map(one, range(len(frames))))
        return out


def _frames(stack):
    """The frames as a list of arrays: the same objects every call would
    not be, so build it once (a dask cluster receives each frame once)."""
    if isinstance(stack, np.ndarray):
        if stack.ndim not in (3, 4):
            raise ValueError(
                f"`stack` must be 3-D (frames of 2-D images) or 4-D (frames "
                f"of volumes), got shape {stack.shape}"
            )
        return list(stack)
    try:
        frames = [np.asarray(frame) for frame in stack]
    except TypeError:
        raise TypeError(
            f"`stack` must be an array or a sequence of arrays, got {type(stack).__name__}"
        ) from None
    return frames


def _stack_reference(reference, n_frames):
    if isinstance(reference, str):
        if reference == "first":
            return 0
        if reference in ("previous", "mean"):
            return reference
    elif isinstance(reference, numbers.Integral) and not isinstance(reference, bool):
        if -n_frames <= reference < n_frames:
            return int(reference) % n_frames
        raise ValueError(f"`reference` index {reference} is out of range for {n_frames} frames")
    raise ValueError(
        f'`reference` must be "first", "previous", "mean" or a frame index, got {reference!r}'
    )


def _identity(shape, register_kwargs, like):
    """The reference frame's own result: the identity transform."""
    ndim = len(shape)
    kind = register_kwargs.get("transform", "rigid")
    if like is not None:
        spacing = like.spacing
    else:
        spacing = register_kwargs.get("spacing")
        spacing = np.broadcast_to(
            np.asarray(1.0 if spacing is None else spacing, dtype=np.float64).reshape(-1), (ndim,)
        ).copy()
    center = (np.array(shape, float) - 1.0) / 2.0 * spacing
    return RegistrationResult(
        matrix=np.eye(ndim + 1),
        parameters=np.zeros(tf.n_parameters(ndim, kind)),
        kind=kind,
        metric=float("nan"),
        metric_name=register_kwargs.get("metric", "alignment"),
        nfev=0,
        levels=[],
        spacing=spacing,
        center=center,
        reference_shape=tuple(shape),
    )


def _chain(pairwise, frame0_shape):
    """Frame 0 -> frame i for each i from the links frame i-1 -> frame i."""
    chained = [pairwise[0]]
    broken = None
    for i, link in enumerate(pairwise[1:], start=1):
        if broken is None and not isinstance(link, RegistrationResult):
            broken = i
        if broken is not None:
            error = ValueError(
                f"frame {i} is not linked to frame 0: registering frame "
                f"{broken} to frame {broken - 1} failed"
            )
            error.__cause__ = pairwise[broken]
            chained.append(error)
            continue
        previous = chained[-1]
        matrix = link.matrix @ previous.matrix
        scale = tf.grid_to_physical(link.spacing, np.zeros(link.ndim))
        physical = scale @ matrix @ np.linalg.inv(scale)
        chained.append(
            RegistrationResult(
                matrix=matrix,
                parameters=tf.parameters_from_physical(
                    physical, link.ndim, link.kind, previous.center
                ),
                kind=link.kind,
                metric=float("nan"),
                metric_name=link.metric_name,
                nfev=previous.nfev + link.nfev,
                levels=[],
                spacing=link.spacing,
                center=previous.center,
                reference_shape=tuple(frame0_shape),
            )
        )
    return chained


def _register_to_mean(frames, run, search):
    """Register to the mean frame, then once more to the mean of the frames
    so aligned: the plain mean of moving frames is blurred, the second
    template is sharp (on the same grid, the first mean's)."""
    shapes = {frame.shape for frame in frames}
    if len(shapes) != 1:
        raise ValueError(f'`reference="mean"` needs frames of one shape, got {sorted(shapes)}')
    template = np.mean(np.stack(frames), axis=0, dtype=np.float64)
    first = _search_pairs([(template, frame) for frame in frames], run, search)
    total, count = np.zeros_like(template), np.zeros(template.shape)
    for frame, result in zip(frames, first):
        if isinstance(result, RegistrationResult):
            # NaN outside the frame: borders average only the frames that cover them
            aligned = result.warp(frame, cval=np.nan)
            seen = np.isfinite(aligned)
            total[seen] += aligned[seen]
            count += seen
    if count.any():
        covered = count > 0
        template = np.full_like(template, total[covered].sum() / count[covered].sum())
        template[covered] = total[covered] / count[covered]
    outcomes = _search_pairs([(template, frame) for frame in frames], run, search)
    return StackResult(outcomes, "mean", template=template)


SEARCHES = ("global", "local", "auto")


def _check_search(search, register_kwargs):
    if search not in SEARCHES:
        raise ValueError(f"`search` must be one of {SEARCHES}, got {search!r}")
    if search != "global" and register_kwargs.get("global_search"):
        raise ValueError(
            f'`search="{search}"` starts every frame from the reference pose: '
            "it excludes `global_search=True`"
        )


def _doubtful(outcomes):
    """Indices of the outcomes that failed or score far below the others:
    below the median metric by more than ``STACK_OUTLIER_MADS`` scaled
    median absolute deviations (at least ``STACK_OUTLIER_FRACTION`` of the
    median's size).  Frames of one series score alike at their true pose;
    one the local search lost scores far below (it matched the wrong
    structures, or only part of them)."""
    metrics = np.array(
        [r.metric if isinstance(r, RegistrationResult) else np.nan for r in outcomes]
    )
    good = np.isfinite(metrics)
    if good.sum() < STACK_OUTLIER_MIN_FRAMES:  # too few to tell an outlier
        return list(range(len(outcomes)))
    median = float(np.median(metrics[good]))
    spread = 1.4826 * float(np.median(np.abs(metrics[good] - median)))
    margin = max(STACK_OUTLIER_MADS * spread, STACK_OUTLIER_FRACTION * abs(median))
    return [i for i, m in enumerate(metrics) if not m >= median - margin]


def _local_options(run, reference):
    """``run`` for a local search: no global search, and unless the user
    chose ``levels``, up to two levels coarser than ``register``'s default
    pyramid on top of it (2 and 4 times its coarsest shrink, while the
    longest side keeps ``LOCAL_COARSEST_SIDE`` pixels), all but the finest
    sampled at most ``LOCAL_COARSE_SAMPLES`` times unless the user chose
    ``max_samples``.  Powell moves at
    most a few pixels of a level from where the level starts, so a small
    image's pyramid (one level at 64 x 64) alone would reach about a pixel
    and a half; the coarse levels widen the reach to some 12 pixels of the
    finest level, for a few cheap evaluations."""
    options = dict(run, global_search=False)
    if options.get("levels") is None:
        shape = np.shape(reference)
        shrinks = default_shrinks(shape, len(shape))
        coarser = [
            f * shrinks[0]
            for f in (4, 2)
            if max(shape) / (f * shrinks[0]) >= LOCAL_COARSEST_SIDE[len(shape)]
        ]
        options["levels"] = (*coarser, *shrinks)
        if options.get("max_samples") is None:
            # the levels above the finest only hand a start on: a sparser
            # sample grid there costs the answer nothing measurable
            ndim = len(shape)
            options["max_samples"] = (LOCAL_COARSE_SAMPLES,) * (len(options["levels"]) - 1) + (
                default_samples(ndim, finest=True),
            )
    return options


def _search_pairs(pairs, run, search):
    """Register ``pairs``: each with the global search ("global"), each from
    the reference pose ("local"), or from the reference pose and then, for
    the frames :func:`_doubtful` flags, with the global search as well, the
    better of the two kept ("auto"; fewer pairs than
    ``STACK_OUTLIER_MIN_FRAMES``: the global search only)."""
    if search == "global" or (search == "auto" and len(pairs) < STACK_OUTLIER_MIN_FRAMES):
        return register_many(pairs, **run)
    if search == "local":
        return register_many(pairs, **_local_options(run, pairs[0][0]))
    # a frame the local search fails on gets the global search, which
    # raises (errors="raise") only if it fails too
    local = register_many(pairs, **dict(_local_options(run, pairs[0][0]), errors="return"))
    flagged = _doubtful(local)
    if not flagged:
        return local
    again = register_many([pairs[i] for i in flagged], **run)
    for i, result in zip(flagged, again):
        before = local[i]
        if not isinstance(before, RegistrationResult) or (
            isinstance(result, RegistrationResult) and result.metric > before.metric
        ):
            local[i] = result
    return local


def register_stack(
    stack,
    *,
    reference="first",
    search="global",
    n_jobs=None,
    client=None,
    errors="raise",
    progress=False,
    **register_kwargs,
):
    """Register the frames of a time series or z-stack.

    Parameters
    ----------
    stack : ndarray or sequence of ndarray
        ``(n_frames, rows, cols)`` or ``(n_frames, planes, rows, cols)``, or
        a sequence of frames (their shapes may differ except for ``"mean"``).
    reference : {"first", "previous", "mean"} or int
        Register every frame to the first frame, to the frame with this
        index, to a mean frame, or each frame to the one before it with
        the transforms chained back to frame 0 (for slow drift, where far
        frames no longer look alike; errors of the links add up).  "mean"
        registers twice: to the plain mean of the frames, then to the mean
        of the frames aligned by that first pass (a sharp template; the
        grid stays the plain mean's).
    search : {"global", "local", "auto"}
        How each frame finds its pose.  "global": :func:`~mireg.register`'s
        global search over rotations and shifts, for stacks whose frames
        may be far apart (sections of a slide series, a wide capture
        range).  "local": from the reference pose (or ``initial``), Powell
        on the pyramid only (two coarser levels added for reach, the levels
        above the finest sampled sparsely unless ``levels`` or
        ``max_samples`` are given): for series with small motion (head
        motion in fMRI or diffusion series, drift in a time lapse), several
        times faster.  "auto": "local", then the global search for the frames
        that come back failed or scoring far below the others (a sudden
        large movement), the better of the two answers kept; with fewer
        than 4 frames to compare, every frame gets the global search.
        Every frame is registered on its own: the answers do not depend
        on ``n_jobs`` or on the order the frames finish in.
    n_jobs, client, errors, progress, **register_kwargs
        As :func:`register_many`; the pairs are independent in every mode.

    Returns
    -------
    StackResult
        ``result[i].matrix`` maps the reference grid to frame ``i``;
        ``result.warp(stack)`` aligns the whole stack.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage as ndi
    >>> from skimage import data, transform
    >>> import mireg
    >>> frame = transform.resize(data.camera() / 255.0, (128, 128))
    >>> stack = np.stack([ndi.shift(frame, (t, 0.0), order=3) for t in (0.0, 1.5, 3.0)])
    >>> result = mireg.register_stack(stack, reference="previous", transform="translation")
    >>> np.round(result[2].parameters, 1).tolist()
    [3.0, 0.0]
    """
    check_run_options(n_jobs, client, errors, register_kwargs)
    _check_search(search, register_kwargs)
    frames = _frames(stack)
    if not frames:
        raise ValueError("`stack` has no frames")
    target = _stack_reference(reference, len(frames))
    run = dict(n_jobs=n_jobs, client=client, errors=errors, progress=progress, **register_kwargs)
    if target == "mean":
        return _register_to_mean(frames, run, search)
    if target == "previous":
        pairs = [(frames[i - 1], frames[i]) for i in range(1, len(frames))]
    else:
        pairs = [(frames[target], frame) for i, frame in enumerate(frames) if i != target]
    outcomes = _search_pairs(pairs, run, search)
    like = next((r for r in outcomes if isinstance(r, RegistrationResult)), None)
    identity = _identity(
        frames[0 if target == "previous" else target].shape, register_kwargs, like
    )
    if target == "previous":
        pairwise = [identity] + outcomes
        return StackResult(_chain(pairwise, frames[0].shape), target, pairwise=pairwise)
    return StackResult(outcomes[:target] + [identity] + outcomes[target:], target)
