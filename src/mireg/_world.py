"""Images placed in world space: grids from affines, centres, starts.

:func:`mireg.register` works in world coordinates: each image's voxel-index
-> world affine (nibabel's ``img.affine``; ``diag(spacing)`` for plain
arrays) places it, and the transform maps reference world points to moving
world points.  This module turns the affines into :class:`Frame` objects
(voxel sizes and axis directions), gives the reference's centre and world
extent, and computes the translation-only starts ``initial="moments"`` and
``initial="geometry"``.  ``_levels.Level`` builds each pyramid level's grids
from the frames.

A *plain* frame has a diagonal affine with positive voxel sizes and a zero
origin (plain arrays, or an affine of that form): it takes exactly the
arithmetic of the physical frame ``index * spacing``, so results on plain
arrays keep their bits.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import transforms as tf
from ._validation import check_affine

INITIALISERS = ("moments", "geometry")


class Frame(NamedTuple):
    """An image grid in world space.

    Attributes
    ----------
    affine : ndarray, shape (ndim+1, ndim+1)
        Voxel index -> world coordinates.
    spacing : ndarray, shape (ndim,)
        Voxel size along each index axis (the affine's column norms).
    directions : ndarray, shape (ndim, ndim)
        Unit world direction of each index axis, one a column (a rotation,
        or a reflection for a flipped axis).
    plain : bool
        ``affine == diag(spacing, 1)``: axes along the world's, zero origin.
    oriented : bool
        ``directions`` is not the identity (a rotated or flipped grid).
    """

    affine: np.ndarray
    spacing: np.ndarray
    directions: np.ndarray
    plain: bool
    oriented: bool


def plain_frame(spacing):
    """The frame of a plain array of voxel size ``spacing``."""
    spacing = np.asarray(spacing, dtype=np.float64)
    ndim = spacing.size
    affine = tf.grid_to_physical(spacing, np.zeros(ndim))
    return Frame(affine, spacing, np.eye(ndim), True, False)


def frame_from_affine(affine):
    """The frame of a checked affine (``_validation.check_affine``)."""
    ndim = affine.shape[0] - 1
    linear = affine[:ndim, :ndim]
    spacing = np.linalg.norm(linear, axis=0)
    if np.array_equal(linear, np.diag(np.diag(linear))) and np.all(np.diag(linear) > 0):
        spacing = np.diag(linear).copy()
        directions = np.eye(ndim)
        plain = not np.any(affine[:ndim, ndim])
        if plain:
            return plain_frame(spacing)
        return Frame(affine, spacing, directions, False, False)
    return Frame(affine, spacing, linear / spacing, False, True)


def checked_frames(reference_affine, moving_affine, spacing, checked_spacing, ndim):
    """The (reference, moving) frames of :func:`mireg.register`'s arguments:
    both affines, or neither (then ``spacing``, already checked as
    ``checked_spacing``, is both images' voxel size)."""
    if reference_affine is None and moving_affine is None:
        frame = plain_frame(checked_spacing)
        return frame, frame
    if spacing is not None:
        raise ValueError(
            "give either `spacing` (both images' voxel size) or "
            "`reference_affine` and `moving_affine`, not both"
        )
    if reference_affine is None or moving_affine is None:
        missing = "reference_affine" if reference_affine is None else "moving_affine"
        raise ValueError(
            f"`{missing}` is missing: give both images' affines (an image's voxel "
            f"index -> world map), or `spacing` for plain arrays"
        )
    return (
        frame_from_affine(check_affine(reference_affine, ndim, "reference_affine")),
        frame_from_affine(check_affine(moving_affine, ndim, "moving_affine")),
    )


def to_world(frame, index):
    """World coordinates of the index coordinates ``index`` (ndim values)."""
    index = np.asarray(index, dtype=np.float64)
    if frame.plain:
        return index * frame.spacing
    return frame.affine[:-1, :-1] @ index + frame.affine[:-1, -1]


def center(frame, shape):
    """World coordinates of the centre of the grid's field of view."""
    return to_world(frame, (np.array(shape, float) - 1.0) / 2.0)


def extent(frame, shape):
    """Size of the field of view along each world axis (its bounding box)."""
    sizes = np.array(shape, float) * frame.spacing
    if not frame.oriented:
        return sizes
    return np.abs(frame.directions) @ sizes


def center_of_mass(image, mask, frame):
    """World centre of mass of ``image - image.min()`` (where ``mask``)."""
    weights = image - image.min()
    if mask is not None:
        weights = np.where(mask, weights, 0.0)
    total = weights.sum()
    if total <= 0:
        return center(frame, image.shape)
    grids = np.indices(image.shape, sparse=True)
    index = [float(np.sum(weights * g)) / total for g in grids]
    return to_world(frame, index)


def initial_parameters(mode, kind, inputs, frames):
    """The translation-only start of ``initial=mode`` for a ``kind``
    transform: the moving image's centre (of mass, or of its field of view)
    minus the reference's, in world space; the identity otherwise."""
    ndim = inputs.reference.ndim
    if mode == "moments":
        shift = center_of_mass(inputs.moving, inputs.moving_mask, frames[1]) - center_of_mass(
            inputs.reference, inputs.reference_mask, frames[0]
        )
    else:
        shift = center(frames[1], inputs.moving.shape) - center(frames[0], inputs.reference.shape)
    params = tf.identity_parameters(ndim, kind)
    params[tf.translation_slice(ndim, kind)] = shift
    return params
