"""One pyramid level, prepared once: everything the cost kernel reads.

Reference side: sample coordinates (masked, subsampled on a regular grid if
there are more than ``max_samples``), their intensity bins and smoothed
gradients.  Moving side: the image (or its cubic B-spline coefficients), its
smoothed gradient stack, its intensity range and mask.  Each level's grid is
tied to physical space (``grid``: index -> physical), so parameters stay in
physical units across levels: the true scale between grids, no blind x2.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi
from skimage.transform import resize

from ._kernels import cost as _cost
from ._kernels import powell as _powell
from ._kernels import samples as _samples
from . import _fused
from . import transforms as tf
from ._information import LOG_TABLE as _LOG_TABLE
from ._config import MIN_OVERLAP_FRACTION



def downsample(image, shrink, *, is_mask=False):
    """Image at 1/shrink resolution (anti-aliased) and its grid scale.

    ``skimage.transform.resize(image, shape, order=1, anti_aliasing=True,
    preserve_range=True)`` of a float64 image, the same bits, with its
    Gaussian (``mode='mirror'``) done by mireg's on the image padded by
    reflection, as :func:`smoothed` pads by its edge values.
    """
    if shrink == 1:
        return image
    shape = tuple(max(2, int(math.ceil(n / shrink))) for n in image.shape)
    if is_mask:
        return resize(image.astype(np.float64), shape, order=1, anti_aliasing=False) > 0.5
    factors = np.divide(image.shape, shape)
    sigma = np.maximum(0, (factors - 1) / 2)
    radii = [int(4.0 * s + 0.5) if s > 1e-15 else 0 for s in sigma]
    if any(r >= n for r, n in zip(radii, image.shape)):
        # a kernel wider than the axis: mirror images of mirror images
        return resize(image, shape, order=1, anti_aliasing=True, preserve_range=True)
    padded = np.pad(image, [(r, r) for r in radii], mode="reflect")
    inner = tuple(slice(r, r + n) for r, n in zip(radii, image.shape))
    filtered = _fused.smooth(padded, sigma)[inner]
    out = ndi.zoom(filtered, [1 / f for f in factors], order=1, mode="mirror",
                   grid_mode=True)
    return np.clip(out, image.min(), image.max(), out=out)


class Pyramid:
    """``downsample(image, shrink)`` for one image, each level computed once
    and from the finest level computed so far whose shrink divides it
    (1/8 from 1/2 by 4, not from the full image by 8).

    Resizing ``n`` pixels to ``ceil(n / a)`` and then to
    ``ceil(ceil(n / a) / b) == ceil(n / (a b))`` puts the pixel centres
    where one resize by ``a b`` does (so :func:`level_grid` holds); the
    anti-aliasing Gaussians compound to sigma ``sqrt(((a-1)/2)^2 +
    (a (b-1)/2)^2)`` instead of ``(a b - 1) / 2`` (1/8 via 1/2: 3.04 px
    instead of 3.5).  A 2 mm MNI-sized volume's 1/8 level then costs 1 ms
    instead of 18.
    """

    def __init__(self, image):
        self.levels = {1: image}

    def __call__(self, shrink):
        if shrink not in self.levels:
            base = max(s for s in self.levels if shrink % s == 0)
            self.levels[shrink] = downsample(self.levels[base], shrink // base)
        return self.levels[shrink]


def level_grid(full_shape, level_shape, spacing):
    """index -> physical map of a resized grid (pixel centres line up, as
    skimage.transform.resize places them)."""
    factors = np.array(full_shape, float) / np.array(level_shape, float)
    level_spacing = np.asarray(spacing, float) * factors
    origin = np.asarray(spacing, float) * (0.5 * factors - 0.5)
    return tf.grid_to_physical(level_spacing, origin), level_spacing


def smoothed(image, sigma_px, level_spacing):
    """The image smoothed for its gradient: a Gaussian of ``sigma_px``
    pixels along the axis of finest spacing (isotropic in physical units),
    C-contiguous float64.

    Smoothing extends the border by its nearest value ('nearest'), not
    by zeros: zero padding would put strong false edges on the image
    borders, which then pull the registration towards aligning frames.
    The same bits as ``ndi.gaussian_filter(image, sigma, mode="nearest",
    truncate=4)``: mireg's Gaussian (scipy's sums, constant mode) on the
    image padded with its edge values by the kernel's radius, ~1.5x faster.
    """
    spacing = np.asarray(level_spacing, float)
    sigma = sigma_px * spacing.min() / spacing
    radii = [int(4.0 * s + 0.5) for s in sigma]
    padded = np.pad(image, [(r, r) for r in radii], mode="edge")
    inner = tuple(slice(r, r + n) for r, n in zip(radii, image.shape))
    return np.ascontiguousarray(_fused.smooth(padded, sigma)[inner])


def _embed3(array):
    return array.reshape((1,) + array.shape) if array.ndim == 2 else array


class Level:
    """Prepared reference and moving data for one shrink factor."""

    def __init__(self, reference, moving, shrink, *, spacing, sigma, bins,
                 reference_mask, moving_mask, cubic, max_samples, pyramids=None):
        ndim = reference.ndim
        self.ndim = ndim
        self.shrink = shrink
        if pyramids is None:
            ref = downsample(reference, shrink)
            mov = downsample(moving, shrink)
        else:  # the images' Pyramid objects: levels shared between calls
            ref, mov = pyramids[0](shrink), pyramids[1](shrink)
        self.shape = ref.shape
        self.ref_grid, ref_spacing = level_grid(reference.shape, ref.shape, spacing)
        self.mov_grid, mov_spacing = level_grid(moving.shape, mov.shape, spacing)
        self.cubic = cubic

        # reference samples
        keep = np.ones(ref.shape, bool)
        if reference_mask is not None:
            keep &= downsample(reference_mask, shrink, is_mask=True)
        stride = 1
        if max_samples and keep.sum() > max_samples:
            stride = int(math.ceil((keep.sum() / max_samples) ** (1.0 / ndim)))
            sub = np.zeros_like(keep)
            sub[(slice(None, None, stride),) * ndim] = True
            keep &= sub
        self.stride = stride
        n_samples = int(np.count_nonzero(keep))
        if n_samples == 0:
            raise ValueError("`reference_mask` leaves no reference pixels to compare")
        # a coarse level has few samples: fewer bins keep its histogram
        # populated (a smoother cost) and its entropies cheap
        bins = int(min(bins, max(12, round(math.sqrt(n_samples / 4.0)))))
        self.n_bins = bins
        # one float32 row per sample: coordinate (3), gradient (3), |g|^2, bin
        lo, hi = float(ref.min()), float(ref.max())
        self.table = _samples.fill_table(
            _embed3(ref), _embed3(smoothed(ref, sigma, ref_spacing)),
            np.asarray(ref_spacing, float), _embed3(keep), lo, bins / (hi - lo), bins)

        # moving side
        self.mov_lo = float(mov.min())
        mov_hi = float(mov.max())
        self.mov_scale = bins / (mov_hi - self.mov_lo)
        coefficients = ndi.spline_filter(mov, order=3, mode="mirror") if cubic else mov
        self.moving = np.ascontiguousarray(_embed3(coefficients), dtype=np.float64)
        # interleaved (..., ndim): a corner's components in one load; float32
        # (as the reference's in the table): a 2 mm MNI-sized volume's stack
        # is 11 MB instead of 22, fewer cache misses (3-D evaluations -12%)
        self.grad = _samples.interleaved_gradient(_embed3(smoothed(mov, sigma, mov_spacing)),
                                                  np.asarray(mov_spacing, float))
        if moving_mask is not None:
            self.moving_mask = np.ascontiguousarray(
                _embed3(downsample(moving_mask, shrink, is_mask=True)), dtype=np.uint8)
        else:
            self.moving_mask = np.zeros((0, 0, 0), np.uint8)
        self.min_overlap = max(8, int(MIN_OVERLAP_FRACTION * n_samples))

    @property
    def n_samples(self):
        return self.table.shape[0]

    def bind(self, center, kind, use_gradient):
        """Fix the transform kind and centre; precompute the embedded grids."""
        ndim = self.ndim
        self.kind_code = tf.TRANSFORMS.index(kind)
        self.use_gradient = use_gradient
        self.center3 = np.zeros(3)
        self.center3[3 - ndim:] = center
        self.ref_grid4 = _embed_affine(self.ref_grid)
        self.mov_inverse4 = _embed_affine(np.linalg.inv(self.mov_grid))
        return self

    def _arguments(self, origin, units):
        return (origin, units, self.kind_code, self.ndim, self.center3, self.ref_grid4,
                self.mov_inverse4, self.table, self.moving, self.grad,
                self.moving_mask, self.mov_lo,
                self.mov_scale, self.n_bins, self.cubic, self.use_gradient, _LOG_TABLE)

    def stats(self, x, origin, units, n_chunks=0):
        """(H0, H1, H01, G, overlap) at parameters ``origin + x * units``.

        The parallel kernel is called from Python, never from inside another
        jitted function: when a process's first parallel launch came through
        such a wrapper, every later launch took ~30 ms instead of ~0.3 ms
        (Numba 0.68, OpenMP layer)."""
        if n_chunks:
            matrix, rotation = _cost.parameter_matrices(
                x, origin, units, self.kind_code, self.ndim, self.center3,
                self.ref_grid4, self.mov_inverse4)
            return _cost.evaluate_parallel(
                self.table, self.moving, self.grad, self.moving_mask, matrix, rotation,
                self.mov_lo, self.mov_scale, self.n_bins, self.n_bins, self.cubic,
                self.use_gradient, _LOG_TABLE, n_chunks)
        return _cost.evaluate_at(x, *self._arguments(origin, units))

    def minimize(self, origin, units, metric, bounds, direc, xtol, ftol, maxfev,
                 maxiter=None, n_chunks=0):
        """Powell (scipy's bounded variant, ported) on ``metric`` from
        ``origin``, in one serial nogil call: (x, cost, evaluations).
        A 2-D ``origin`` runs from each row in the same call (the rows
        dealt to ``n_chunks`` threads if not 0) and returns arrays of those."""
        reach = np.asarray(bounds, dtype=np.float64)
        origin = np.asarray(origin, dtype=np.float64)
        args = (reach[:, 0].copy(), reach[:, 1].copy(), np.asarray(direc, dtype=np.float64),
                float(xtol), float(ftol), int(maxfev),
                int(np.iinfo(np.int64).max if maxiter is None else maxiter),
                _cost.METRIC_CODES.index(metric),
                self.min_overlap)
        level = self._arguments(origin[0] if origin.ndim == 2 else origin, units)
        if origin.ndim == 2 and n_chunks:
            return _powell.minimize_each_parallel(origin, n_chunks, *args, level)
        if origin.ndim == 2:
            return _powell.minimize_each(origin, *args, level)
        return _powell.minimize(np.zeros(units.size), *args, level)

    def stats_grid(self, xs, origin, units, n_chunks=0):
        """``stats`` for each row of ``xs``, in one kernel call (on
        ``n_chunks`` threads if not 0)."""
        if n_chunks:
            return _cost.evaluate_grid_parallel(xs, n_chunks,
                                                *self._arguments(origin, units))
        return _cost.evaluate_grid(xs, *self._arguments(origin, units))


def _embed_affine(matrix):
    """(ndim+1)-square homogeneous matrix -> 4x4, identity on unused axes."""
    ndim = matrix.shape[0] - 1
    out = np.eye(4)
    out[3 - ndim:3, 3 - ndim:3] = matrix[:ndim, :ndim]
    out[3 - ndim:3, 3] = matrix[:ndim, ndim]
    return out
