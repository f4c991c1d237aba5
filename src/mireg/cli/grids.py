"""Image grids (voxel index -> world) for the commands that speak world
coordinates: ``mireg register --save-transform`` and ``mireg apply``.

* :func:`grid_affine` -- the (ndim+1)^2 voxel -> RAS+ world affine of a file
  read by :func:`mireg.cli.io.read_image`: the NIfTI header's (checked: no
  orientation, a singular, non-finite or sheared affine is an error), or for
  PNG/JPEG/TIFF the grid ITK reads them on (origin 0, the array's axes
  reversed, LPS), so a transform written for, or by, SimpleITK on the same
  files applies unchanged.
* :func:`world_matrix` -- a registration's reference world -> moving world
  map (``RegistrationResult.world_matrix``, or computed from its index
  matrix and the two grids).
* :func:`check_transform_path` -- a ``--save-transform`` path checked before
  the registration runs.
"""

from __future__ import annotations

import os

import numpy as np

from ..transform_files import TRANSFORM_SUFFIXES

__all__ = ["grid_affine", "world_matrix", "check_transform_path"]

# the columns of a voxel -> world affine are orthogonal up to this cosine;
# NIfTI's quaternion form stores rotations in float32
_SHEAR_COSINE = 1e-4


def _nifti_affine(info, ndim, path):
    header = info.header
    if int(header["sform_code"]) == 0 and int(header["qform_code"]) == 0:
        raise ValueError(
            f"'{path}' has no orientation in its header (qform_code and sform_code are 0): "
            "its voxel-to-world map is unknown"
        )
    affine = np.array(info.affine, dtype=np.float64)
    if ndim == 2:
        # a 2-D slice: the first two voxel axes and the in-plane world axes
        keep = [0, 1, 3]
        if not np.allclose(affine[2, :2], 0):
            raise ValueError(f"'{path}': a 2-D slice that is not in a world x-y plane")
        affine = affine[np.ix_(keep, keep)]
    return affine


def _itk_grid(shape, spacing):
    """Voxel -> RAS of the grid ITK gives a file with no orientation: the
    ITK point is the index reversed times the spacing (LPS), so RAS negates
    its first two coordinates."""
    ndim = len(shape)
    affine = np.zeros((ndim + 1, ndim + 1))
    steps = np.ones(ndim) if spacing is None else np.asarray(spacing, dtype=np.float64)
    for axis in range(ndim):
        world_axis = ndim - 1 - axis
        affine[world_axis, axis] = steps[axis] * (-1.0 if world_axis < 2 else 1.0)
    affine[ndim, ndim] = 1.0
    return affine


def grid_affine(info, shape, spacing, path):
    """The voxel -> world (RAS+) affine of an image read from ``path``.

    Raises
    ------
    ValueError
        A NIfTI header with no orientation, or an affine that is not
        finite, singular or sheared.
    """
    ndim = len(shape)
    if info.format == "nifti":
        affine = _nifti_affine(info, ndim, path)
    else:
        affine = _itk_grid(shape, spacing)
    linear = affine[:ndim, :ndim]
    if not np.all(np.isfinite(affine)):
        raise ValueError(f"'{path}': the header's affine holds NaN or inf")
    lengths = np.linalg.norm(linear, axis=0)
    if np.any(lengths == 0) or abs(np.linalg.det(linear)) <= 1e-12 * np.prod(lengths):
        raise ValueError(f"'{path}': the header's affine is singular")
    cosines = (linear.T @ linear) / np.outer(lengths, lengths) - np.eye(ndim)
    if np.max(np.abs(cosines)) > _SHEAR_COSINE:
        raise ValueError(
            f"'{path}': the header's affine is sheared (voxel axes not orthogonal); "
            "resample the image to an orthogonal grid first"
        )
    return affine


def world_matrix(result, reference_affine, moving_affine):
    """Reference world -> moving world of ``result`` on the grids
    ``reference_affine`` and ``moving_affine``: its ``world_matrix`` when it
    registered on those grids, else ``moving_affine @ matrix @
    inv(reference_affine)`` from its index matrix (PNG/TIFF registered as
    arrays, written for ITK's grids of those files)."""
    same = all(
        getattr(result, name, None) is not None
        and np.array_equal(np.asarray(getattr(result, name)), affine)
        for name, affine in (
            ("reference_affine", reference_affine),
            ("moving_affine", moving_affine),
        )
    )
    if same:
        return np.asarray(result.world_matrix, dtype=np.float64)
    return moving_affine @ result.matrix @ np.linalg.inv(reference_affine)


def check_transform_path(path, ndim):
    """Raise before a long registration if ``path`` cannot take the transform."""
    text = os.fspath(path)
    lower = text.lower()
    if not lower.endswith(TRANSFORM_SUFFIXES):
        raise ValueError(
            f"'{text}': unknown transform file type (use .tfm for ITK/ANTs/SimpleITK, "
            ".mat for FSL)"
        )
    if lower.endswith(".mat") and ndim != 3:
        raise ValueError(f"'{text}': FSL .mat holds 3-D transforms only (use .tfm)")
    folder = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"no such folder for the transform: '{folder}'")
