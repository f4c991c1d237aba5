"""What :func:`mireg.register` checks before any work: every argument
named in its error, the images as float64, the masks as bool, the options
in range.  :func:`validate` returns the checked :class:`Inputs`."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from . import _world
from . import transforms as tf
from ._config import DEFAULT_BINS, DEFAULT_MAX_SAMPLES
from ._kernels import modes
from ._pyramid import axis_shrinks
from ._validation import as_image, bins_pair, check_finite, positive_float, same_ndim

METRICS = modes.METRICS


@dataclass(frozen=True)
class Inputs:
    """:func:`register`'s data, checked and normalised by :func:`validate`."""

    reference: np.ndarray  # float64
    moving: np.ndarray  # float64, same ndim (2 or 3)
    sigma: float
    smoothing: float  # Gaussian sigma both images are smoothed by first; 0: none
    n_bins: int
    spacing: np.ndarray  # one positive value per axis
    reference_mask: np.ndarray  # bool, the reference's shape; or None
    moving_mask: np.ndarray  # bool, the moving image's shape; or None
    initial: np.ndarray  # the transform's parameters; or None
    shrinks: list  # shrink factors, coarse to fine; or None (the default plan)
    # None: the default; 0: every pixel; a tuple: one per level of `shrinks`
    max_samples: int | tuple | None
    # ((min, max) of `reference`, (min, max) of `moving`), found while checking
    # them; None once the images are replaced (smoothed)
    ranges: tuple | None = None


def validate(
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
    initial,
    levels,
    max_samples,
):
    """:func:`register`'s arguments checked, in the order the errors are
    reported, and normalised into ``Inputs``."""
    ref, mov, ranges = _checked_images(reference_image, moving_image)
    if transform not in tf.TRANSFORMS:
        raise ValueError(f"`transform` must be one of {tf.TRANSFORMS}, got {transform!r}")
    if metric not in METRICS:
        raise ValueError(f"`metric` must be one of {METRICS}, got {metric!r}")
    sigma = positive_float(sigma, "sigma")
    smoothing = positive_float(smoothing, "smoothing", allow_zero=True)
    n_bins = DEFAULT_BINS[ref.ndim] if bins is None else bins_pair(bins)[0]
    if n_bins < 2:
        raise ValueError(f"`bins` must be >= 2 for registration, got {bins!r}")
    spacing = _checked_spacing(spacing, ref.ndim)
    masks = [
        _checked_mask(mask, image, name)
        for mask, image, name in (
            (reference_mask, ref, "reference_mask"),
            (moving_mask, mov, "moving_mask"),
        )
    ]
    n_par = tf.n_parameters(ref.ndim, transform)
    if initial is not None:
        initial = np.asarray(initial, dtype=np.float64).reshape(-1)
        if initial.size != n_par or not np.all(np.isfinite(initial)):
            raise ValueError(
                f"`initial` must be {n_par} finite parameters for a "
                f"{ref.ndim}-D {transform} transform, got {initial.tolist()}"
            )
    levels = _checked_levels(levels)
    max_samples = _checked_max_samples(max_samples, levels, ref.ndim)
    (ref, ref_range), (mov, mov_range) = (
        _moderate_range(image.astype(np.float64, copy=False), *value_range)
        for image, value_range in zip((ref, mov), ranges)
    )
    ref, mov = _writeable(ref), _writeable(mov)
    return Inputs(
        reference=ref,
        moving=mov,
        sigma=sigma,
        smoothing=smoothing,
        n_bins=n_bins,
        spacing=spacing,
        reference_mask=masks[0],
        moving_mask=masks[1],
        initial=initial,
        shrinks=levels,
        max_samples=max_samples,
        ranges=(ref_range, mov_range),
    )


