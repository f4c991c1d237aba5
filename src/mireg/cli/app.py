"""The ``mireg`` command line: ``demo``, ``register``, ``apply``, ``bench``, ``batch``,
``motion``, ``warmup``.

Argument parsing, the ``demo``, ``register``, ``bench`` and ``warmup`` commands, and
:func:`main`; ``apply`` is :mod:`mireg.cli.apply`, ``batch`` is
:mod:`mireg.cli.batch`, ``motion`` is :mod:`mireg.cli.motion`.  Mistakes a user can
make (a missing or unreadable file, images of different dimensionality, a
bad option) end with one line on stderr, ``mireg: error: ...``, and exit
status 2, never a traceback (:mod:`mireg.cli.errors`); set
``MIREG_DEBUG=1`` to see the traceback anyway.  Progress (per pyramid
level, per benchmark case) goes to stderr through the ``"mireg"`` logger;
``-q`` silences it.  Results go to stdout.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import sys
import time
import types

import numpy as np

from ..registration import METRICS
from ..transforms import TRANSFORMS
from .arguments import integer_at_least, positive_float
from .errors import EXIT_USAGE, run_reporting_errors

__all__ = ["main"]

logger = logging.getLogger("mireg")


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse reporting usage errors in one line, raised instead of exiting."""

    def error(self, message):
        raise _UsageError(f"{self.prog}: error: {message} (see '{self.prog} --help')")


_at_least_one, _at_least_two = integer_at_least(1), integer_at_least(2)


def _build_parser():
    from .. import __version__

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    parser = _Parser(
        prog="mireg",
        description="Fast multimodal image registration: normalised mutual information "
        "x gradient information (Pluim et al. 2000).",
        epilog="Set MIREG_DEBUG=1 to see tracebacks instead of one-line errors.",
    )
    parser.add_argument("--version", action="version", version=f"mireg {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    _add_demo(commands, common)
    _add_register(commands, common)
    _add_bench(commands, common)
    _add_warmup(commands, common)
    # imported here, not at the top: ``python -m mireg.cli.batch`` imports
    # this package first, and runpy warns if that imported the module it runs
    from .apply import add_apply_parser
    from .batch import add_batch_parser
    from .motion import add_motion_parser

    add_apply_parser(commands, parents=[common])
    add_batch_parser(commands, parents=[common])
    add_motion_parser(commands, parents=[common])
    return parser


def _add_demo(commands, common):
    demo = commands.add_parser(
        "demo",
        parents=[common],
        help="the rotated astronaut experiment, with figures",
        description="Register scikit-image's astronaut against a copy rotated by 40 "
        "degrees plus noise, print the result and write five PNG figures.",
    )
    demo.add_argument(
        "--out",
        default="mireg-demo",
        metavar="DIR",
        help="folder for the figures (default: %(default)s)",
    )
    demo.add_argument(
        "--compare-reference",
        action="store_true",
        help="also time mireg.reference.register (a few seconds) and print the speed-up",
    )
    demo.set_defaults(handler=_run_demo)


def _add_register(commands, common):
    register = commands.add_parser(
        "register",
        parents=[common],
        help="register two images or volumes",
        description="Register MOVING to REFERENCE and write MOVING resampled onto the "
        "reference grid. Reads and writes PNG/JPEG (2-D; colour is converted "
        "to gray), TIFF (multi-page = 3-D) and NIfTI (.nii, .nii.gz; the voxel "
        "size is used, the output keeps the reference's affine and header).",
    )
    register.add_argument("reference", metavar="REFERENCE")
    register.add_argument("moving", metavar="MOVING")
    register.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUTPUT",
        help="registered image; its suffix chooses the format",
    )
    register.add_argument(
        "--transform", default="rigid", choices=TRANSFORMS, help="default: %(default)s"
    )
    register.add_argument(
        "--metric",
        default="alignment",
        choices=METRICS,
        help="alignment = NMI x gradient information (default: %(default)s)",
    )
    register.add_argument(
        "--bins",
        type=_at_least_two,
        default=None,
        help="histogram bins per image (default: 32 for images, 64 for volumes)",
    )
    register.add_argument(
        "--sigma",
        type=positive_float,
        default=1.5,
        help="Gaussian sigma of the gradients, pixels (default: %(default)s)",
    )
    register.add_argument(
        "--order",
        type=int,
        default=3,
        choices=range(6),
        metavar="0-5",
        help="spline order of the output's resampling (default: %(default)s)",
    )
    register.add_argument(
        "--save-transform",
        metavar="TRANSFORM",
        help="write the reference world -> moving world transform: .tfm (ITK, LPS: "
        "SimpleITK, ANTs, elastix) or .mat (FSL FLIRT, 3-D); 'mireg apply' reads it",
    )
    register.add_argument(
        "--json",
        metavar="RESULT.json",
        help="write parameters, matrix, metric and per-level record",
    )
    register.add_argument(
        "--plot", metavar="FIGURE.png", help="write reference / moving / registered / checkerboard"
    )
    register.set_defaults(handler=_run_register)


