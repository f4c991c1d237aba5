"""``mireg motion SERIES -o CORRECTED``: motion correction of a time series.

Every frame of a 4-D NIfTI (3-D volumes, time on the last axis) or of a
multi-page TIFF (2-D frames, one page each) is registered rigidly to one
reference -- the first frame, a frame by index, or the series' mean
(:func:`mireg.register_stack`) -- and resampled onto it (cubic, 0
outside).  Outputs: the corrected series, written like the input (NIfTI:
same affine and header, float32 values; TIFF: float32 pages), a table of
the motion (:func:`mireg.motion_parameters`, with Power et al.'s
framewise displacement, :func:`mireg.framewise_displacement`) and a plot
of it.

NIfTI frames are registered where the header's affine puts them, so the
rotations are about the scanner's x, y and z axes (degrees) and the
translations in mm along them, those of the reference volume's centre.
TIFF frames carry no geometry: translations in pixels along (row, col),
or in the units of ``--spacing``.
"""

from __future__ import annotations

import argparse
import logging
import os

import numpy as np

from .arguments import integer_at_least, nonnegative_float, positive_float

__all__ = ["add_motion_parser", "run_motion", "REGISTER_OPTIONS", "OPTIONS_BY_NDIM", "SMOOTHING"]

logger = logging.getLogger("mireg")

# the options of mireg.register_stack every `mireg motion` run uses: frames of
# one series move little, so each starts from the reference pose and only
# the frames that score far below the others get the global search
REGISTER_OPTIONS = {"transform": "rigid", "search": "auto"}
# by frame dimensionality: volumes of one series share their contrast and
# NMI alone aligns them as well at half the cost of an evaluation, on 64
# bins (with the frames smoothed, finer bins than the default 32 resolve
# the contrast better: docs/performance.md, motion correction); small 2-D
# frames keep Pluim's measure, whose gradient term pins their rotation down
# better
OPTIONS_BY_NDIM = {2: {"metric": "alignment"}, 3: {"metric": "nmi", "bins": 64}}
# Gaussian sigma in voxels the frames are smoothed by before registration
# (--smoothing): noise moves each frame's optimum, and about 0.7 voxel
# (SPM's 5 mm FWHM at 3 mm voxels) halved the error on noisy series
SMOOTHING = 0.7

_COLUMNS = {
    3: ["volume", "rot_x_deg", "rot_y_deg", "rot_z_deg"]
    + ["trans_x_mm", "trans_y_mm", "trans_z_mm", "fd_mm"],
    2: ["frame", "rot_deg", "trans_row", "trans_col", "fd"],
}


def _reference(text):
    if text in ("first", "mean"):
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not 'first', 'mean' or a frame index"
        ) from None


def _spacing(text):
    values = tuple(positive_float(part) for part in text.split(","))
    if len(values) > 2:
        raise argparse.ArgumentTypeError(f"one or two sizes (row,col), got {text!r}")
    return values * (3 - len(values))  # one size for both axes


def add_motion_parser(subparsers, parents=()):
    """Add the ``motion`` command to an ``argparse`` subparsers object; its
    ``handler`` default is :func:`run_motion`."""
    parser = subparsers.add_parser(
        "motion",
        parents=list(parents),
        help="motion-correct a 4-D NIfTI or multi-page TIFF series",
        description="Register every frame of SERIES rigidly to a reference frame and write "
        "the corrected series (NIfTI: same affine and header). SERIES is a 4-D NIfTI "
        "(time on the last axis; rotations about the scanner axes in degrees, "
        "translations in mm) or a multi-page TIFF of 2-D frames (pixels, or --spacing "
        "units). The table has one row per frame: rotations, translations and the "
        "framewise displacement of Power et al. 2012 (sum of absolute changes, "
        "rotations as arcs on a sphere of --radius).",
    )
    parser.add_argument("series", metavar="SERIES")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="CORRECTED",
        help="the corrected series, in the input's format (.nii/.nii.gz or .tif/.tiff)",
    )
    parser.add_argument(
        "--reference",
        type=_reference,
        default="first",
        metavar="first|mean|INDEX",
        help="the frame to register to, or the mean of the aligned frames (default: %(default)s)",
    )
    parser.add_argument("--params", metavar="MOTION.tsv", help="write the motion table")
    parser.add_argument("--plot", metavar="MOTION.png", help="plot rotations, translations and FD")
    parser.add_argument(
        "--jobs",
        type=integer_at_least(1),
        metavar="N",
        help="threads (default: the number of CPUs)",
    )
    parser.add_argument(
        "--radius",
        type=positive_float,
        default=50.0,
        help="FD's sphere radius, mm for NIfTI (default: %(default)s)",
    )
    parser.add_argument(
        "--smoothing",
        type=nonnegative_float,
        default=SMOOTHING,
        metavar="VOXELS",
        help="Gaussian sigma the frames are smoothed by for the registration only, in "
        "voxels of the finest axis; 0: none (default: %(default)s)",
    )
    parser.add_argument(
        "--spacing",
        type=_spacing,
        metavar="SIZE[,SIZE]",
        help="TIFF only: pixel size, one value or row,col",
    )
    parser.set_defaults(handler=run_motion)
    return parser