def _checked_images(reference_image, moving_image):
    ref = as_image(reference_image, "reference_image", min_ndim=2)
    mov = as_image(moving_image, "moving_image", min_ndim=2)
    same_ndim(ref, mov, ("reference_image", "moving_image"))
    if ref.ndim not in (2, 3):
        raise ValueError(f"`reference_image` must be 2-D or 3-D, got {ref.ndim}-D")
    ranges = []
    for image, name in ((ref, "reference_image"), (mov, "moving_image")):
        lo, hi = image.min(), image.max()
        # a NaN makes both NaN and an infinite value is one of them: two
        # finite ends mean every value is finite, without another pass
        if not (np.isfinite(lo) and np.isfinite(hi)):
            check_finite(image, name)
        if min(image.shape) < 4:
            raise ValueError(
                f"`{name}` must be at least 4 pixels along every axis, got shape {image.shape}"
            )
        if lo == hi:
            raise ValueError(f"`{name}` is constant: there is nothing to align")
        ranges.append((float(lo), float(hi)))
    return ref, mov, ranges


def _writeable(image):
    """``image``, copied if read-only: Numba types a read-only array apart
    from a writeable one, so every level kernel it reached would compile
    once more on first use (a copy is one pass, small next to a
    registration; an image ``_moderate_range`` scaled is a copy already)."""
    return image if image.flags.writeable else image.copy()


# An image whose range is outside [2**-32, 2**64] is scaled by a power of
# two into [1, 2): its bins do not change, and its gradients (squared in
# G) neither overflow (1e300) nor vanish below np.isclose's 1e-8 (1e-12).
_RANGE_BOUNDS = (2.0**-32, 2.0**64)


def _moderate_range(image, lo, hi):
    """(``image``, (lo, hi)) for a float64 image whose minimum and maximum
    are ``lo`` and ``hi``; if its range is extreme, a copy scaled by a power
    of two (exactly, so the extremes scale alike) and its scaled range."""
    width = hi - lo
    if _RANGE_BOUNDS[0] <= width <= _RANGE_BOUNDS[1] or not width > 0:
        return image, (lo, hi)
    if math.isinf(width):
        width = hi / 2 - lo / 2
    k = -math.frexp(width)[1]
    return np.ldexp(image, k), (math.ldexp(lo, k), math.ldexp(hi, k))


def _checked_spacing(spacing, ndim):
    if spacing is None:
        return np.ones(ndim)
    spacing = np.asarray(spacing, dtype=np.float64).reshape(-1)
    if spacing.size == 1:
        spacing = np.repeat(spacing, ndim)
    if spacing.size != ndim or not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
        raise ValueError(
            f"`spacing` must be {ndim} positive finite values, got {spacing.tolist()}"
        )
    return spacing


def _checked_mask(mask, image, name):
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.shape != image.shape:
        raise ValueError(f"`{name}` must have the image's shape {image.shape}, got {mask.shape}")
    _check_mask_values(mask, name)
    mask = mask.astype(bool)
    if not mask.any():
        raise ValueError(f"`{name}` is all False")
    return mask


def _check_mask_values(mask, name):
    """TypeError unless ``mask`` is boolean, or integers that are all 0 or
    1: a float or label mask (0.3 after resampling, labels 1-5) would
    otherwise be read as True wherever it is not 0."""
    if mask.dtype == bool:
        return
    if mask.dtype.kind in "iu" and mask.size and mask.min() >= 0 and mask.max() <= 1:
        return
    raise TypeError(
        f"`{name}` must be a boolean array (or integers 0 and 1), got dtype {mask.dtype}"
        + ("" if mask.dtype.kind not in "iu" else " with values other than 0 and 1")
        + f"; pass e.g. `{name} > 0.5`"
    )


def _checked_levels(levels):
    """Shrink factors, coarse to fine: positive integers, strictly
    decreasing; None stays None (the default plan)."""
    if levels is None:
        return None
    try:
        values = list(levels)
    except TypeError:
        raise TypeError(f"`levels` must be a sequence of shrink factors, got {levels!r}") from None
    for f in values:
        if isinstance(f, (bool, np.bool_)) or not isinstance(f, numbers.Integral) or f < 1:
            raise ValueError(f"`levels` must be integer shrink factors >= 1, got {levels!r}")
    values = [int(f) for f in values]
    if not values:
        raise ValueError("`levels` is empty: give at least one shrink factor, e.g. (1,)")
    if any(a <= b for a, b in zip(values, values[1:])):
        raise ValueError(
            f"`levels` must be strictly decreasing, coarse to fine (e.g. (4, 2, 1)), got {values}"
        )
    return values


