"""One pyramid level, prepared once: everything the cost kernel reads.

Where this sits in :func:`mireg.register`::

    _inputs.validate                checked images, masks, options
        -> Level(...)               this module: one per shrink factor,
                                    built by _optimize.level_maker
             .data                  records.LevelData: samples, moving image
             .transform(origin, u)  records.Transform: x -> index map
        -> _optimize.global_search  Level.stats_grid, then Level.minimize
        -> _optimize.powell         Level.minimize (Numba Powell) or scipy's
                                    Powell on Level.stats, level by level
        -> RegistrationResult

Reference side: sample coordinates (masked, subsampled on a regular grid if
there are more than ``max_samples``), their intensity bins and smoothed
gradients, in one table (on the finest level of NMI or MI, each sample
moved to a random point of its grid cell: ``_jitter``).  Moving side: the
image (or its cubic B-spline coefficients), its smoothed gradient stack,
its intensity range and mask.
Each level's grid is tied to world space (index -> world, through each
image's ``_world.Frame``), so parameters stay in world units across levels:
the true scale between grids, no blind x2, and the two images may differ
in shape, voxel size, origin and axis directions.  Each image's gradients
are taken along its own grid axes; the cost turns them into one frame
(``cost.gradient_rotation``).  Kernel arrays are 3-D (a 2-D image is a
(1, rows, cols) volume): see ``_kernels/records.py``.  The level images
and the reference's smoothing come from ``_pyramid``, computed where the
level reads them.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
from scipy import ndimage as ndi

from . import _twins, _world
from . import transforms as tf
from ._config import (
    BSPLINE_KERNEL_MIN_SIZE,
    JITTER_SEED,
    MIN_OVERLAP_FRACTION,
    VOLUME_GRADIENT_POWER,
)
from ._embed import embed3, embed_affine, embed_linear
from ._information import LOG_TABLE
from ._kernels import cost as _cost
from ._kernels import powell as _powell
from ._kernels import samples as _samples
from ._kernels.bspline import prefilter_axis, prefilter_rows
from ._kernels.modes import metric_code, transform_code
from ._kernels.records import Criterion, LevelData, PowellOptions, Transform
from ._parallel import run_chunks, side_by_side
from ._pyramid import Pyramid, axis_shrinks, downsample, smoothed, smoothed_at

__all__ = [
    "Level",
    "Pyramid",
    "axis_shrinks",
    "downsample",
    "smoothed",
    "level_grid",
    "world_grid",
]


def level_grid(full_shape, level_shape, spacing):
    """index -> physical map of a resized grid (pixel centres line up, as
    skimage.transform.resize places them)."""
    factors = np.array(full_shape, float) / np.array(level_shape, float)
    level_spacing = np.asarray(spacing, float) * factors
    origin = np.asarray(spacing, float) * (0.5 * factors - 0.5)
    return tf.grid_to_physical(level_spacing, origin), level_spacing


def world_grid(frame, full_shape, level_shape):
    """index -> world map of a resized grid of the image placed by
    ``frame`` (a ``_world.Frame``), and its voxel size: :func:`level_grid`
    for a plain frame, else the frame's affine after the level -> full
    index map."""
    grid, level_spacing = level_grid(full_shape, level_shape, frame.spacing)
    if frame.plain:
        return grid, level_spacing
    factors = np.array(full_shape, float) / np.array(level_shape, float)
    return frame.affine @ tf.grid_to_physical(factors, 0.5 * factors - 0.5), level_spacing


def _sampled(shape, reference_mask, shrink, max_samples):
    """Where the reference is sampled at this level, and the grid stride:
    the (downsampled) mask, thinned to a regular grid of stride 2, 3, ...
    if more than ``max_samples`` pixels remain (0 or None: no limit)."""
    ndim = len(shape)
    keep = np.ones(shape, bool)
    if reference_mask is not None:
        keep &= downsample(reference_mask, shrink, is_mask=True)
    stride = 1
    if max_samples and keep.sum() > max_samples:
        stride = int(math.ceil((keep.sum() / max_samples) ** (1.0 / ndim)))
        sub = np.zeros_like(keep)
        sub[(slice(None, None, stride),) * ndim] = True
        keep &= sub
    return keep, stride


def _image_and_range(pyramid, shrink):
    """A level image of ``pyramid`` and its (min, max) as floats."""
    lo, hi = pyramid.value_range(shrink)
    return pyramid(shrink), (float(lo), float(hi))


def _coefficients(mov, cubic):
    """What the cost kernel interpolates: the cubic B-spline coefficients
    of the level image ``mov``, with their border (``bordered``),
    or ``mov`` itself; 3-D, C-contiguous float64."""
    if cubic:
        return bordered(embed3(spline_coefficients(mov)), planar=mov.ndim == 2)
    return np.ascontiguousarray(embed3(mov), dtype=np.float64)


def bordered(coef, *, planar):
    """Spline coefficients (3-D; a 2-D image as one plane, ``planar``) with
    the border the cost kernel's ``cubic2_bordered`` / ``cubic3_bordered``
    read: one line before and two after along each interpolated axis,
    extended as scipy's ``mode="mirror"`` extends coefficients (NumPy's
    ``"reflect"``), so every sample's 4 x 4 (x 4) taps lie inside."""
    edge = (1, 2)
    return np.pad(coef, ((0, 0) if planar else edge, edge, edge), mode="reflect")