# ---- reading and checking --------------------------------------------------


def read_series(path, spacing=None):
    """``(frames, info, placement)``: the frames as one float64 array, time
    first; the file's :class:`~mireg.cli.io.ImageInfo`; the keywords that
    place them in the world for :func:`mireg.register_stack`."""
    from .io import image_format, read_image

    fmt = image_format(path)
    if fmt not in ("nifti", "tiff"):
        raise ValueError(
            f"'{path}': mireg motion reads a 4-D NIfTI (.nii, .nii.gz) or a multi-page "
            "TIFF (.tif, .tiff)"
        )
    if fmt == "nifti" and spacing is not None:
        raise ValueError("--spacing is for TIFF series: a NIfTI header has the voxel size")
    array, _, info = read_image(path)
    if fmt == "nifti":
        shape = tuple(int(n) for n in info.header.get_data_shape())
        if len(shape) < 4 or any(n != 1 for n in shape[4:]):
            what = "a single 3-D volume" if len(shape) <= 3 else f"{len(shape)}-D"
            raise ValueError(
                f"'{path}' is {what} {shape}, not a series: mireg motion needs a 4-D "
                "NIfTI with time on the last axis"
            )
        if shape[3] < 2:
            raise ValueError(f"'{path}' is a series of one volume {shape}: nothing to correct")
        # time first, each volume contiguous (reading dropped the axes of length 1)
        frames = np.ascontiguousarray(np.moveaxis(array.reshape(shape[:4]), -1, 0))
        return frames, info, {"reference_affine": info.affine, "moving_affine": info.affine}
    if array.ndim == 2:
        raise ValueError(
            f"'{path}' holds a single 2-D image {array.shape}, not a series: mireg motion "
            "needs a multi-page TIFF, one page per frame"
        )
    if array.ndim != 3:
        raise ValueError(
            f"'{path}' has shape {array.shape}: mireg motion needs a multi-page TIFF of 2-D frames"
        )
    frames = np.asarray(array, dtype=np.float64)
    return frames, info, {} if spacing is None else {"spacing": spacing}


def check_outputs(args, fmt):
    """Fail before the registrations, not after them."""
    from .io import check_writable, image_format, require

    if image_format(args.output) != fmt:
        raise ValueError(
            f"'{args.output}': write the corrected series in the input's format "
            f"({'.nii or .nii.gz' if fmt == 'nifti' else '.tif or .tiff'})"
        )
    check_writable(args.output, 3)
    outputs = [path for path in (args.output, args.params, args.plot) if path is not None]
    paths = [os.path.realpath(path) for path in [args.series, *outputs]]
    if len(set(paths)) < len(paths):
        raise ValueError("SERIES, the output, --params and --plot must be different files")
    for path in outputs:
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"no such folder for the output: '{folder}'")
        if not os.access(folder, os.W_OK) or os.path.isdir(path):
            raise PermissionError(f"cannot write '{path}'")
    if args.plot is not None:
        if not args.plot.lower().endswith(".png"):
            raise ValueError(f"'{args.plot}' should end in .png")
        require("matplotlib", "--plot")


