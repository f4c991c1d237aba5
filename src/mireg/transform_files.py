"""Linear transforms in the files other tools read: ITK ``.tfm`` and FSL ``.mat``.

* :func:`save_transform` writes a registration's world map (reference
  world -> moving world, :attr:`RegistrationResult.world_matrix`) as an ITK
  text transform (``.tfm``: SimpleITK's ``ReadTransform``, ANTs, elastix's
  ``ITKTransform``) or an FSL FLIRT matrix (``.mat``, 3-D only).
* :func:`load_transform` reads such a file, written by mireg, SimpleITK,
  ANTs (text or binary ``.mat``) or FLIRT, and returns a
  :class:`LoadedTransform`: the world matrix, and with both images' grids
  the index matrix that :func:`scipy.ndimage.affine_transform` and
  :meth:`LoadedTransform.warp` resample with.

Conventions
-----------
mireg's world coordinates are nibabel's: ``affine`` maps voxel indices to
RAS+ millimetres, each image its own.  A world matrix maps reference
(fixed) world points to moving world points, the direction ITK, ANTs and
elastix use for resampling.  The index matrix is
``inv(moving_affine) @ world_matrix @ reference_affine``.

ITK works in LPS+: a RAS point ``x`` is the ITK point ``F @ x`` with
``F = diag(-1, -1, 1, 1)`` on homogeneous points (2-D: ``diag(-1, -1, 1)``,
the first two axes, as ITK reads a 2-D NIfTI), so the ITK transform is
``F @ world_matrix @ F``.  A 2-D result is written as a 2-D ITK transform
(``AffineTransform_double_2_2``).  mireg writes and parses the ITK text
itself (:mod:`mireg._itk_transforms`), at full double precision:
nitransforms writes six significant digits, reads single precision, handles
only 3-D affines and none of the rotation types SimpleITK writes (Euler,
versor, similarity).  Read: ``AffineTransform``,
``MatrixOffsetTransformBase``, ``TranslationTransform``,
``IdentityTransform``, ``Euler2DTransform``, ``Rigid2DTransform``,
``Similarity2DTransform``, ``Euler3DTransform``, ``VersorRigid3DTransform``,
``Similarity3DTransform`` and a ``CompositeTransform`` of these; ITK's
binary MATLAB ``.mat`` (ANTs' ``0GenericAffine.mat``) holds the same
parameters.

FSL's matrix maps the *moving* image's scaled voxel coordinates to the
reference's (FLIRT's ``-init``/``-omat`` convention), with the x axis
flipped for images of positive determinant; that convention needs both
images' grids and comes from nitransforms (the ``io`` extra:
``pip install 'mireg[io]'``).  A ``.mat`` file is read as FSL if it is
text, as ITK if it is MATLAB binary.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
from scipy import ndimage as ndi

from ._itk_transforms import itk_matrix, parse_itk_text, read_itk_binary

__all__ = ["save_transform", "load_transform", "LoadedTransform", "TRANSFORM_SUFFIXES"]

TRANSFORM_SUFFIXES = (".tfm", ".txt", ".mat")
_ITK_SUFFIXES = (".tfm", ".txt")
_ITK_BANNER = "#Insight Transform File V1.0"


@dataclasses.dataclass(frozen=True)
class LoadedTransform:
    """A transform read by :func:`load_transform`.

    Attributes
    ----------
    world_matrix : ndarray, shape (ndim+1, ndim+1)
        Reference world -> moving world (RAS+ millimetres).
    matrix : ndarray, shape (ndim+1, ndim+1), or None
        Reference index -> moving index, ``inv(moving_affine) @
        world_matrix @ reference_affine``; ``None`` unless both affines
        were given.
    reference_affine, moving_affine : ndarray or None
        The grids given to :func:`load_transform`.
    reference_shape, moving_shape : tuple or None
    """

    world_matrix: np.ndarray
    matrix: np.ndarray | None = None
    reference_affine: np.ndarray | None = None
    moving_affine: np.ndarray | None = None
    reference_shape: tuple | None = None
    moving_shape: tuple | None = None

    @property
    def ndim(self):
        return self.world_matrix.shape[0] - 1

    def warp(self, moving_image, *, order=3, cval=0.0):
        """``moving_image`` resampled onto the reference grid (float64).

        Needs the index matrix and ``reference_shape``: load the transform
        with both images' affines and the reference's shape.
        """
        if self.matrix is None or self.reference_shape is None:
            raise ValueError(
                "warp needs the grids: load the transform with reference_affine, "
                "reference_shape and moving_affine"
            )
        image = np.asarray(moving_image)
        if image.ndim != self.ndim:
            raise ValueError(
                f"`moving_image` is {image.ndim}-D but the transform is {self.ndim}-D"
            )
        return ndi.affine_transform(
            image.astype(np.float64, copy=False),
            self.matrix,
            output_shape=tuple(self.reference_shape),
            order=order,
            mode="constant",
            cval=cval,
        )


# ---- checks ---------------------------------------------------------------


def _suffix(path, name="path"):
    text = os.fspath(path)
    lower = text.lower()
    for suffix in TRANSFORM_SUFFIXES:
        if lower.endswith(suffix):
            return suffix
    raise ValueError(
        f"`{name}` '{text}': unknown transform file type (use .tfm for ITK, .mat for FSL "
        "or ITK binary)"
    )


def _affine(value, name, ndim=None):
    """A finite, invertible homogeneous matrix, or ValueError naming ``name``."""
    matrix = np.array(value, dtype=np.float64)
    size = matrix.shape[0] if matrix.ndim == 2 else 0
    if matrix.ndim != 2 or matrix.shape != (size, size) or size not in (3, 4):
        raise ValueError(f"`{name}` must be a 3x3 or 4x4 matrix, got shape {matrix.shape}")
    if ndim is not None and size != ndim + 1:
        raise ValueError(f"`{name}` is {size}x{size} but the transform is {ndim}-D")
    if not np.all(np.isfinite(matrix)):
        raise ValueError(f"`{name}` holds NaN or inf")
    if not np.allclose(matrix[-1], np.eye(size)[-1]):
        raise ValueError(f"`{name}`'s last row must be (0, ..., 0, 1), got {matrix[-1]}")
    if abs(np.linalg.det(matrix[:-1, :-1])) < 1e-12:
        raise ValueError(f"`{name}` is singular")
    return matrix


def _shape(value, name, ndim):
    if value is None:
        return None
    shape = tuple(int(n) for n in np.atleast_1d(value))
    if len(shape) != ndim or min(shape) < 1:
        raise ValueError(f"`{name}` must be {ndim} positive lengths, got {value!r}")
    return shape


def _flip(ndim):
    """RAS <-> LPS on homogeneous matrices: negate the first two axes."""
    return np.diag([-1.0, -1.0] + [1.0] * (ndim - 1))


def _grid(affine, shape):
    """The image-like object nitransforms' FSL conversion reads."""
    return type("Grid", (), {"affine": affine, "shape": shape})()