# scipy's pole of the cubic B-spline, sqrt(3) - 2 (ni_splines.c), and the
# gain it applies before the recursions
_POLE = -0.267949192431122706472553658494127633
_GAIN = (1.0 - _POLE) * (1.0 - 1.0 / _POLE)


def spline_coefficients(image):
    """``ndi.spline_filter(image, order=3, mode="mirror")``, the same bits.

    From ``BSPLINE_KERNEL_MIN_SIZE`` pixels, mireg's kernels filter every
    axis (``_kernels.bspline``: many lines at once, contiguous reads);
    smaller images go to scipy whole (no kernel to compile)."""
    if image.size < BSPLINE_KERNEL_MIN_SIZE:
        return ndi.spline_filter(image, order=3, mode="mirror")
    # the first pass reads the image and writes the result, the others
    # filter that in place: no copy of the image first
    source = np.ascontiguousarray(image, dtype=np.float64)
    out = np.empty(image.shape)
    shape = out.shape
    for axis in range(out.ndim):
        n = shape[axis]
        if n == 1:  # scipy leaves a line of one value as it is
            continue
        z_n_1 = math.pow(_POLE, n - 1)
        if axis == out.ndim - 1:
            prefilter_rows(source.reshape(-1, n), out.reshape(-1, n), _GAIN, _POLE, z_n_1)
        else:
            lines = (math.prod(shape[:axis]), n, math.prod(shape[axis + 1 :]))
            prefilter_axis(source.reshape(lines), out.reshape(lines), _GAIN, _POLE, z_n_1)
        source = out
    if source is not out:  # every axis of one sample
        out[...] = source
    return out


def _moving_gradient(mov, sigma, spacing, gradients):
    """The smoothed gradient stack G reads (a placeholder of the kernels'
    type without ``gradients``)."""
    if not gradients:  # never read without G: no smoothing
        return np.zeros((1, 1, 1, len(spacing)), np.float32)
    # interleaved (..., ndim): a corner's components in one load; float32
    # (as the reference's in the table): half the memory of a volume's
    # stack, so fewer cache misses per evaluation
    smooth = embed3(smoothed(mov, sigma, spacing))
    spacing = np.asarray(spacing, float)
    if _twins.register_due(_samples.interleaved_gradient, smooth.size):
        return _twins.register_run(_twins.interleaved_gradient, smooth, spacing)
    out = np.empty(smooth.shape + (spacing.size,), np.float32)
    return _samples.interleaved_gradient(smooth, spacing, out)


def _reference_table(ref, value_range, keep, stride, sigma, spacing, gradients, n_bins, jitter):
    """The reference's sample table (``records.LevelData.table``) at the
    samples ``keep`` of the level image ``ref``, whose (min, max) is
    ``value_range``."""
    lo, hi = value_range
    args = (
        embed3(ref),
        # read at the samples and their neighbours only; without G the
        # table's gradient columns are never read: zero, no Gaussian
        embed3(smoothed_at(ref, sigma, spacing, keep) if gradients else np.zeros_like(ref)),
        np.asarray(spacing, float),
        embed3(keep),
        lo,
        n_bins / (hi - lo),
        n_bins,
    )
    if _twins.register_due(_samples.fill_table, ref.size):
        table = _twins.register_run(_twins.fill_table, *args)
    else:
        table = _samples.fill_table(*args)
    if jitter:
        _jitter(table, embed3(ref), stride, lo, n_bins / (hi - lo), n_bins)
    return table