def check_reference(reference, n_frames, path):
    if isinstance(reference, int) and not -n_frames <= reference < n_frames:
        raise ValueError(
            f"--reference {reference} is out of range: '{path}' has {n_frames} frames "
            f"(0 to {n_frames - 1})"
        )


# ---- outputs ------------------------------------------------------------------


def write_table(path, parameters, fd):
    """The motion table: a header row, then one tab-separated row per frame."""
    ndim = 3 if parameters.shape[1] == 6 else 2
    with open(path, "w", encoding="utf-8", newline="") as stream:
        stream.write("\t".join(_COLUMNS[ndim]) + "\n")
        for i, (row, value) in enumerate(zip(parameters, fd)):
            stream.write("\t".join([str(i)] + [f"{v:.6f}" for v in (*row, value)]) + "\n")


def plot_motion(path, parameters, fd, title, unit):
    """Three stacked panels: rotations, translations and FD per frame."""
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    ndim = 3 if parameters.shape[1] == 6 else 2
    names = _COLUMNS[ndim][1:]
    n_rot = 3 if ndim == 3 else 1
    figure = Figure(figsize=(8, 7), layout="constrained")
    axes = figure.subplots(3, 1, sharex=True)
    frames = np.arange(len(parameters))
    for k in range(n_rot):
        axes[0].plot(frames, parameters[:, k], label=names[k])
    for k in range(n_rot, parameters.shape[1]):
        axes[1].plot(frames, parameters[:, k], label=names[k])
    axes[2].plot(frames, fd, color="black")
    axes[0].set_ylabel("rotation (deg)")
    axes[1].set_ylabel(f"translation ({unit})")
    axes[2].set_ylabel(f"FD ({unit})")
    axes[2].set_xlabel("volume" if ndim == 3 else "frame")
    for ax in axes[:2]:
        ax.legend(loc="upper left", fontsize="small", ncol=3)
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].set_title(title)
    figure.savefig(path, dpi=100)


# ---- the command ----------------------------------------------------------------


def run_motion(args):
    """Run ``mireg motion`` for parsed ``args``; returns the exit status.

    User errors are raised (``ValueError``, ``OSError``...) for the caller
    to report in one line, as :func:`mireg.cli.main` does.
    """
    import mireg

    from . import io

    io.image_format(args.output)  # a bad suffix is reported before reading anything
    frames, info, placement = read_series(args.series, args.spacing)
    check_reference(args.reference, len(frames), args.series)
    check_outputs(args, info.format)
    logger.info("%s: %d frames of %s", args.series, len(frames), frames.shape[1:])
    previous = logger.level
    logger.setLevel(max(previous, logging.WARNING))  # per-level lines of every frame
    try:  # would drown the progress line
        result = mireg.register_stack(
            frames,
            reference=args.reference,
            n_jobs=args.jobs,
            progress=not args.quiet,
            **REGISTER_OPTIONS,
            **OPTIONS_BY_NDIM[frames.ndim - 1],
            smoothing=args.smoothing,
            **placement,
        )
    finally:
        logger.setLevel(previous)
    parameters = mireg.motion_parameters(result)
    fd = mireg.framewise_displacement(parameters, radius=args.radius)

    corrected = result.warp(frames, order=3, cval=0.0, n_jobs=args.jobs).astype(np.float32)
    if info.format == "nifti":
        corrected = np.moveaxis(corrected, 0, -1)  # time last again
    io.write_image(args.output, corrected, like=info)
    unit = "mm" if frames.ndim == 4 else ("px" if args.spacing is None else "units")
    worst = int(np.argmax(fd))
    target = args.reference if isinstance(args.reference, str) else f"frame {args.reference}"
    print(
        f"{len(frames)} frames registered to {target}: mean FD {fd.mean():.3f} {unit}, "
        f"max {fd[worst]:.3f} {unit} (frame {worst})"
    )
    print(f"wrote {args.output}")
    if args.params is not None:
        write_table(args.params, parameters, fd)
        print(f"wrote {args.params}")
    if args.plot is not None:
        plot_motion(args.plot, parameters, fd, os.path.basename(args.series), unit)
        print(f"wrote {args.plot}")
    return 0
