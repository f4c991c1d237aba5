"""Translation / rigid / similarity / affine registration in world space:
pyramid + Powell.

Coarse-to-fine Powell on the negated combined measure (Pluim's NMI x G, or
NMI, or MI), as the reference implementation does it, made N-d, robust and
fast: one fused Numba pass per cost evaluation, a global search over
rotations and shifts at a coarse level for a wide capture range, parameters
scaled so Powell's unit step moves pixels alike in rotation and
translation, and per-level records like SimpleITK and dipy keep them.
Each image is placed in world space by its own affine (``_world.Frame``),
so the two may differ in shape, voxel size, origin and orientation.

How the data flows through :func:`register`::

    _inputs.validate(...)            -> _inputs.Inputs: float64 images,
                                        bool masks, spacing, bins, shrinks,
                                        max_samples (every argument checked)
    _world.checked_frames(...)       -> the images' frames (affines)
    _stages(...)                     which transform on which levels (an
                                        affine run is rigid first)
    _optimize.level_maker(...)       -> prepare(shrink, cubic): the
                                        _levels.Level of a shrink factor
                                        (the kernels' records, built once)
    _optimize.search_stage(...)      global search on a coarse level
                                        (_optimize.global_search): a start
    _optimize.powell_stage(...)      Powell on each level, coarse to fine
                                        (_optimize.powell): parameters
    _result(...)                     -> RegistrationResult (index and world
                                        matrices, parameters, records; the
                                        class and warp() live in
                                        registration_result.py)
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import warnings
from dataclasses import dataclass

import numpy as np

from . import _inputs, _twins, _world
from . import _optimize as _opt
from . import transforms as tf
from ._kernels import modes
from ._pyramid import smoothed
from .registration_result import RegistrationResult, RegistrationWarning, warp

__all__ = ["register", "warp", "RegistrationResult", "RegistrationWarning"]

logger = logging.getLogger("mireg")
# a library's logger stays silent until the application configures logging
# (without this, Python's last-resort handler would print every warning on
# stderr a second time, beside its RegistrationWarning)
logger.addHandler(logging.NullHandler())

METRICS = modes.METRICS


def register(
    reference_image,
    moving_image,
    *,
    transform="rigid",
    metric="alignment",
    sigma=1.5,
    smoothing=0.0,
    bins=None,
    spacing=None,
    reference_affine=None,
    moving_affine=None,
    reference_mask=None,
    moving_mask=None,
    initial=None,
    levels=None,
    global_search=None,
    max_angle=60.0,
    max_shift=0.2,
    max_samples=None,
    callback=None,
):
    """Register ``moving_image`` to ``reference_image``.

    Maximises normalised mutual information times gradient information
    (Pluim et al. 2000) -- or NMI, or MI -- over a translation, rigid,
    similarity or affine transform in world space, coarse to fine on a
    Gaussian pyramid with Powell's method, after a global search over
    rotations and shifts.

    Parameters
    ----------
    reference_image, moving_image : ndarray
        2-D images or 3-D volumes (same ndim; shapes may differ). Any real
        dtype; never modified.
    transform : {"rigid", "similarity", "translation", "affine"}
        Rigid has 3 parameters in 2-D and 6 in 3-D; similarity adds a
        scale; affine has 6 in 2-D and 12 in 3-D (started from the rigid
        solution: a rigid registration first, then the affine on the two
        finest levels).  Rotation is about the reference's centre.
    metric : {"alignment", "nmi", "mi"}
        Pluim's combined measure (NMI * G), NMI alone, or MI alone.
        G's own peak is not at the true pose where the two images'
        gradient magnitudes differ (a motion that lays strong gradients
        on weak ones changes its ``min`` term), so a volume's levels
        weigh it less: NMI * G**0.25 (see Notes); sharp edges make
        NMI's peak dominate, and on smooth, low-contrast volumes ``"nmi"``
        can still end closer (docs/performance.md).
    sigma : float
        Gaussian sigma (in pixels of each level of the reference) of the
        gradients in G; the moving image's is the same length in world
        units.
    smoothing : float
        Gaussian sigma, in pixels along the reference's finest axis (the
        same length in world units along every axis of both images), that
        both images are smoothed by before anything else; 0 (the default):
        not smoothed.  Noise moves the optimum: on a series of noisy
        volumes a sigma of 0.6-0.7 voxel halved the error of
        ``metric="nmi"`` (``mireg motion`` uses 0.7; SPM's realignment
        smooths by 5 mm FWHM, about that at 3 mm voxels).
        ``result.metric`` is the measure of the smoothed images.
    bins : int, optional
        Histogram bins per image on the finest level (a coarser level uses
        fewer, about ``sqrt(samples / 4)``, at least 12).  Default: 32 for
        images, 64 for volumes (whose finest level has the samples to fill
        them, and ends closer to the true pose with them).
    spacing : sequence of float, optional
        Voxel size per axis (both images); translations are then in these
        physical units and rotations are true rotations in space.  The
        shorthand for ``reference_affine = moving_affine = diag(spacing)``;
        not with the affines.
    reference_affine, moving_affine : array_like, shape (ndim+1, ndim+1), optional
        Each image's voxel-index -> world map (nibabel's ``img.affine`` in
        3-D): any voxel size, origin and orientation (a flipped axis
        included), but not sheared.  Give both or neither.  The images are
        then registered where they lie in world space; parameters are in
        world units (mm) along the world axes.
    reference_mask, moving_mask : ndarray of bool, optional
        Only pixels where the mask is True take part.
    initial : sequence of float or {"moments", "geometry"}, optional
        Starting parameters (world units, as ``result.parameters``), which
        disable the global search unless ``global_search=True``.  Or a
        translation-only start, in world space, from which the global
        search (on by default) proceeds: "moments" moves the centre of
        mass (of intensity above each image's minimum, within its mask)
        onto the other's, "geometry" the centre of the field of view --
        SimpleITK's ``CenteredTransformInitializer`` and dipy's
        ``transform_centers_of_mass`` / ``transform_geometric_centers``.
    levels : sequence of int, optional
        Shrink factors, strictly decreasing (coarse to fine), e.g.
        ``(4, 2, 1)``; an axis is shrunk less where the factor would leave
        it fewer than 8 samples. Default: halving while the longest side
        stays at least 48 pixels (24 in 3-D), at most 4 levels, each axis
        shrunk only while it keeps 48 (24) samples, so a strip or a thin
        volume is shrunk along its long axes only; the global search runs
        on a coarser level still (each axis 16-31 px, 10-19 in 3-D).
    global_search : bool, optional
        Grid search over rotations (within ``max_angle`` degrees) and shifts
        (within ``max_shift`` times the field of view) at a coarse level,
        then Powell from the best candidates.  Default: on unless
        ``initial`` is a parameter vector.
    max_samples : int or sequence of int, optional
        Reference samples per level at most: a level with more is sampled
        on a regular grid of stride 2, 3, ... (deterministic); 0 uses every
        pixel.  Default: 32768 in 2-D (every pixel up to ~180x180); in 3-D
        65536 on the finest level (the 6 parameters of a volume need more)
        and 16384 on the coarser ones, which only hand a start on (as
        ``register_stack``'s local search): on larger images, much faster
        than every pixel, at a similar accuracy.  A sequence gives one
        limit per level of ``levels`` (which it then needs), as
        elastix's ``NumberOfSpatialSamples`` per resolution: coarse levels
        only hand a start to the next one and may use fewer (the global
        search's level gets the first limit).
    callback : callable, optional
        ``callback(level, parameters, value)`` after each level (an affine
        run: the rigid levels, then the affine ones, counted on; a second
        walk down the pyramid, see Notes, counts from 0 again).

    Returns
    -------
    RegistrationResult
        ``.matrix`` maps reference index to moving index coordinates,
        ``.world_matrix`` reference world to moving world coordinates.
        Its ``warnings`` list what makes the pose doubtful, if anything.

    Raises
    ------
    ValueError
        Mismatched ndim, NaN/inf, constant images, an option out of range
        (each named; a sheared, singular or malformed affine included), no
        overlap at the answer.
    TypeError
        Non-numeric images, an option of the wrong type, a mask that is
        not boolean (or integers 0 and 1).

    Warns
    -----
    RegistrationWarning
        No pose the global search tried overlaps the reference by enough
        samples, or a level's measure is not a number.  The same message
        is in ``result.warnings`` and logged (level WARNING) on the
        "mireg" logger, as scikit-image warns and SimpleITK logs.

    Notes
    -----
    Samples that the transform maps outside the moving image are left out
    of the histogram and of G (Studholme's overlap-invariant NMI), not
    counted as zeros.  The global search takes its candidates from both NMI
    and Pluim's measure and decides by NMI even when ``metric="alignment"``:
    G rewards lining up strong edges, and edges that are not anatomy (the
    border of a zero-filled field of view left by an earlier resampling)
    can pull it into a wrong basin far from the true pose, where NMI is
    not misled; Pluim's measure refines from there, where it is robust.  Coarse levels
    interpolate linearly and run at most three Powell iterations; the
    finest level uses cubic B-splines and runs until Powell's ``ftol``,
    or, on a volume whose coarser level handed it a start and with 32768
    samples or more (e.g. a 2 mm or 1 mm brain), runs COBYQA
    (scipy's trust-region method on quadratic models: about a quarter of
    the evaluations) until its trust region is 0.01 pixel.  On a volume
    Pluim's measure scores NMI * G**0.25 (every level, the global search's
    too): G's own peak lies off the true pose where the two images'
    gradient magnitudes differ (the smaller magnitude moves with the pose),
    which on a smooth volume pulled the answer by a tenth of a voxel;
    images keep the product.
    With ``metric="nmi"`` or ``"mi"``, and for volumes with every metric,
    the finest level shares each moving value between its two nearest bins
    (a linear Parzen window) and its line searches stop within 0.01 pixel:
    whole counts make the cost a staircase.  With ``metric="nmi"`` or
    ``"mi"`` it also samples the reference at a random point of each
    sample's grid cell (fixed seed): samples on the grid bias the optimum
    toward whole-voxel poses (interpolation artefacts).  Pluim's measure
    keeps its samples on the grid (measured better), and on images its
    whole counts (the window was no better overall there, and slower).
    Gradients for G are smoothed with the border extended by its nearest
    value (zero padding would create false edges at the frame), each
    image's along its own grid axes, and compared in world space.
    Deterministic: same inputs, same bits, whether evaluations ran on one
    core or two, in ``register`` or under ``register_many``.

    The answer never scores worse, on the finest level, than a pose the
    global search polished (or the start): if one does, the pyramid is
    walked again from it.  Intensities only matter through their bins and
    gradients: an image whose range is below 2**-32 or above 2**64 is
    scaled by a power of two first (exactly; its bins do not change), so
    ``1e300 * image`` registers as ``image`` does.

    References
    ----------
    .. [1] J.P.W. Pluim, J.B.A. Maintz, M.A. Viergever (2000). Image
           registration by maximization of combined mutual information and
           gradient information. IEEE TMI 19(8):809-814.
           :DOI:`10.1109/42.876307`
    .. [2] C. Studholme, D.L.G. Hill, D.J. Hawkes (1999). An overlap
           invariant entropy measure of 3D medical image alignment.
           Pattern Recognition 32(1):71-86.
           :DOI:`10.1016/S0031-3203(98)00091-0`

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage as ndi
    >>> from skimage import data, transform
    >>> import mireg
    >>> reference = transform.rescale(data.camera() / 255.0, 0.5)
    >>> moving = ndi.shift(reference, (3.0, -5.0), order=3)
    >>> result = mireg.register(reference, moving, transform="translation")
    >>> np.round(result.parameters, 1)  # moving(x + t) = reference(x)
    array([ 3., -5.])

    The same pair in world space, the moving image stored upside down
    (its first axis flipped, as LAS against RAS) with pixels twice as
    large: its affine places it where it was.

    >>> stored = moving[::-1][::2, ::2]
    >>> moving_affine = [[-2, 0, moving.shape[0] - 1], [0, 2, 0], [0, 0, 1]]
    >>> result = mireg.register(
    ...     reference, stored, transform="translation",
    ...     reference_affine=np.eye(3), moving_affine=moving_affine)
    >>> np.round(result.world_matrix[:2, 2], 1)  # world: index units here
    array([ 3., -5.])
    """
    start = initial if isinstance(initial, str) else None
    inputs = _inputs.validate(
        reference_image,
        moving_image,
        transform,
        metric,
        sigma,
        smoothing,
        bins,
        spacing,
        reference_mask,
        moving_mask,
        None if start is not None else initial,
        levels,
        max_samples,
    )
    global_search, max_angle, max_shift = _inputs.checked_search_options(
        global_search, max_angle, max_shift, callback
    )
    ndim = inputs.reference.ndim
    frames = _world.checked_frames(reference_affine, moving_affine, spacing, inputs.spacing, ndim)
    # a small registration that starts on the twins ends on them: a level
    # never waits for Numba halfway through it (_twins.registration)
    with _twins.registration(inputs.reference.size + inputs.moving.size):
        if inputs.smoothing > 0:
            inputs = _smoothed(inputs, frames)
        ref = inputs.reference
        _inputs.check_start(start, transform, inputs.initial, global_search)
        center = _world.center(frames[0], ref.shape)
        extent = _world.extent(frames[0], ref.shape)
        radius = float(np.mean(np.array(ref.shape, float) * frames[0].spacing)) / 2.0
        unit_length = float(np.mean(frames[0].spacing))
        shrinks = inputs.shrinks or _opt.default_shrinks(ref.shape, ndim)
        nominal_plan = _opt.level_plan(ref.shape, shrinks, inputs.shrinks is not None)
        plan = [f for _, f in nominal_plan]
        stages = _stages(transform, plan, inputs.initial is not None)
        kind = stages[0][0]
        if global_search is None:
            global_search = inputs.initial is None
        if inputs.initial is not None:
            params = inputs.initial.copy()
        elif start is not None:
            params = _world.initial_parameters(start, kind, inputs, frames)
        else:
            params = tf.identity_parameters(ndim, kind)
        limits = _inputs.samples_by_level(inputs.max_samples, inputs.shrinks, nominal_plan)
        prepare = _opt.level_maker(inputs, plan, center, kind, metric, frames, limits)
        units = _opt.parameter_units(ndim, kind, radius, unit_length)

        records, nfev, candidates = [], 0, None
        if global_search:
            params, record, candidates = _opt.search_stage(
                prepare, ref.shape, kind, metric, extent, params, units, max_angle, max_shift
            )
            record["transform"] = kind
            records.append(record)
            nfev += record["evaluations"]
        level_index = 0
        for number, (stage_kind, stage_levels) in enumerate(stages):
            if stage_kind != kind:
                params = tf.convert(params, ndim, kind, stage_kind, center)
                units = _opt.parameter_units(ndim, stage_kind, radius, unit_length)
                kind = stage_kind
            stage = _Stage(
                functools.partial(prepare, kind=kind), stage_levels, metric, units, kind
            )
            # the search's candidates are of the first stage's kind
            params, value = _walk_pyramid(
                stage, params, candidates if number == 0 else None, records, callback, level_index
            )
            restart = records[-1].pop("restart", None)
            if restart is not None:
                params, value = _restart(stage, restart, params, value, records, callback)
            level_index += len(stage_levels)
        nfev += sum(r["evaluations"] for r in records if r["stage"] != "search")
        result = _result(params, value, kind, metric, nfev, records, inputs, center, frames)
    _report_warnings(result)
    return result


def _smoothed(inputs, frames):
    """``inputs`` with both images smoothed by a Gaussian of
    ``inputs.smoothing`` pixels along the reference's finest axis: the same
    length in world units along every axis of either image (scipy's
    Gaussian, borders extended by their nearest values)."""
    sigma_px = inputs.smoothing
    ref_spacing, mov_spacing = frames[0].spacing, frames[1].spacing
    return dataclasses.replace(
        inputs,
        reference=smoothed(inputs.reference, sigma_px, ref_spacing),
        moving=smoothed(
            inputs.moving, sigma_px * ref_spacing.min() / mov_spacing.min(), mov_spacing
        ),
        ranges=None,
    )


@dataclass(frozen=True)
class _Stage:
    """One transform kind's walk down the pyramid: ``prepare(factors,
    cubic)`` builds its levels, ``levels`` are ``(factors, finest)`` coarse
    to fine, Powell optimises ``metric`` in ``units``."""

    prepare: object
    levels: list
    metric: str
    units: np.ndarray
    kind: str


def _walk_pyramid(stage, params, candidates, records, callback, first=0):
    """Powell on each level of ``stage``, coarse to fine, from ``params``;
    the search's ``candidates`` are checked on the finest level.  Each
    level's record is appended to ``records``; ``callback`` numbers the
    levels from ``first``.  Returns (parameters, cost)."""
    for index, (factors, finest) in enumerate(stage.levels):
        params, value, record = _opt.powell_stage(
            stage.prepare,
            factors,
            finest,
            stage.metric,
            params,
            stage.units,
            candidates if finest else None,
            refine=index > 0,
        )
        record["transform"] = stage.kind
        records.append(record)
        if callback is not None:
            callback(first + index, params.copy(), -value)
    return params, value


def _restart(stage, restart, params, value, records, callback):
    """A pose the search saw scores better on the finest level than the
    answer: walk the pyramid again from it, and if that still ends below
    it, polish it on the finest level alone (which cannot end below its
    start); the best answer wins.  Returns (parameters, cost)."""
    candidate, candidate_cost = restart
    again, cost = _walk_pyramid(stage, candidate, None, records, callback)
    if not cost <= candidate_cost:
        polished, polished_cost, record = _opt.powell_stage(
            stage.prepare, stage.levels[-1][0], True, stage.metric, candidate, stage.units
        )
        record["transform"] = stage.kind
        records.append(record)
        if polished_cost < cost:
            again, cost = polished, polished_cost
    if cost < value:
        return again, cost
    return params, value


def _report_warnings(result):
    """Move the stages' warnings into ``result.warnings``; each is logged
    on the "mireg" logger and issued as a ``RegistrationWarning``."""
    for record in result.levels:
        message = record.pop("warning", None)
        if message is not None:
            result.warnings.append(message)
    for message in result.warnings:
        logger.warning(message)
        warnings.warn(message, RegistrationWarning, stacklevel=3)


def _stages(transform, shrinks, from_parameters):
    """[(kind, [(shrink, finest), ...]), ...]: the transform and the levels
    of each stage.  An affine registration is rigid on all levels but the
    finest, then affine on the two finest (from given parameters: affine on
    every level)."""
    last = len(shrinks) - 1
    levels = [(shrink, index == last) for index, shrink in enumerate(shrinks)]
    if transform != "affine" or from_parameters:
        return [(transform, levels)]
    return [("rigid", levels[: max(1, last)]), ("affine", levels[max(0, last - 1) :])]


def _result(params, value, kind, metric, nfev, records, inputs, center, frames):
    """The ``RegistrationResult`` of the final parameters and cost."""
    ndim = inputs.reference.ndim
    physical = tf.physical_matrix(params, ndim, kind, center)
    matrix = tf.index_matrix(physical, frames[0].affine, frames[1].affine)
    return RegistrationResult(
        matrix=matrix,
        parameters=params,
        kind=kind,
        metric=float(-value),
        metric_name=metric,
        nfev=nfev,
        levels=records,
        spacing=frames[0].spacing,
        center=center,
        reference_shape=inputs.reference.shape,
        reference_affine=frames[0].affine.copy(),
        moving_affine=frames[1].affine.copy(),
        moving_shape=inputs.moving.shape,
    )
