"""Read and write the image files ``mireg register`` works on.

One function each way:

* :func:`read_image` returns ``(array, spacing, info)``: the pixels in
  array-index order, the voxel size (``None`` where the format has none)
  and an :class:`ImageInfo` that :func:`write_image` uses to write a result
  like the file that was read.
* :func:`write_image` writes an array in the format its path names.

Formats, by file name suffix:

* PNG, JPEG (``.png``, ``.jpg``, ``.jpeg``) via imageio: read as float64 in
  [0, 1] (``skimage.util.img_as_float``); RGB(A) is converted to grayscale
  with ``skimage.color.rgb2gray`` (alpha dropped first). Written back as
  the integer type the values came from (8 or 16 bit), clipped to [0, 1];
  values of any other origin are stretched from their minimum and maximum
  to the full 8-bit range. 2-D only.
* TIFF (``.tif``, ``.tiff``) via tifffile: read as stored, a multi-page file
  as a 3-D stack (pages first); RGB converted to grayscale as above.
  Written as float32 (3-D as multi-page). No voxel size is read.
* NIfTI (``.nii``, ``.nii.gz``) via nibabel: read as float64
  (``get_fdata``: the header's scaling applied) with spacing
  ``header.get_zooms()[:ndim]``, both in the order of the array's axes
  (nibabel's voxel order, which mireg treats as index order). Written as
  float32 with the affine and header of the image it is written ``like``
  (the reference grid), or with ``diag(spacing)`` as affine otherwise.

The readers come with the ``demo`` extra: ``pip install 'mireg[demo]'``.
"""

from __future__ import annotations

import dataclasses
import importlib
import os

import numpy as np

__all__ = [
    "read_image",
    "write_image",
    "ImageInfo",
    "ImageReadError",
    "MissingDependencyError",
    "image_format",
    "check_writable",
    "require",
]

_SUFFIXES = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".nii": "nifti",
    ".nii.gz": "nifti",
}
_FORMAT_NAMES = {"png": "PNG", "jpeg": "JPEG", "tiff": "TIFF", "nifti": "NIfTI"}
_PACKAGES = {"png": "imageio.v3", "jpeg": "imageio.v3", "tiff": "tifffile", "nifti": "nibabel"}


class ImageReadError(ValueError):
    """A file exists but cannot be read as the image its name promises."""


class MissingDependencyError(ImportError):
    """An optional package needed for a file format is not installed."""


@dataclasses.dataclass
class ImageInfo:
    """What :func:`write_image` needs to write a result like a file read.

    Attributes
    ----------
    format : str
        "png", "jpeg", "tiff" or "nifti".
    dtype : numpy.dtype
        The type of the values in the file (before any conversion).
    unit_range : bool
        True if the array was scaled from ``dtype`` to float in [0, 1]
        (PNG, JPEG, and RGB TIFF).
    from_rgb : bool
        True if the file held colour that was converted to grayscale.
    affine, header : optional
        NIfTI only: the voxel-to-world affine and the nibabel header.
    image_class : type, optional
        NIfTI only: nibabel's image class (NIfTI-1 or NIfTI-2).
    """

    format: str
    dtype: np.dtype
    unit_range: bool = False
    from_rgb: bool = False
    affine: np.ndarray | None = None
    header: object = None
    image_class: type | None = None


def image_format(path):
    """The format a file name asks for: "png", "jpeg", "tiff" or "nifti".

    Raises
    ------
    ValueError
        For any other suffix.
    """
    name = os.fspath(path).lower()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return _SUFFIXES[suffix]
    known = ", ".join(sorted(_SUFFIXES))
    raise ValueError(f"'{os.fspath(path)}': unknown image file type (use one of {known})")


def require(module_name, purpose):
    """The module ``module_name``, or :class:`MissingDependencyError`
    saying that ``purpose`` needs it and how to install it."""
    try:
        return importlib.import_module(module_name)
    except ImportError:
        raise MissingDependencyError(
            f"{purpose} needs the '{module_name.split('.')[0]}' package: pip install 'mireg[demo]'"
        ) from None


def _to_gray(array):
    """RGB(A) (last axis 3 or 4) to grayscale float in [0, 1]."""
    from skimage import color, util

    if array.shape[-1] == 4:
        array = array[..., :3]
    return color.rgb2gray(util.img_as_float(array))


