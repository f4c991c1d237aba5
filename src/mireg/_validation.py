"""Input checks and dtype handling shared by the public API.

Everything a Numba kernel must not see is settled here: argument types,
shapes, dtypes the kernels are not compiled for, NaN/inf, empty inputs.
Messages name the argument and the value received.
"""

from __future__ import annotations

import numbers

import numpy as np

# The dtypes kernels are compiled for.  Others are viewed or converted to one
# of these without widening to float64 (bool -> uint8 view, float16 -> float32).
KERNEL_DTYPES = frozenset(
    np.dtype(t)
    for t in (
        np.uint8,
        np.uint16,
        np.uint32,
        np.uint64,
        np.int8,
        np.int16,
        np.int32,
        np.int64,
        np.float32,
        np.float64,
    )
)


def as_image(image, name, *, min_ndim=1, allow_empty=False):
    """Return ``image`` as a real-valued ndarray, or raise naming ``name``.

    No copy is made for an ndarray of a supported dtype; lists and tuples are
    converted with ``np.asarray``.
    """
    if isinstance(image, np.ndarray):
        array = image
    elif isinstance(image, (list, tuple)) or np.isscalar(image):
        array = np.asarray(image)
    elif hasattr(image, "__array__"):
        array = np.asarray(image)
    else:
        raise TypeError(f"`{name}` must be an array, got {type(image).__name__}")
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"`{name}` must have a boolean, integer or real floating dtype, got {array.dtype}"
        )
    if array.ndim < min_ndim:
        raise ValueError(
            f"`{name}` must have at least {min_ndim} dimension(s), got a {array.ndim}-D array"
        )
    if array.size == 0 and not allow_empty:
        raise ValueError(f"`{name}` is empty (shape {array.shape})")
    return array


def kernel_view(array):
    """Return ``array`` in a dtype and layout the kernels are compiled for.

    bool is reinterpreted as uint8 (no copy); float16 is widened to float32,
    never to float64; non-native byte order and non-contiguous layouts are
    copied in their own dtype.  The caller's array is never modified.
    """
    if array.dtype in KERNEL_DTYPES and array.flags.c_contiguous:
        return array  # the usual case, checked first
    if array.dtype == np.bool_:
        array = np.ascontiguousarray(array).view(np.uint8)
    elif array.dtype == np.float16:
        array = array.astype(np.float32)
    elif array.dtype.kind == "f" and array.dtype.itemsize > 8:
        raise TypeError(f"unsupported floating dtype {array.dtype}")
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    if array.dtype not in KERNEL_DTYPES:
        # e.g. platform-specific aliases; keep the kind and width
        array = array.astype(np.dtype(f"{array.dtype.kind}{array.dtype.itemsize}"))
    return np.ascontiguousarray(array)


def check_finite(array, name):
    """Raise ``ValueError`` naming ``name`` if a float array holds NaN or inf."""
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        n_nan = int(np.isnan(array).sum())
        n_inf = int(np.isinf(array).sum())
        raise ValueError(
            f"`{name}` contains {n_nan} NaN and {n_inf} infinite value(s); "
            f"mask or replace them first"
        )


def same_ndim(image0, image1, names=("image0", "image1")):
    """Raise ``ValueError`` naming both images if their ndim differ."""
    if image0.ndim != image1.ndim:
        raise ValueError(
            f"`{names[0]}` and `{names[1]}` must have the same number of "
            f"dimensions, got {image0.ndim}-D and {image1.ndim}-D"
        )


def same_shape(image0, image1, names=("image0", "image1")):
    """Raise ``ValueError`` naming both images if their shapes differ."""
    same_ndim(image0, image1, names)
    if image0.shape != image1.shape:
        raise ValueError(
            f"`{names[0]}` and `{names[1]}` must have the same shape, "
            f"got {image0.shape} and {image1.shape}"
        )


def bins_pair(bins, name="bins"):
    """Parse skimage's ``bins``: an int or a pair of ints, each >= 1."""
    if isinstance(bins, (numbers.Integral, np.integer)) and not isinstance(bins, bool):
        pair = (int(bins), int(bins))
    else:
        try:
            items = list(bins)
        except TypeError:
            raise TypeError(f"`{name}` must be an int or a pair of ints, got {bins!r}") from None
        if len(items) != 2 or not all(
            isinstance(b, (numbers.Integral, np.integer)) and not isinstance(b, bool)
            for b in items
        ):
            raise TypeError(f"`{name}` must be an int or a pair of ints, got {bins!r}")
        pair = (int(items[0]), int(items[1]))
    if min(pair) < 1:
        raise ValueError(f"`{name}` must be >= 1, got {bins!r}")
    if max(pair) > 1_000_000 or pair[0] * pair[1] > 100_000_000:
        raise ValueError(f"`{name}` = {bins!r} asks for a joint histogram too large to hold")
    return pair


def positive_float(value, name, *, allow_zero=False):
    """``value`` as a float, finite and > 0 (>= 0 with ``allow_zero``), or
    raise naming ``name``: ``TypeError`` for a non-number (bool included),
    ``ValueError`` for a bad value."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"`{name}` must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"`{name}` must be finite and {bound}, got {value!r}")
    return value


# NIfTI stores the sform in float32: its direction columns are orthogonal to
# about 1e-7; a larger departure is a real shear, which a grid cannot hold.
AFFINE_SHEAR_TOLERANCE = 1e-4


def check_affine(affine, ndim, name):
    """An image's voxel-index -> world affine as a float64 array, or raise
    ``ValueError`` naming ``name``.

    ``affine`` must be (ndim+1)x(ndim+1), finite, with last row
    ``(0, ..., 0, 1)``, and its linear part a rotation (or reflection)
    times a positive diagonal of voxel sizes: sheared or singular grids
    are refused.
    """
    try:
        array = np.array(affine, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a numeric matrix, got {affine!r}") from None
    size = ndim + 1
    if array.shape != (size, size):
        raise ValueError(
            f"`{name}` must be a {size}x{size} matrix for {ndim}-D images, got shape {array.shape}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"`{name}` has non-finite entries: {array.tolist()}")
    bottom = np.zeros(size)
    bottom[-1] = 1.0
    if not np.array_equal(array[-1], bottom):
        raise ValueError(
            f"`{name}` must have last row {bottom.tolist()}, got {array[-1].tolist()}"
        )
    linear = array[:ndim, :ndim]
    sizes = np.linalg.norm(linear, axis=0)
    if np.any(sizes <= 0) or abs(np.linalg.det(linear)) <= 1e-12 * np.prod(sizes):
        raise ValueError(f"`{name}` is singular: {array.tolist()}")
    directions = linear / sizes
    departure = np.max(np.abs(directions.T @ directions - np.eye(ndim)))
    if departure > AFFINE_SHEAR_TOLERANCE:
        raise ValueError(
            f"`{name}` is sheared (its axes are {departure:.2g} from orthogonal); "
            f"resample the image onto an orthogonal grid first"
        )
    return array