def _add_bench(commands, common):
    bench = commands.add_parser(
        "bench",
        parents=[common],
        help="time the metric implementations",
        description="Time NMI, gradient information and alignment in mireg.reference, "
        "scikit-image (NMI only) and mireg; print a Markdown table.",
    )
    bench.add_argument(
        "--sizes",
        nargs="+",
        default=["256", "512"],
        metavar="SIZE",
        help="N (N x N), NxM or NxMxK (default: 256 512)",
    )
    bench.add_argument(
        "--repeats",
        type=_at_least_one,
        default=5,
        help="timing samples per case, the minimum is reported (default: %(default)s)",
    )
    bench.set_defaults(handler=_run_bench)


def _add_warmup(commands, common):
    warmup = commands.add_parser(
        "warmup",
        parents=[common],
        help="compile the kernels ahead of their first use",
        description="Compile mireg's kernels for float64 images (metrics, 2-D and 3-D "
        "registration) into Numba's on-disk cache, so that later processes load them "
        "instead of compiling on first use. Takes about half a minute once after "
        "installing; seconds when the cache is already filled.",
    )
    warmup.add_argument(
        "--metrics-only",
        action="store_true",
        help="compile the metrics' kernels only, not the registration's",
    )
    warmup.set_defaults(handler=_run_warmup)


# ---- demo -----------------------------------------------------------------


def _run_demo(args):
    from . import demo
    from .io import require

    require("matplotlib", "mireg demo's figures")
    demo.run(args.out, compare_reference=args.compare_reference)
    return 0


# ---- bench ----------------------------------------------------------------


def _run_bench(args):
    from . import bench

    sizes = [bench.parse_size(s) for s in args.sizes]  # reject bad sizes before any work
    bench.run(sizes, repeats=args.repeats, progress=logger.info)
    return 0


# ---- warmup ---------------------------------------------------------------


def _run_warmup(args):
    from ..first_use import warmup

    seconds = warmup(registration=not args.metrics_only, progress=logger.info)
    for name, value in seconds.items():
        print(f"{name}: {value:.1f} s")
    return 0


# ---- register -------------------------------------------------------------


def _parameter_names(ndim, kind):
    shifts = [f"t{i}" for i in range(ndim)]
    if kind == "translation":
        return shifts
    if kind == "affine":  # the linear part row by row
        return [f"a{i}{j}" for i in range(ndim) for j in range(ndim)] + shifts
    rotations = ["angle"] if ndim == 2 else ["r0", "r1", "r2"]
    return rotations + shifts + (["log_scale"] if kind == "similarity" else [])


def _check_outputs(args, ndim):
    """Fail before the registration, not after it."""
    from .grids import check_transform_path
    from .io import check_writable, require

    check_writable(args.output, ndim)
    if args.save_transform is not None:
        check_transform_path(args.save_transform, ndim)
    for path, suffix in ((args.json, ".json"), (args.plot, ".png")):
        if path is None:
            continue
        if not path.lower().endswith(suffix):
            raise ValueError(f"'{path}' should end in {suffix}")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"no such folder for the output: '{folder}'")
    if args.plot is not None:
        require("matplotlib", "--plot")


def _read_pair(args):
    """Both images, their files' info and grids, and how to place them in
    the world: NIfTI by the headers' affines, PNG/JPEG/TIFF (no geometry in
    the file) in pixel units as arrays."""
    from .apply import read_with_grid

    reference, ref_spacing, ref_info, ref_affine = read_with_grid(args.reference)
    moving, _, mov_info, mov_affine = read_with_grid(args.moving)
    if reference.ndim != moving.ndim:
        raise ValueError(
            f"'{args.reference}' is {reference.ndim}-D {reference.shape} but "
            f"'{args.moving}' is {moving.ndim}-D {moving.shape}: register 2-D with 2-D, "
            "3-D with 3-D"
        )
    placement = {}
    if "nifti" in (ref_info.format, mov_info.format):
        placement = {"reference_affine": ref_affine, "moving_affine": mov_affine}
    grids = (ref_info, ref_affine, ref_spacing), (mov_info, mov_affine)
    return reference, moving, placement, grids