def _jitter(table, image, stride, lo, scale, n_bins):
    """Move each sample of ``table`` to a random point of its grid cell
    (uniform within +-stride/2 along each axis of the image, inward at its
    borders; a fixed seed: the same points every run) and re-bin it from the
    image's linear interpolation there.  Samples on the voxel grid see the
    moving image at one fractional offset under a translation, and the
    interpolation's smoothing then varies with that offset: a bias toward
    whole-voxel poses (interpolation artefacts, Pluim et al. 2000, Tsao
    2003) that jittered samples average out.  Only for levels without
    Pluim's gradient term: the table's gradients stay the grid point's."""
    rng = np.random.default_rng(JITTER_SEED)
    coords = table[:, :3].astype(np.float64)
    for axis, n in enumerate(image.shape):
        if n > 1:
            step = rng.uniform(-0.5 * stride, 0.5 * stride, len(coords))
            moved = coords[:, axis] + step
            # a step out of the image is taken inward instead: clipping would
            # pile samples onto the border planes
            outside = (moved < 0.0) | (moved > n - 1.0)
            moved[outside] = coords[outside, axis] - step[outside]
            # (an axis shorter than half a cell: out either way)
            coords[:, axis] = np.clip(moved, 0.0, n - 1.0)
    values = ndi.map_coordinates(image, coords.T, order=1, mode="nearest")
    table[:, :3] = coords
    table[:, 7] = np.clip(((values - lo) * scale).astype(np.int64), 0, n_bins - 1)


