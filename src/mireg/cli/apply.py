"""``mireg apply REFERENCE MOVING TRANSFORM -o OUTPUT``: resample with a saved transform.

MOVING is resampled onto REFERENCE's grid through TRANSFORM, a linear
transform file mireg wrote (``mireg register --save-transform``) or
SimpleITK, ANTs or FSL FLIRT wrote (:func:`mireg.transform_files.load_transform`):
ITK ``.tfm``/``.txt``, ITK's binary ``.mat`` (ANTs), FSL's text ``.mat``.
Each image's grid is its NIfTI header's affine, or for PNG/JPEG/TIFF the
grid ITK reads it on (:mod:`mireg.cli.grids`).  The output keeps the
reference's affine and header (NIfTI) and the moving image's value type.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re

__all__ = ["add_apply_parser", "run_apply"]

logger = logging.getLogger("mireg")


def add_apply_parser(subparsers, parents=()):
    """Add the ``apply`` command to an ``argparse`` subparsers object; its
    ``handler`` default is :func:`run_apply`."""
    parser = subparsers.add_parser(
        "apply",
        parents=list(parents),
        help="resample an image with a saved transform",
        description="Resample MOVING onto REFERENCE's grid through TRANSFORM (reference "
        "world -> moving world): a file from 'mireg register --save-transform', "
        "SimpleITK or ANTs (.tfm, .txt, ITK binary .mat) or FSL FLIRT (text .mat). "
        "NIfTI grids come from the headers; the output keeps the reference's "
        "affine and header.",
    )
    parser.add_argument("reference", metavar="REFERENCE")
    parser.add_argument("moving", metavar="MOVING")
    parser.add_argument("transform", metavar="TRANSFORM")
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUTPUT", help="its suffix chooses the format"
    )
    parser.add_argument(
        "--order",
        type=int,
        default=3,
        choices=range(6),
        metavar="0-5",
        help="spline order of the resampling (default: %(default)s)",
    )
    parser.set_defaults(handler=run_apply)
    return parser


def read_with_grid(path):
    """``(array, spacing, info, affine)`` of an image file and its grid."""
    from .grids import grid_affine
    from .io import read_image

    array, spacing, info = read_image(path)
    if array.ndim not in (2, 3):
        raise ValueError(
            f"'{path}' is {array.ndim}-D {array.shape}: mireg works on 2-D images and 3-D volumes"
        )
    return array, spacing, info, grid_affine(info, array.shape, spacing, path)


def _load(path, reference, ref_affine, moving, mov_affine):
    from ..transform_files import load_transform

    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such transform file: '{path}'")
    try:
        return load_transform(
            path,
            reference_affine=ref_affine,
            reference_shape=reference.shape,
            moving_affine=mov_affine,
            moving_shape=moving.shape,
        )
    except ValueError as error:
        message = str(error)
        found = re.search(r"the transform is (\d)-D", message)
        if found:  # grids of another dimension than the file's transform
            message = f"it holds a {found.group(1)}-D transform, the images are {reference.ndim}-D"
        raise ValueError(f"cannot use '{path}': {message}") from None


def run_apply(args):
    from . import io

    io.image_format(args.output)  # a bad suffix is reported before reading anything
    reference, _, ref_info, ref_affine = read_with_grid(args.reference)
    moving, _, mov_info, mov_affine = read_with_grid(args.moving)
    if reference.ndim != moving.ndim:
        raise ValueError(
            f"'{args.reference}' is {reference.ndim}-D but '{args.moving}' is {moving.ndim}-D"
        )
    io.check_writable(args.output, reference.ndim)
    loaded = _load(args.transform, reference, ref_affine, moving, mov_affine)
    logger.info(
        "resampling %s %s onto %s %s", args.moving, moving.shape, args.reference, reference.shape
    )
    resampled = loaded.warp(moving, order=args.order)
    like = dataclasses.replace(ref_info, dtype=mov_info.dtype, unit_range=mov_info.unit_range)
    io.write_image(args.output, resampled, like=like)
    print(f"wrote {args.output}")
    return 0