def _jsonable(value):
    """Plain JSON: NaN and inf (the global search has no metric) as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _report(result, seconds, names, world):
    import numpy as np

    parameters = result.parameters
    parts = []
    for name, value in zip(names, parameters):
        if name == "angle" or name.startswith("r"):
            parts.append(f"{name} {np.rad2deg(value):.3f} deg")
        elif name == "log_scale":
            parts.append(f"scale {math.exp(value):.4f}")
        else:
            parts.append(f"{name} {value:.3f}")
    frame = "mm, world axes (RAS)" if world else "pixels, index order"
    print(f"parameters: {', '.join(parts)} (shifts in {frame})")
    print(
        f"{result.metric_name}: {result.metric:.6g} after {result.nfev} evaluations "
        f"in {seconds:.2f} s"
    )


def _voxel_sizes(affine):
    return tuple(round(float(v), 4) for v in np.linalg.norm(affine[:-1, :-1], axis=0))


def _save_transform(args, result, reference, moving, grids):
    """The world map for other tools, on the grids the CLI read the files
    on (PNG/TIFF: ITK's), whatever world the registration ran in."""
    from ..transform_files import save_transform
    from .grids import world_matrix

    (_, ref_affine, _), (_, mov_affine) = grids
    saved = types.SimpleNamespace(
        world_matrix=world_matrix(result, ref_affine, mov_affine),
        reference_affine=ref_affine,
        moving_affine=mov_affine,
        reference_shape=reference.shape,
        moving_shape=moving.shape,
    )
    save_transform(args.save_transform, saved)
    print(f"wrote {args.save_transform}")


def _write_json(args, result, names, seconds):
    record = result.to_dict()
    record.update(
        {
            "reference": args.reference,
            "moving": args.moving,
            "output": args.output,
            "parameter_names": names,
            "seconds": seconds,
        }
    )
    with open(args.json, "w", encoding="utf-8") as stream:
        json.dump(_jsonable(record), stream, indent=2)
        stream.write("\n")
    print(f"wrote {args.json}")


def _run_register(args):
    import mireg

    from . import io

    io.image_format(args.output)  # a bad suffix is reported before reading anything
    reference, moving, placement, grids = _read_pair(args)
    (ref_info, ref_affine, ref_spacing), (mov_info, mov_affine) = grids
    _check_outputs(args, reference.ndim)
    logger.info(
        "reference %s %s, moving %s %s%s",
        args.reference,
        reference.shape,
        args.moving,
        moving.shape,
        f", voxel sizes {_voxel_sizes(ref_affine)} and {_voxel_sizes(mov_affine)} mm"
        if placement
        else "",
    )
    start = time.perf_counter()
    result = mireg.register(
        reference,
        moving,
        transform=args.transform,
        metric=args.metric,
        bins=args.bins,
        sigma=args.sigma,
        **placement,
    )
    seconds = time.perf_counter() - start
    names = _parameter_names(reference.ndim, args.transform)
    _report(result, seconds, names, world=bool(placement))

    registered = result.warp(moving, order=args.order)
    # geometry from the reference grid, value range from the moving image
    like = dataclasses.replace(ref_info, dtype=mov_info.dtype, unit_range=mov_info.unit_range)
    io.write_image(args.output, registered, like=like, spacing=ref_spacing)
    print(f"wrote {args.output}")
    if args.save_transform is not None:
        _save_transform(args, result, reference, moving, grids)
    if args.json is not None:
        _write_json(args, result, names, seconds)
    if args.plot is not None:
        from .demo import plot_registration

        plot_registration(reference, moving, registered, args.plot)
        print(f"wrote {args.plot}")
    return 0


# ---- entry point ----------------------------------------------------------


def main(argv=None):
    """Run the ``mireg`` command; returns the exit status."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as error:
        print(error, file=sys.stderr)
        return EXIT_USAGE
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(name)s] %(message)s"))
    previous_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if args.quiet else logging.INFO)
    try:
        return run_reporting_errors(args.handler, args)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
