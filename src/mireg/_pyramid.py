"""The images of a pyramid level, and the smoothing their gradients take,
computed where they are read.

==================== ====================================================
``downsample``       an image at 1/shrink resolution: scikit-image's
                     anti-aliased ``resize``, the same bits
``Pyramid``          ``downsample`` of one image per level, each level
                     from a finer one (volumes)
``smoothed``         the edge-padded Gaussian of a level image
``smoothed_at``      the same values at a sample grid's rows and columns
                     only (and their neighbours), for the reference
==================== ====================================================

A level's linear resize (``ndi.zoom``, order 1) reads at most two input
samples per output sample along each axis, and the reference's sample
table reads its smoothed image at the samples and their neighbours only:
both Gaussians are computed, one axis after the other, at those indices
alone (``_kernels.gaussian.smooth_picked``), the same bits as the whole
filtered image there.  The work of a level then follows its samples (a
1/8 level of a 2048 x 2048 image reads 512 of its rows; its global
search's 1/128 level 32) instead of the full image's size times the
kernel's width (254 taps a side at 1/128).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

from . import _twins
from ._config import ZOOM_KERNEL_MIN_SIZE
from ._embed import embed3
from ._fused import half_kernel
from ._kernels.gaussian import smooth_picked
from ._kernels.resample import zoom_linear


def axis_shrinks(shrink, ndim):
    """One integer shrink factor per axis, from one for all or a sequence."""
    factors = tuple(int(f) for f in np.broadcast_to(np.asarray(shrink), (ndim,)))
    if min(factors) < 1:
        raise ValueError(f"shrink factors must be >= 1, got {shrink!r}")
    return factors


def smooth_at(image, sigma, picks, *, edge):
    """The Gaussian of ``image`` (scipy's kernels of ``sigma``, one value
    per axis; 0 leaves an axis as it is) extended past its borders by
    ``np.pad`` mode "edge" (``edge``) or "reflect" by each kernel's
    radius, at the indices ``picks[axis]`` (sorted int64 arrays) of each
    axis: a new C-contiguous float64 array of shape ``tuple(p.size for p
    in picks)``.  The same bits as ``_fused.smooth`` of the padded image at
    those samples, without the padded copy.  "reflect" needs each kernel's
    radius below its axis's length."""
    out = np.asarray(image, dtype=np.float64)
    for axis, (s, p) in enumerate(zip(sigma, picks)):
        shape = out.shape
        view = np.ascontiguousarray(out).reshape(
            math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1 :])
        )
        if s > 1e-15:
            half = half_kernel(float(s))
            if _twins.register_due(smooth_picked, view.size):
                part = _twins.register_run(_twins.smooth_picked, view, half, p, edge)
            else:
                part = np.empty((view.shape[0], p.size, view.shape[2]))
                smooth_picked(view, half, p, edge, part)
        elif p.size < shape[axis]:  # as _fused.smooth: the axis is not filtered
            part = view[:, p, :]
        else:
            continue
        out = part.reshape(shape[:axis] + (p.size,) + shape[axis + 1 :])
    return np.array(out, order="C") if out is image else np.ascontiguousarray(out)


def _scattered(part, picks, shape):
    """``part`` (the values at ``np.ix_(*picks)``) in an array of ``shape``,
    zeros elsewhere; ``part`` itself if the picks are every index.  The
    zeros are pages the system maps only where a value is written."""
    if all(p.size == n for p, n in zip(picks, shape)):
        return part
    full = np.zeros(shape)
    full[np.ix_(*picks)] = part
    return full


def _zoom_reads(n, m):
    """The input indices that a linear ``ndi.zoom`` (``grid_mode=True``,
    ``mode='mirror'``) of an axis of ``n`` samples to ``m`` reads: the two
    around each output's coordinate ``(o + 0.5) n / m - 0.5``, and a third
    where that coordinate is within rounding of a sample, mirrored into
    the axis."""
    if m >= n:
        return np.arange(n, dtype=np.int64)
    c = (np.arange(m) + 0.5) * (n / m) - 0.5
    first = np.floor(c - 1e-6).astype(np.int64)
    last = np.floor(c + 1e-6).astype(np.int64) + 1
    reads = np.concatenate([first, first + 1, last])
    reads = np.where(reads < 0, -reads, reads)
    reads = np.where(reads > n - 1, 2 * (n - 1) - reads, reads)
    return np.unique(np.clip(reads, 0, n - 1))