def _nitransforms_fsl():
    try:
        from nitransforms.io import fsl
    except ImportError:
        raise ImportError(
            "FSL .mat files need the 'nitransforms' package: pip install 'mireg[io]'"
        ) from None
    return fsl


# ---- saving ---------------------------------------------------------------


def _parts(result):
    """World matrix and grids of a result, a loaded transform or a matrix."""
    if isinstance(result, np.ndarray):
        return _affine(result, "result"), None, None, None, None
    world = getattr(result, "world_matrix", None)
    if world is None:
        raise TypeError(
            "`result` must be a RegistrationResult (with `world_matrix`), a LoadedTransform "
            f"or a world matrix, got {type(result).__name__}"
        )
    world = _affine(world, "result.world_matrix")
    ndim = world.shape[0] - 1
    grids = []
    for side in ("reference", "moving"):
        affine = getattr(result, f"{side}_affine", None)
        shape = getattr(result, f"{side}_shape", None)
        grids.append(None if affine is None else _affine(affine, f"result.{side}_affine", ndim))
        grids.append(None if shape is None else _shape(shape, f"result.{side}_shape", ndim))
    return (world, *grids)


def _number(value):
    return repr(float(value))  # the shortest text that reads back to the same double


def _itk_text(world_matrix):
    """The ITK text (LPS, ``AffineTransform_double_N_N``) of a RAS world matrix."""
    ndim = world_matrix.shape[0] - 1
    lps = _flip(ndim) @ world_matrix @ _flip(ndim)
    parameters = list(lps[:ndim, :ndim].ravel()) + list(lps[:ndim, ndim])
    return "\n".join(
        [
            _ITK_BANNER,
            "#Transform 0",
            f"Transform: AffineTransform_double_{ndim}_{ndim}",
            "Parameters: " + " ".join(map(_number, parameters)),
            "FixedParameters: " + " ".join(["0"] * ndim),
            "",
        ]
    )


def save_transform(path, result):
    """Write a registration's transform for other tools.

    Parameters
    ----------
    path : str or os.PathLike
        ``.tfm`` (or ``.txt``): ITK text, LPS, read by SimpleITK
        (``sitk.ReadTransform``), ANTs and elastix; ``.mat``: FSL FLIRT
        (3-D only; needs both images' grids).
    result : RegistrationResult, LoadedTransform or ndarray
        Anything with ``world_matrix`` (reference world -> moving world),
        or that matrix itself (ITK only: FSL needs the grids).

    Raises
    ------
    ValueError
        Unknown suffix, a 2-D transform or missing grids for FSL, a
        singular or malformed matrix.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> world = np.eye(4); world[:3, 3] = (2.0, -1.0, 0.5)  # a shift in mm, RAS
    >>> path = os.path.join(tempfile.mkdtemp(), "shift.tfm")
    >>> save_transform(path, world)
    >>> np.allclose(load_transform(path).world_matrix, world)
    True
    """
    suffix = _suffix(path)
    world, ref_affine, ref_shape, mov_affine, mov_shape = _parts(result)
    ndim = world.shape[0] - 1
    if suffix in _ITK_SUFFIXES:
        text = _itk_text(world)
    else:
        if ndim != 3:
            raise ValueError(
                f"`path` '{os.fspath(path)}': FSL .mat holds 3-D transforms only, this one is "
                f"{ndim}-D (save it as .tfm)"
            )
        missing = [
            name
            for name, value in (
                ("reference_affine", ref_affine),
                ("reference_shape", ref_shape),
                ("moving_affine", mov_affine),
                ("moving_shape", mov_shape),
            )
            if value is None
        ]
        if missing:
            raise ValueError(
                f"`result` has no {', '.join(missing)}: FSL .mat needs both images' grids"
            )
        fsl = _nitransforms_fsl()
        text = fsl.FSLLinearTransform.from_ras(
            world, moving=_grid(mov_affine, mov_shape), reference=_grid(ref_affine, ref_shape)
        ).to_string()
    with open(os.fspath(path), "w", encoding="ascii") as stream:
        stream.write(text)


