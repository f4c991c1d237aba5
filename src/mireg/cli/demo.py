"""The reference implementation's experiment, run end to end: ``mireg demo``.

scikit-image's astronaut is aligned with a copy of itself rotated by 40
degrees and degraded by Gaussian noise, as in "Function optimization in
SciPy", which :mod:`mireg.reference` implements.  The figures, all
written here as PNG:

1. NMI of an image and a noisy copy aligned, slightly off and very off;
2. NMI while sliding the copy past the image along the columns: a narrow
   peak on a flat, bumpy plateau, so a local optimiser started far out
   sees no way uphill;
3. the same after Gaussian smoothing: the peak widens (why pyramids help);
4. the cost (negated NMI x gradient information) around the recovered
   angle;
5. input, transformed + noise, registered, and a checkerboard of the
   reference and the registered image.

NMI here is computed over the pixels both images cover (the overlap), as
:func:`mireg.register` does, so that the frame does not count as structure.
matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np
from scipy import ndimage as ndi

from .. import _twins
from .. import transforms as tf

__all__ = ["run", "demo_images", "plot_registration", "checkerboard", "FIGURES"]

FIGURES = {
    "poses": "fig1_nmi_aligned_vs_off.png",
    "sliding": "fig2_nmi_sliding.png",
    "smoothed": "fig3_nmi_sliding_smoothed.png",
    "cost": "fig4_cost_profile_angle.png",
    "registration": "fig5_registration.png",
}
THETA = 40.0  # the rotation of the moving image, degrees
NOISE_VARIANCE = 1e-3
NMI_BINS = 100  # the reference implementation's (and scikit-image's) bins
POSES = [
    ("aligned", 0.0, 0.0),
    ("slightly off", 2.0, 0.0),
    ("very off", 20.0, 0.0),
    ("slightly off", 0.0, 2.0),
    ("very off", 0.0, 20.0),
]  # (name, shift px, angle deg)
SLIDE = np.arange(-60, 61)
SMOOTHING_SIGMAS = (2.0, 4.0, 8.0)
DPI = 80


def demo_images():
    """The experiment's pair: reference, and the moving image rotated by
    40 degrees about its centre plus Gaussian noise (fixed random state)."""
    from skimage import color, data, transform, util

    reference = transform.rescale(color.rgb2gray(data.astronaut()), 0.3)
    moving = transform.rotate(reference, THETA)
    moving = util.random_noise(moving, mode="gaussian", rng=0, mean=0, var=NOISE_VARIANCE)
    return reference, moving


def _pose_matrix(shape, shift=0.0, angle=0.0):
    """Index-order map reference -> moving for a rotation (degrees) about
    the centre and a shift along the columns (pixels)."""
    center = (np.array(shape, float) - 1.0) / 2.0
    return tf.physical_matrix([np.deg2rad(angle), 0.0, shift], 2, "rigid", center)


def overlap_nmi(reference, moving, matrix):
    """NMI of ``reference`` and ``moving`` resampled by ``matrix``, over the
    reference pixels that land inside the moving image."""
    from .. import normalized_mutual_information

    warped = ndi.affine_transform(moving, matrix, order=1, mode="constant", cval=0.0)
    coverage = ndi.affine_transform(
        np.ones(moving.shape), matrix, order=1, mode="constant", cval=0.0
    )
    inside = coverage > 1.0 - 1e-9
    return normalized_mutual_information(reference[inside], warped[inside], bins=NMI_BINS)


def nmi_poses(reference, copy):
    """[(name, shift, angle, NMI)] for the poses of figure 1."""
    return [
        (
            name,
            shift,
            angle,
            overlap_nmi(reference, copy, _pose_matrix(reference.shape, shift, angle)),
        )
        for name, shift, angle in POSES
    ]


def sliding_profile(reference, copy, offsets=SLIDE):
    """NMI for each column offset (pixels) of ``copy`` against ``reference``."""
    return np.array(
        [overlap_nmi(reference, copy, _pose_matrix(reference.shape, s)) for s in offsets]
    )


def cost_profile(reference, moving, parameters, angles):
    """The reference implementation's cost, -alignment, with the recovered
    shift and each angle (degrees) of ``angles``; the moving image resampled
    as the reference implementation does (cubic, zero outside)."""
    from .. import alignment

    center = (np.array(reference.shape, float) - 1.0) / 2.0
    costs = []
    for angle in angles:
        p = np.array([np.deg2rad(angle), parameters[1], parameters[2]])
        warped = ndi.affine_transform(
            moving, tf.physical_matrix(p, 2, "rigid", center), order=3, mode="constant", cval=0.0
        )
        costs.append(-alignment(reference, warped, bins=NMI_BINS))
    return np.array(costs)


def checkerboard(image0, image1, tiles=8):
    """Alternate square tiles of two images of the same shape."""
    index = np.indices(image0.shape)
    size = max(1, int(np.ceil(max(image0.shape) / tiles)))
    board = np.sum(index // size, axis=0) % 2 == 0
    return np.where(board, image0, image1)


def _unit(image):
    lo, hi = float(np.min(image)), float(np.max(image))
    return (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image, dtype=float)


def _figure(width, height):
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    return Figure(figsize=(width, height), layout="constrained")


def _save(fig, path):
    """PNG with a 64-colour palette: the figures are mostly gray, and
    noisy images in full RGBA would weigh hundreds of KB."""
    import io

    from PIL import Image  # a dependency of matplotlib

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    buffer.seek(0)
    with Image.open(buffer) as image:
        palette = image.convert("RGB").quantize(colors=64, dither=Image.Dither.NONE)
        palette.save(path, format="PNG", optimize=True)


def _image_row(images, titles, path, width_per_panel=2.2):
    fig = _figure(width_per_panel * len(images), width_per_panel + 0.5)
    axes = fig.subplots(1, len(images))
    for ax, image, title in zip(np.atleast_1d(axes), images, titles):
        ax.imshow(image, cmap=None if image.ndim == 3 else "gray", interpolation="antialiased")
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
    _save(fig, path)


def plot_poses(reference, copy, poses, path):
    """Figure 1: overlays (reference magenta, copy green) with their NMI."""
    images, titles = [], []
    for name, shift, angle, nmi in poses:
        moved = ndi.affine_transform(
            copy, _pose_matrix(reference.shape, shift, angle), order=1, mode="constant", cval=0.0
        )
        a, b = _unit(reference), np.clip(moved, 0.0, 1.0)
        images.append(np.dstack([a, b, a]))
        how = f" (shift {shift:g} px)" if shift else f" (rotation {angle:g}°)" if angle else ""
        titles.append(f"{name}{how}\nNMI = {nmi:.3f}")
    _image_row(images, titles, path, width_per_panel=2.0)


def plot_sliding(offsets, profiles, path, title):
    """Figures 2 and 3: NMI against the column offset, one curve per
    smoothing sigma (0 = none)."""
    fig = _figure(6.0, 3.4)
    ax = fig.subplots()
    for sigma, values in profiles.items():
        style = {"color": "0.6", "lw": 1.0} if sigma == 0 and len(profiles) > 1 else {}
        label = "no smoothing" if sigma == 0 else f"Gaussian σ = {sigma:g} px"
        ax.plot(offsets, values, label=label, **style)
    ax.set_xlabel("offset along the columns (pixels)")
    ax.set_ylabel("NMI")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, path)


def plot_cost_profile(angles, costs, recovered, path):
    """Figure 4: the cost around the recovered angle."""
    fig = _figure(6.0, 3.4)
    ax = fig.subplots()
    ax.plot(angles, costs)
    ax.axvline(recovered, color="C3", ls="--", lw=1.0, label=f"recovered {recovered:.2f}°")
    ax.axvline(THETA, color="0.5", ls=":", lw=1.0, label=f"true {THETA:g}°")
    ax.set_xlabel("rotation angle (degrees)")
    ax.set_ylabel("cost = −NMI × G")
    ax.set_title("Cost function around the angle of interest", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, path)


def _middle_slice(image):
    image = np.asarray(image)
    while image.ndim > 2:
        image = image[image.shape[0] // 2]
    return image


def plot_registration(
    reference,
    moving,
    registered,
    path,
    titles=("Reference", "Moving", "Registered", "Checkerboard: reference / registered"),
):
    """Figure 5 (and ``mireg register --plot``): reference, moving,
    registered and a checkerboard of reference and registered.  Volumes
    show their middle slice along the first axis."""
    ref, mov, reg = (_middle_slice(a) for a in (reference, moving, registered))
    lo, hi = float(ref.min()), float(ref.max())
    scale = (lambda a: np.clip((a - lo) / (hi - lo), 0, 1)) if hi > lo else _unit
    board = checkerboard(scale(ref), scale(reg))
    _image_row([_unit(ref), _unit(mov), scale(reg), board], list(titles), path)


def _print_table(poses, echo):
    echo(f"NMI of the image and a noisy copy ({NMI_BINS} bins, overlapping pixels only):")
    echo("| pose | shift (px) | rotation (deg) | NMI |")
    echo("|---|--:|--:|--:|")
    for name, shift, angle, nmi in poses:
        echo(f"| {name} | {shift:g} | {angle:g} | {nmi:.4f} |")
    echo("")


def _register(reference, moving, echo):
    import mireg

    echo("Registering (rigid, NMI x gradient information, coarse to fine):")
    start = time.perf_counter()
    result = mireg.register(reference, moving)
    first = time.perf_counter() - start
    log = logging.getLogger("mireg")
    level = log.level
    log.setLevel(logging.WARNING)  # the same progress lines again say nothing
    try:
        # a process's first registrations go without Numba's Powell until it
        # compiles (mireg._twins): compile it now, so that the time below is
        # the compiled path's, as a longer session gets
        with _twins.disabled():
            mireg.register(reference, moving)
        start = time.perf_counter()
        mireg.register(reference, moving)
        seconds = time.perf_counter() - start
    finally:
        log.setLevel(level)
    angle = np.rad2deg(result.parameters[0])
    echo(f"recovered angle: {angle:.3f} deg (true {THETA:g})")
    echo(
        f"recovered offset: ({result.parameters[1]:.3f}, {result.parameters[2]:.3f}) px "
        "(row, col; true (0, 0): the rotation is about the centre)"
    )
    echo(
        f"registration time: {seconds:.3f} s ({result.nfev} cost evaluations); "
        f"first run {first:.3f} s (loads or, the very first time, compiles and "
        "caches the Numba kernels)"
    )
    return result, seconds


def _compare_reference(reference, moving, result, echo):
    """Time the slow oracle on the same pair; returns the speed-ups."""
    import mireg

    from .. import reference as oracle

    log = logging.getLogger("mireg")
    level, warm = log.level, []
    log.setLevel(logging.WARNING)  # the same progress lines three times say nothing
    try:
        for _ in range(3):  # warm timings: no kernel loading in the comparison
            start = time.perf_counter()
            mireg.register(reference, moving)
            warm.append(time.perf_counter() - start)
    finally:
        log.setLevel(level)
    fast = min(warm)
    echo("Timing mireg.reference.register (the reference implementation in NumPy/SciPy) ...")
    start = time.perf_counter()
    slow = oracle.register(reference, moving)
    slow_seconds = time.perf_counter() - start
    slow_angle = np.rad2deg(slow["parameters"][0])
    found = abs(slow_angle - THETA) < 1.0
    echo(
        f"reference: {slow_seconds:.2f} s, {slow['nfev']} cost evaluations, "
        f"angle {slow_angle:.3f} deg"
        + (
            ""
            if found
            else " (missed the 40 deg rotation: no global search, Powell stops in a local optimum)"
        )
    )
    echo(f"mireg: {fast:.3f} s (best of 3 warm runs), {result.nfev} cost evaluations")
    per_eval = (slow_seconds / slow["nfev"]) / (fast / result.nfev)
    speedup = slow_seconds / fast
    echo(f"speed-up: {speedup:.0f}x wall clock, {per_eval:.0f}x per cost evaluation")
    return {
        "reference_seconds": slow_seconds,
        "reference_angle": slow_angle,
        "mireg_warm_seconds": fast,
        "speedup": speedup,
        "speedup_per_evaluation": per_eval,
    }


def _nmi_figures(reference, paths, echo):
    """Figures 1-3 (and figure 1's table) on the image and a noisy copy."""
    from skimage import util

    copy = util.random_noise(reference, mode="gaussian", rng=0, mean=0, var=NOISE_VARIANCE)
    poses = nmi_poses(reference, copy)
    _print_table(poses, echo)
    plot_poses(reference, copy, poses, paths["poses"])
    plain = sliding_profile(reference, copy)
    plot_sliding(
        SLIDE, {0: plain}, paths["sliding"], "NMI while sliding a noisy copy past the image"
    )
    smoothed = {0: plain}
    for sigma in SMOOTHING_SIGMAS:
        smoothed[sigma] = sliding_profile(
            ndi.gaussian_filter(reference, sigma), ndi.gaussian_filter(copy, sigma)
        )
    plot_sliding(
        SLIDE, smoothed, paths["smoothed"], "The same after Gaussian smoothing: a wider peak"
    )
    return poses


def run(out_dir="mireg-demo", *, compare_reference=False, echo=print):
    """Run the experiment, write the five figures into ``out_dir``.

    Parameters
    ----------
    out_dir : str or os.PathLike
        Created if needed.
    compare_reference : bool, optional
        Also time :func:`mireg.reference.register` (seconds) and report
        the speed-up.
    echo : callable, optional
        Where the report lines go (``print`` by default); progress per
        pyramid level goes to the ``"mireg"`` logger.

    Returns
    -------
    summary : dict
        ``angle`` (degrees), ``offset``, ``seconds`` (registration),
        ``figures`` (paths), ``nmi`` (figure 1's table) and, with
        ``compare_reference``, the reference's timings and speed-ups.
    """
    start = time.perf_counter()
    os.makedirs(out_dir, exist_ok=True)
    paths = {key: os.path.join(os.fspath(out_dir), name) for key, name in FIGURES.items()}
    reference, moving = demo_images()
    echo(
        f"mireg demo: scikit-image's astronaut, {reference.shape[0]}x{reference.shape[1]}"
        f" px, rotated by {THETA:g} deg + Gaussian noise (variance {NOISE_VARIANCE:g})"
    )
    echo(
        "(the first run after installing compiles mireg's Numba kernels, 15-30 s on "
        "two cores; later runs load them from Numba's cache)\n"
    )

    poses = _nmi_figures(reference, paths, echo)
    result, seconds = _register(reference, moving, echo)
    angle = float(np.rad2deg(result.parameters[0]))
    angles = np.linspace(angle - 20.0, angle + 20.0, 51)
    plot_cost_profile(
        angles, cost_profile(reference, moving, result.parameters, angles), angle, paths["cost"]
    )
    plot_registration(
        reference,
        moving,
        result.warp(moving),
        paths["registration"],
        titles=(
            "Input image",
            "Transformed image + noise",
            "Registered image",
            "Checkerboard: input / registered",
        ),
    )
    summary = {
        "angle": angle,
        "offset": result.parameters[1:].tolist(),
        "seconds": seconds,
        "nfev": result.nfev,
        "figures": paths,
        "nmi": [{"pose": n, "shift": s, "angle": a, "nmi": v} for n, s, a, v in poses],
    }
    if compare_reference:
        summary.update(_compare_reference(reference, moving, result, echo))
    echo("")
    for path in paths.values():
        echo(f"wrote {path}")
    echo(f"total time: {time.perf_counter() - start:.1f} s")
    return summary