def downsample(image, shrink, *, is_mask=False, value_range=None):
    """Image at 1/shrink resolution (anti-aliased) and its grid scale.

    ``shrink`` is one factor for every axis or one per axis (an axis of
    factor 1 keeps its samples, unsmoothed: a strip or a thin volume is
    shrunk only along its long axes).  The result is
    ``skimage.transform.resize(image, shape, order=1, anti_aliasing=True,
    preserve_range=True)`` of a float64 image, the same bits: its Gaussian
    (``mode='mirror'``) is mireg's on the image extended by reflection,
    computed only at the samples the linear zoom reads (``smooth_at``).
    ``value_range``, if given, is ``(image.min(), image.max())``, which the
    result is clipped to (a caller resizing one image many times computes
    it once).
    """
    factors = axis_shrinks(shrink, image.ndim)
    if max(factors) == 1:
        return image
    shape = tuple(
        n if f == 1 else max(2, int(math.ceil(n / f))) for n, f in zip(image.shape, factors)
    )
    if is_mask:
        return _resize(image.astype(np.float64), shape, order=1, anti_aliasing=False) > 0.5
    factors = np.divide(image.shape, shape)
    sigma = np.maximum(0, (factors - 1) / 2)
    radii = [int(4.0 * s + 0.5) if s > 1e-15 else 0 for s in sigma]
    if any(r >= n for r, n in zip(radii, image.shape)):
        # a kernel wider than the axis: mirror images of mirror images
        return _resize(image, shape, order=1, anti_aliasing=True, preserve_range=True)
    picks = [_zoom_reads(n, m) for n, m in zip(image.shape, shape)]
    part = smooth_at(image, sigma, picks, edge=False)
    lo, hi = (image.min(), image.max()) if value_range is None else value_range
    if image.size >= ZOOM_KERNEL_MIN_SIZE:
        # the zoom's reads of `part` itself, without the full-size copy
        reads, weights = _zoom_plan(image.shape, shape, picks)
        out = np.empty(shape)
        zoom_linear(embed3(part), reads, weights, embed3(out), float(lo), float(hi))
        return out
    filtered = _scattered(part, picks, image.shape)
    out = ndi.zoom(filtered, [1 / f for f in factors], order=1, mode="mirror", grid_mode=True)
    return np.clip(out, lo, hi, out=out)


def _resize(*args, **kwargs):
    """``skimage.transform.resize``, imported on first use: most
    registrations (without masks) never need scikit-image."""
    from skimage.transform import resize

    return resize(*args, **kwargs)


def _mirrored(c, n):
    """scipy's ``map_coordinate`` (ni_interpolation.c), mode "mirror", of
    a coordinate outside ``[0, n - 1]``."""
    if n <= 1:
        return 0.0
    period = 2 * n - 2
    if c < 0:
        c = period * int(-c / period) + c
        return c + period if c <= 1 - n else -c
    c -= period * int(c / period)
    return period - c if c >= n else c


def _zoom_plan(in_shape, out_shape, picks):
    """``zoom_linear``'s reads (positions in ``picks``) and weights: per
    axis, each output's coordinate ``(o + 0.5) * (n / m) - 0.5`` mirrored
    into the axis, its lower and upper samples (the upper one mirrored
    past the end) and the weights ``1 - x`` and ``1 - (1 - x)``, in
    scipy's arithmetic (``NI_ZoomShift``, ``get_spline_interpolation_weights``).
    A 2-D image's plan is embedded as the kernels' 3-D (axis 0 unread)."""
    ndim = len(in_shape)
    size = max(out_shape)
    reads = np.zeros((3, 2, size), np.int64)
    weights = np.zeros((3, 2, size))
    for axis, (n, m, p) in enumerate(zip(in_shape, out_shape, picks)):
        c = (np.arange(m, dtype=np.float64) + 0.5) * (n / m) - 0.5
        for o in np.flatnonzero((c < 0) | (c > n - 1)):
            c[o] = _mirrored(c[o], n)
        start = np.floor(c)
        w_lo = 1.0 - (c - start)
        lower = start.astype(np.int64)
        upper = lower + 1
        upper = np.where(upper > n - 1, 2 * (n - 1) - upper, upper) if n > 1 else lower
        row = axis + 3 - ndim
        for k, index in enumerate((lower, upper)):
            position = np.searchsorted(p, index)
            if not np.array_equal(p[np.minimum(position, p.size - 1)], index):
                # _zoom_reads and this plan disagree: a bug, not bad input
                raise RuntimeError(f"internal error: a zoom read outside axis {axis}'s picks")
            reads[row, k, :m] = position
        weights[row, 0, :m] = w_lo
        weights[row, 1, :m] = 1.0 - w_lo
    return reads, weights