def read_image(path):
    """Read an image or volume from a PNG, JPEG, TIFF or NIfTI file.

    Parameters
    ----------
    path : str or os.PathLike
        The format is chosen by the suffix (see the module notes).

    Returns
    -------
    array : ndarray
        In array-index order; float64 in [0, 1] for PNG and JPEG.
    spacing : tuple of float or None
        Voxel size per axis (NIfTI), else ``None``.
    info : ImageInfo
        For :func:`write_image`'s ``like``.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Unknown suffix (``ValueError``) or unreadable content
        (:class:`ImageReadError`, a ``ValueError``).
    MissingDependencyError
        The package for the format is not installed.
    """
    path = os.fspath(path)
    fmt = image_format(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: '{path}'")
    if os.path.isdir(path):
        raise ImageReadError(f"'{path}' is a directory, not an image file")
    reader = {
        "png": _read_imageio,
        "jpeg": _read_imageio,
        "tiff": _read_tiff,
        "nifti": _read_nifti,
    }[fmt]
    module = require(_PACKAGES[fmt], f"reading {_FORMAT_NAMES[fmt]} files")
    try:
        array, spacing, info = reader(module, path, fmt)
    except (MissingDependencyError, ImageReadError):
        raise
    except Exception as error:  # each library fails on bad files its own way
        detail = " ".join(str(error).split()) or type(error).__name__
        raise ImageReadError(f"cannot read '{path}' as {_FORMAT_NAMES[fmt]}: {detail}") from error
    if array.size == 0:
        raise ImageReadError(f"'{path}' holds no pixels (shape {array.shape})")
    if array.dtype.kind not in "biuf":
        raise ImageReadError(f"'{path}' holds {array.dtype} values, not real numbers")
    return array, spacing, info


_SIGNATURES = {"png": (b"\x89PNG\r\n\x1a\n",), "jpeg": (b"\xff\xd8\xff",)}


def _read_imageio(imageio, path, fmt):
    from skimage import util

    with open(path, "rb") as stream:
        head = stream.read(8)
    if not head.startswith(_SIGNATURES[fmt]):
        raise ImageReadError(
            f"'{path}' is not a {_FORMAT_NAMES[fmt]} file "
            "(it does not start with the format's signature)"
        )

    # Pillow for PNG/JPEG: imageio's plugin search would try other readers
    # and report the last one's failure on a corrupt file
    array = np.asarray(imageio.imread(path, plugin="pillow"))
    dtype, from_rgb = array.dtype, array.ndim == 3 and array.shape[-1] in (3, 4)
    if from_rgb:
        array = _to_gray(array)
    elif array.ndim == 3 and array.shape[-1] in (1, 2):  # gray(+alpha)
        array = util.img_as_float(array[..., 0])
    elif array.ndim == 2:
        array = util.img_as_float(array)
    else:
        raise ImageReadError(
            f"'{path}' has shape {array.shape}: not a single grayscale or colour "
            f"image (animated {_FORMAT_NAMES[fmt]}?)"
        )
    return (
        array.astype(np.float64, copy=False),
        None,
        ImageInfo(fmt, np.dtype(dtype), unit_range=True, from_rgb=from_rgb),
    )


def _read_tiff(tifffile, path, fmt):
    with tifffile.TiffFile(path) as tif:
        series = tif.series
        if not series:
            raise ImageReadError(f"'{path}' holds no images")
        first = series[0]
        rgb = "S" in first.axes and first.shape[first.axes.index("S")] in (3, 4)
        if (
            len(series) > 1
            and all(s.shape == first.shape and s.dtype == first.dtype for s in series)
            and len(first.shape) == 2
        ):
            # pages written one by one (a series each): one volume all the same
            array = np.stack([s.asarray() for s in series])
        else:
            array = first.asarray()
    dtype = array.dtype
    if rgb:
        if first.axes.index("S") != len(first.axes) - 1:
            array = np.moveaxis(array, first.axes.index("S"), -1)
        return (
            _to_gray(array),
            None,
            ImageInfo(fmt, np.dtype(dtype), unit_range=True, from_rgb=True),
        )
    array = np.squeeze(array) if array.ndim > 3 else array
    return array, None, ImageInfo(fmt, np.dtype(dtype))


def _read_nifti(nibabel, path, fmt):
    image = nibabel.load(path)
    array = np.asarray(image.get_fdata(dtype=np.float64))
    while array.ndim > 2 and array.shape[-1] == 1:
        # a 2-D slice stored as (x, y, 1), or one volume of a series
        array = array[..., 0]
    zooms = image.header.get_zooms()
    spacing = tuple(float(z) for z in zooms[: array.ndim])
    if len(spacing) != array.ndim or not all(np.isfinite(spacing)) or min(spacing) <= 0:
        spacing = None  # no usable voxel size: pixel units
    info = ImageInfo(
        fmt,
        np.dtype(image.get_data_dtype()),
        affine=np.array(image.affine, dtype=np.float64),
        header=image.header.copy(),
        image_class=type(image),
    )
    return array, spacing, info


def check_writable(path, ndim):
    """Raise before long work if ``path`` cannot take an ``ndim``-D image:
    unknown suffix, 3-D into PNG/JPEG, or a missing folder."""
    path = os.fspath(path)
    fmt = image_format(path)
    if fmt in ("png", "jpeg") and ndim != 2:
        raise ValueError(
            f"'{path}': {_FORMAT_NAMES[fmt]} holds 2-D images only, "
            f"the result is {ndim}-D (use .tif or .nii)"
        )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"no such folder for the output: '{folder}'")
    require(_PACKAGES[fmt], f"writing {_FORMAT_NAMES[fmt]} files")
    return fmt