# ---- loading --------------------------------------------------------------


def load_transform(
    path, *, reference_affine=None, reference_shape=None, moving_affine=None, moving_shape=None
):
    """Read a linear transform written by mireg, SimpleITK, ANTs or FSL FLIRT.

    Parameters
    ----------
    path : str or os.PathLike
        ``.tfm``/``.txt`` (ITK text), ``.mat`` (FSL text, or ITK's binary
        MATLAB file as ANTs writes it).
    reference_affine, moving_affine : array_like, optional
        Voxel index -> world (RAS+, nibabel's ``img.affine``), (ndim+1)^2.
        Both are needed for the index ``matrix`` and for FSL files.
    reference_shape, moving_shape : sequence of int, optional
        The grids' shapes; FSL files need both, :meth:`LoadedTransform.warp`
        the reference's.

    Returns
    -------
    LoadedTransform
        ``world_matrix`` (reference world -> moving world, RAS) always;
        ``matrix`` (reference index -> moving index) when both affines were
        given.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Unknown suffix, a file that is not a linear transform this module
        reads, grids of the wrong size, FSL without both grids.
    """
    suffix = _suffix(path)
    name = os.fspath(path)
    with open(name, "rb") as stream:
        content = stream.read()
    fsl_text = suffix == ".mat" and _looks_like_text(content)
    if suffix in _ITK_SUFFIXES or (suffix == ".mat" and not fsl_text):
        if suffix == ".mat":
            lps = read_itk_binary(name)
        else:
            lps = itk_matrix(parse_itk_text(_decode(content, name), name), name)
        ndim = lps.shape[0] - 1
        world = _flip(ndim) @ lps @ _flip(ndim)
    else:
        ndim = 3
    ref_affine = (
        None if reference_affine is None else _affine(reference_affine, "reference_affine", ndim)
    )
    mov_affine = None if moving_affine is None else _affine(moving_affine, "moving_affine", ndim)
    ref_shape = _shape(reference_shape, "reference_shape", ndim)
    mov_shape = _shape(moving_shape, "moving_shape", ndim)
    if fsl_text:
        world = _read_fsl(content, name, ref_affine, ref_shape, mov_affine, mov_shape)
    matrix = None
    if ref_affine is not None and mov_affine is not None:
        matrix = np.linalg.solve(mov_affine, world @ ref_affine)
    return LoadedTransform(world, matrix, ref_affine, mov_affine, ref_shape, mov_shape)


def _looks_like_text(content):
    """FSL's matrix is ASCII text; ITK's MATLAB file has NUL bytes in its
    header (small int32 sizes) even where its numbers happen to be ASCII."""
    if b"\x00" in content:
        return False
    try:
        content.decode("ascii")
    except UnicodeDecodeError:
        return False
    return True


def _decode(content, name):
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"`path` '{name}' is not an ITK text transform file") from None


def _read_fsl(content, name, ref_affine, ref_shape, mov_affine, mov_shape):
    for arg, value in (
        ("reference_affine", ref_affine),
        ("reference_shape", ref_shape),
        ("moving_affine", mov_affine),
        ("moving_shape", mov_shape),
    ):
        if value is None:
            raise ValueError(f"`{arg}` is needed to read the FSL matrix '{name}'")
    rows = [line.split() for line in content.decode("ascii").splitlines() if line.strip()]
    try:
        matrix = np.array(rows, dtype=np.float64)
    except ValueError:
        raise ValueError(f"`path` '{name}' is not an FSL matrix (4 rows of 4 numbers)") from None
    if matrix.shape != (4, 4):
        raise ValueError(
            f"`path` '{name}' is not an FSL matrix: {len(rows)} rows, expected 4 of 4 numbers"
        )
    _affine(matrix, f"the FSL matrix in '{name}'")
    fsl = _nitransforms_fsl()
    return fsl.FSLLinearTransform(matrix).to_ras(
        moving=_grid(mov_affine, mov_shape), reference=_grid(ref_affine, ref_shape)
    )