class Pyramid:
    """``downsample(image, shrink)`` for one image, each level computed once.

    With ``cascade`` (volumes), each level is computed from the finest
    level computed so far whose factors divide its own axis by axis (1/8
    from 1/2 by 4, not from the full image by 8).  Resizing ``n`` pixels to
    ``ceil(n / a)`` and then to ``ceil(ceil(n / a) / b) == ceil(n / (a
    b))`` puts the pixel centres where one resize by ``a b`` does (so
    :func:`level_grid` holds); the anti-aliasing Gaussians compound to
    sigma ``sqrt(((a-1)/2)^2 + (a (b-1)/2)^2)`` instead of ``(a b - 1) /
    2`` (1/8 via 1/2: 3.04 px instead of 3.5), and a coarse level of a
    volume is computed from a small image instead of the full one.
    Without it (images), every level is resized from the full image.  Each
    level's value range is found once (:meth:`value_range`); ``value_range``,
    if given, is ``(image.min(), image.max())``, found by the caller.
    """

    def __init__(self, image, cascade=True, value_range=None):
        self.ndim = image.ndim
        self.cascade = cascade
        self.levels = {(1,) * image.ndim: image}
        self.ranges = {} if value_range is None else {(1,) * image.ndim: value_range}

    def __call__(self, shrink):
        factors = axis_shrinks(shrink, self.ndim)
        if factors not in self.levels:
            bases = [b for b in self.levels if all(f % c == 0 for f, c in zip(factors, b))]
            if not self.cascade:
                bases = [(1,) * self.ndim]
            base = max(bases, key=lambda b: (math.prod(b), b))
            step = tuple(f // c for f, c in zip(factors, base))
            self.levels[factors] = downsample(
                self.levels[base], step, value_range=self.value_range(base)
            )
        return self.levels[factors]

    def value_range(self, shrink):
        """``(min, max)`` of the level image ``self(shrink)``, found once
        (its resizes clip to it, a level's binning starts from it)."""
        factors = axis_shrinks(shrink, self.ndim)
        if factors not in self.ranges:
            image = self(factors)
            self.ranges[factors] = (image.min(), image.max())
        return self.ranges[factors]


def _sigmas(sigma_px, level_spacing):
    """A gradient's Gaussian per axis: ``sigma_px`` pixels along the axis of
    finest spacing, isotropic in physical units."""
    spacing = np.asarray(level_spacing, float)
    return sigma_px * spacing.min() / spacing


def smoothed(image, sigma_px, level_spacing):
    """The image smoothed for its gradient: a Gaussian of ``sigma_px``
    pixels along the axis of finest spacing (isotropic in physical units),
    C-contiguous float64.

    Smoothing extends the border by its nearest value ('nearest'), not
    by zeros: zero padding would put strong false edges on the image
    borders, which then pull the registration towards aligning frames.
    The same bits as ``ndi.gaussian_filter(image, sigma, mode="nearest",
    truncate=4)``: mireg's Gaussian (scipy's sums) at every sample of the
    image extended by its edge values (``smooth_at``).
    """
    picks = [np.arange(n, dtype=np.int64) for n in image.shape]
    return smooth_at(image, _sigmas(sigma_px, level_spacing), picks, edge=True)


def smoothed_at(image, sigma_px, level_spacing, keep):
    """:func:`smoothed` where a sample table reads it: on the rows, columns
    (and planes) of the samples ``keep`` (bool, the image's shape) and
    their neighbours, the same bits; elsewhere 0.  An axis whose samples
    and neighbours cover most of it is computed whole (no scattered copy
    for a dense grid)."""
    picks = []
    for axis, n in enumerate(image.shape):
        used = np.flatnonzero(keep.any(axis=tuple(a for a in range(image.ndim) if a != axis)))
        near = np.unique(np.clip((used[:, None] + np.arange(-1, 2)).ravel(), 0, n - 1))
        picks.append(np.arange(n, dtype=np.int64) if 2 * near.size > n else near)
    part = smooth_at(image, _sigmas(sigma_px, level_spacing), picks, edge=True)
    return _scattered(part, picks, image.shape)