def _checked_max_samples(max_samples, levels, ndim):
    """None (the default), an int >= 0, or one per level of ``levels`` (a
    tuple of them)."""
    if max_samples is None:
        return None
    message = (
        "`max_samples` must be an integer >= 0 (0: every pixel) or one per "
        f"level of `levels`, got {max_samples!r}"
    )
    if _samples_limit(max_samples):
        return int(max_samples)
    if isinstance(max_samples, (str, bytes)) or not hasattr(max_samples, "__iter__"):
        raise ValueError(message)
    values = list(max_samples)
    if not all(_samples_limit(v) for v in values):
        raise ValueError(message)
    if levels is None or len(values) != len(levels):
        raise ValueError(
            f"`max_samples` has {len(values)} values: give one per level of `levels` "
            f"({'unset: the default pyramid' if levels is None else len(levels)})"
        )
    return tuple(int(v) for v in values)


def _samples_limit(value):
    return (
        isinstance(value, numbers.Integral)
        and not isinstance(value, (bool, np.bool_))
        and value >= 0
    )


def default_samples(ndim, finest):
    """The default sample limit of the finest level (``finest`` true) or of
    a coarser one (``DEFAULT_MAX_SAMPLES``)."""
    return DEFAULT_MAX_SAMPLES[ndim][1 if finest else 0]


def samples_by_level(max_samples, levels, plan):
    """``limit(factors)``: the reference samples at most of the level of
    ``factors``.  ``max_samples`` is the checked value: one int for every
    level, or one per level of ``levels`` (the user's shrink factors), whose
    ``plan`` (``(nominal shrink, factors)`` pairs, coarse to fine) gives
    each level's factors; a level of other factors (the global search's,
    coarser than the pyramid) gets the coarsest level's limit.  None: the
    default (:func:`default_samples`)."""
    ndim = len(plan[0][1])
    if max_samples is None:
        levels = [nominal for nominal, _ in plan]
        max_samples = tuple(default_samples(ndim, i == len(plan) - 1) for i in range(len(plan)))
    if not isinstance(max_samples, tuple):
        return lambda factors: max_samples
    by_nominal = dict(zip(levels, max_samples))
    by_factors = {}
    for nominal, factors in plan:
        by_factors.setdefault(tuple(factors), by_nominal[nominal])

    def limit(factors):
        return by_factors.get(tuple(axis_shrinks(factors, ndim)), max_samples[0])

    return limit


# the 2-D global search tries one rotation every 6 degrees within max_angle
MAX_SEARCH_ANGLE = 180.0


def checked_search_options(global_search, max_angle, max_shift, callback):
    """``register``'s search options checked: ``(global_search, max_angle,
    max_shift)`` as (bool or None, float, float)."""
    if global_search is not None and not isinstance(global_search, (bool, np.bool_)):
        raise TypeError(f"`global_search` must be True, False or None, got {global_search!r}")
    max_angle = _bounded_float(max_angle, "max_angle", 0.0, MAX_SEARCH_ANGLE, "degrees")
    max_shift = _bounded_float(max_shift, "max_shift", 0.0, 1.0, "times the field of view")
    if callback is not None and not callable(callback):
        raise TypeError(f"`callback` must be callable or None, got {callback!r}")
    return (None if global_search is None else bool(global_search)), max_angle, max_shift


def _bounded_float(value, name, lo, hi, unit):
    """``value`` as a float in [lo, hi]; TypeError or ValueError naming it."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a number ({unit}), got {value!r}")
    value = float(value)
    if not lo <= value <= hi:  # False for NaN too
        raise ValueError(f"`{name}` must be within [{lo:g}, {hi:g}] {unit}, got {value!r}")
    return value


def check_start(start, transform, initial, global_search):
    """``initial`` as a name, and an affine start with the global search."""
    if start is not None and start not in _world.INITIALISERS:
        raise ValueError(
            f"`initial` must be parameters or one of {_world.INITIALISERS}, got {start!r}"
        )
    if transform == "affine" and initial is not None and global_search:
        raise ValueError(
            "`global_search` runs on a rigid transform, which an affine `initial` "
            "does not give: leave `global_search` off, or give no parameters"
        )