def _as_integer_image(array, like):
    """Values for an 8/16-bit file: [0, 1] scaled to the type ``like`` came
    from, else stretched from min..max to 0..255."""
    array = np.asarray(array, dtype=np.float64)
    if like is not None and like.unit_range and like.dtype in (np.uint8, np.uint16):
        dtype = like.dtype
        unit = np.clip(array, 0.0, 1.0)
    else:
        dtype = np.dtype(np.uint8)
        lo, hi = float(array.min()), float(array.max())
        unit = (array - lo) / (hi - lo) if hi > lo else np.zeros_like(array)
    return np.round(unit * np.iinfo(dtype).max).astype(dtype)


def write_image(path, array, like=None, *, spacing=None):
    """Write ``array`` in the format ``path``'s suffix names.

    Parameters
    ----------
    path : str or os.PathLike
    array : ndarray
        2-D, or 3-D for TIFF and NIfTI.
    like : ImageInfo, optional
        From :func:`read_image`: PNG/JPEG are written in its integer type
        if it was scaled to [0, 1] on reading; NIfTI takes its affine and
        header if it came from NIfTI.
    spacing : sequence of float, optional
        NIfTI affine ``diag(spacing)`` when ``like`` has none.

    Raises
    ------
    ValueError
        Unknown suffix or a 3-D array for PNG/JPEG.
    """
    path = os.fspath(path)
    array = np.asarray(array)
    fmt = check_writable(path, array.ndim)
    if fmt in ("png", "jpeg"):
        values = _as_integer_image(array, like)
        if fmt == "jpeg" and values.dtype != np.uint8:
            values = (values >> 8).astype(np.uint8)  # JPEG is 8-bit
        require("imageio.v3", "writing images").imwrite(path, values, plugin="pillow")
    elif fmt == "tiff":
        require("tifffile", "writing TIFF files").imwrite(
            path, np.asarray(array, dtype=np.float32)
        )
    else:
        _write_nifti(path, np.asarray(array, dtype=np.float32), like, spacing)


def _write_nifti(path, array, like, spacing):
    nibabel = require("nibabel", "writing NIfTI files")
    if like is not None and like.format == "nifti":
        shape = tuple(like.header.get_data_shape())
        if np.prod(shape) == array.size:  # restore axes of length 1 dropped on reading
            array = array.reshape(shape)
        header = like.header.copy()
        header.set_data_dtype(np.float32)
        image = like.image_class(array, like.affine, header=header)
        # values are written as they are: no scaling from the reference's header
        image.header.set_slope_inter(1.0, 0.0)
    else:
        affine = np.eye(4)
        if spacing is not None:
            affine[np.arange(array.ndim), np.arange(array.ndim)] = spacing
        image = nibabel.Nifti1Image(array, affine)
        if spacing is not None:
            image.header.set_zooms(tuple(spacing))
    nibabel.save(image, path)