class Level:
    """Prepared reference and moving data for one shrink factor.

    Parameters
    ----------
    reference, moving : ndarray of float64
        The full-resolution images (2-D or 3-D, same ndim).
    shrink : int or sequence of int
        This level's shrink factor, for every axis or one per axis.
    spacing : ndarray
        Voxel size of both full-resolution images (if ``frames`` is None).
    sigma : float
        Gaussian sigma, in pixels of this level, of the gradients (the
        reference's pixels: the moving image's sigma is the same length in
        world units).
    bins : int
        Histogram bins per image at most (coarse levels use fewer).
    reference_mask, moving_mask : ndarray of bool or None
        Full-resolution masks.
    cubic : bool
        Interpolate the moving image by cubic B-spline (else linearly).  A
        cubic level without ``use_gradient`` (the finest level of NMI or
        MI) also moves its reference samples off the grid (``_jitter``)
        and windows the moving values between bins (``LevelData.parzen``);
        Pluim's measure keeps grid samples (jittered ones pulled its optimum
        off on the benchmark pairs), and whole counts on images, where the
        window was no better overall and took more evaluations; a volume's
        finest level is windowed for every measure (with 64 bins it ends
        closer to the true pose: docs/performance.md).
    max_samples : int or None
        Reference samples at most (0 or None: every pixel).
    center : ndarray
        Rotation centre in world coordinates (ndim values).
    kind : str
        Transform kind, one of ``transforms.TRANSFORMS``.
    use_gradient : bool
        Whether evaluations compute Pluim's gradient term.
    pyramids : (Pyramid, Pyramid), optional
        The images' pyramids, to share downsampled images between levels.
    frames : (_world.Frame, _world.Frame), optional
        Where the reference and the moving image lie in world space; None:
        both plain, of voxel size ``spacing``.
    gradients : bool, optional
        Prepare the gradient data G reads (smoothed gradients of both
        images); default ``use_gradient``.  A level without them skips
        those Gaussians, and its kernels never read the placeholders.

    Attributes
    ----------
    data : records.LevelData
        What the cost kernels read.
    ndim, factors, shrink, shape, stride, n_bins, min_overlap
        The level's dimensionality, shrink factor per axis and the largest
        of them, image shape, sampling
        stride, histogram bins and the overlap below which a pose scores
        "no overlap".
    """

    def __init__(
        self,
        reference,
        moving,
        shrink,
        *,
        spacing,
        sigma,
        bins,
        reference_mask,
        moving_mask,
        cubic,
        max_samples,
        center,
        kind,
        use_gradient,
        pyramids=None,
        frames=None,
        gradients=None,
    ):
        ndim = reference.ndim
        # the gradient data G needs: prepared for G's levels and on request
        # (the global search ranks by G on a level that optimises NMI)
        self.gradients = use_gradient if gradients is None else bool(gradients)
        if frames is None:
            frames = (_world.plain_frame(spacing),) * 2
        self.ndim = ndim
        # one factor per axis; ``shrink`` the largest (Powell's step scale)
        self.factors = axis_shrinks(shrink, ndim)
        self.shrink = max(self.factors)
        if pyramids is None:  # this level alone: resized from the full images
            pyramids = (Pyramid(reference, cascade=False), Pyramid(moving, cascade=False))
        (ref, ref_range), (mov, (mov_lo, mov_hi)) = side_by_side(
            [partial(_image_and_range, pyramid, shrink) for pyramid in pyramids],
            reference.size + moving.size,
        )
        self.shape = ref.shape
        ref_grid, ref_spacing = world_grid(frames[0], reference.shape, ref.shape)
        mov_grid, mov_spacing = world_grid(frames[1], moving.shape, mov.shape)

        keep, self.stride = _sampled(ref.shape, reference_mask, shrink, max_samples)
        n_samples = int(np.count_nonzero(keep))
        if n_samples == 0:
            raise ValueError("`reference_mask` leaves no reference pixels to compare")
        # a coarse level has few samples: fewer bins keep its histogram
        # populated (a smoother cost) and its entropies cheap
        n_bins = int(min(bins, max(12, round(math.sqrt(n_samples / 4.0)))))
        self.n_bins = n_bins
        # the reference's sample table and the moving image's arrays are
        # independent: on a large level both cores prepare them, heaviest first
        coefficients, grad, table = side_by_side(
            [
                partial(_coefficients, mov, cubic),
                partial(
                    _moving_gradient,
                    mov,
                    # the reference's smoothing length in world units (1.0
                    # exactly, sigma untouched, for a shared voxel size)
                    sigma * (frames[0].spacing.min() / frames[1].spacing.min()),
                    mov_spacing,
                    self.gradients,
                ),
                partial(
                    _reference_table,
                    ref,
                    ref_range,
                    keep,
                    self.stride,
                    sigma,
                    ref_spacing,
                    self.gradients,
                    n_bins,
                    # the finest level of NMI or MI: jittered samples
                    cubic and not use_gradient,
                ),
            ],
            ref.size + mov.size,
        )
        if moving_mask is not None:
            mask = np.ascontiguousarray(
                embed3(downsample(moving_mask, shrink, is_mask=True)), dtype=np.uint8
            )
        else:
            mask = np.zeros((0, 0, 0), np.uint8)  # the kernels' type, never read
        self.data = LevelData(
            table=table,
            moving=coefficients,
            moving_grad=grad,
            moving_mask=mask,
            has_moving_mask=moving_mask is not None,
            moving_lo=mov_lo,
            moving_scale=n_bins / (mov_hi - mov_lo),
            n_bins=n_bins,
            cubic=cubic,
            # the finest level of NMI or MI, or of a volume: windowed bins
            parzen=cubic and (not use_gradient or ndim == 3),
            use_gradient=use_gradient,
            log_table=LOG_TABLE,
            oriented=frames[0].oriented or frames[1].oriented,
            world_to_reference=embed_linear(frames[0].directions.T),
            moving_to_world=embed_linear(frames[1].directions),
        )
        self.min_overlap = max(8, int(MIN_OVERLAP_FRACTION * n_samples))

        # the fixed part of every Transform record of this level
        self.kind = transform_code(kind)
        self.center = np.zeros(3)
        self.center[3 - ndim :] = center
        self.ref_grid = embed_affine(ref_grid)
        self.mov_inverse = embed_affine(np.linalg.inv(mov_grid))

    @property
    def n_samples(self):
        return self.data.table.shape[0]

    def transform(self, origin, units):
        """The ``records.Transform`` of parameters ``origin + x * units``."""
        return Transform(
            origin=origin,
            units=units,
            kind=self.kind,
            ndim=self.ndim,
            center=self.center,
            ref_grid=self.ref_grid,
            mov_inverse=self.mov_inverse,
        )

    def criterion(self, metric):
        """The ``records.Criterion`` scoring ``metric`` at this level: a
        volume's levels weigh G by ``VOLUME_GRADIENT_POWER``."""
        return Criterion(
            metric=metric_code(metric),
            min_overlap=self.min_overlap,
            gradient_power=VOLUME_GRADIENT_POWER if self.ndim == 3 else 1.0,
        )

    def stats(self, x, origin, units, n_chunks=0):
        """(H0, H1, H01, G, overlap) at parameters ``origin + x * units``.

        Serially through ``evaluate_grid`` (one row), which the search
        compiles anyway, rather than an entry point of its own.  The
        parallel kernel is called from Python, never from inside another
        jitted function: when a process's first parallel launch came through
        such a wrapper, every later launch stalled (Numba 0.68, OpenMP
        threading layer)."""
        transform = self.transform(origin, units)
        if n_chunks:
            matrix, rotation = _cost.parameter_matrices(x, transform)
            rotation = _cost.gradient_rotation(rotation, self.data)
            return _cost.evaluate_parallel(self.data, matrix, rotation, n_chunks)
        xs = np.ascontiguousarray(x, dtype=np.float64)[np.newaxis]
        h0, h1, h01, g, overlap = _cost.evaluate_grid(xs, transform, self.data)[0]
        return h0, h1, h01, g, int(overlap)

    def minimize(
        self, origin, units, metric, bounds, direc, xtol, ftol, maxfev, maxiter=None, n_chunks=0
    ):
        """Powell (scipy's bounded variant, ported) on ``metric`` from
        ``origin``, in one serial nogil call: (x, cost, evaluations).
        A 2-D ``origin`` runs from each row in the same call (the rows
        dealt to ``n_chunks`` threads if not 0) and returns arrays of those."""
        reach = np.asarray(bounds, dtype=np.float64)
        origin = np.asarray(origin, dtype=np.float64)
        options = PowellOptions(
            lower=reach[:, 0].copy(),
            upper=reach[:, 1].copy(),
            direc=np.asarray(direc, dtype=np.float64),
            xtol=float(xtol),
            ftol=float(ftol),
            maxfev=int(maxfev),
            maxiter=int(np.iinfo(np.int64).max if maxiter is None else maxiter),
        )
        criterion = self.criterion(metric)
        if origin.ndim == 1:
            transform = self.transform(origin, units)
            xs, fs, nfevs = _powell.minimize_each(
                origin[np.newaxis], options, criterion, transform, self.data
            )
            return xs[0], fs[0], nfevs[0]
        # each run replaces the origin (of the first row's record) by its row
        transform = self.transform(origin[0], units)
        if not n_chunks:
            return _powell.minimize_each(origin, options, criterion, transform, self.data)
        # start q to chunk q % n_chunks, each chunk one serial nogil call
        rows = [np.arange(c, len(origin), n_chunks) for c in range(n_chunks)]
        parts = run_chunks(
            _powell.minimize_each,
            [(origin[r], options, criterion, transform, self.data) for r in rows],
        )
        xs, fs, nfevs = (np.empty((len(origin),) + p.shape[1:], p.dtype) for p in parts[0])
        for r, (x, f, nfev) in zip(rows, parts):
            xs[r], fs[r], nfevs[r] = x, f, nfev
        return xs, fs, nfevs

    def stats_grid(self, xs, origin, units, n_chunks=0, *, use_gradient=None):
        """``stats`` for each row of ``xs``, in one kernel call (on
        ``n_chunks`` threads if not 0); ``use_gradient`` overrides the
        level's own setting (None: keep it)."""
        data = self.data
        if use_gradient is not None:
            if use_gradient and not self.gradients:
                raise RuntimeError("G on a level prepared without gradients (gradients=True)")
            data = data._replace(use_gradient=use_gradient)
        transform = self.transform(origin, units)
        if not n_chunks:
            return _cost.evaluate_grid(xs, transform, data)
        bounds = np.linspace(0, len(xs), n_chunks + 1).round().astype(int)
        parts = run_chunks(
            _cost.evaluate_grid,
            [(xs[a:b], transform, data) for a, b in zip(bounds[:-1], bounds[1:])],
        )
        return np.concatenate(parts)
