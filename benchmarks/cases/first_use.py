"""The first calls that ``report/cold_start.py`` times and
``report/compile_profile.py`` profiles: one input set, shared."""

import numpy as np

STEPS = ("nmi", "alignment", "register2d", "register3d")


def first_calls(mireg):
    """{step: call} on a 128x128 image pair and a 40x44x36 volume pair.
    ``mireg`` is passed in, so that its import is the caller's to time."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:128, :128] / 128.0
    image = np.sin(6 * yy) * np.cos(4 * xx) + 0.5 * (yy > 0.4) + 0.3 * (xx > 0.6)
    moving = np.roll(image, (3, -2), axis=(0, 1)) + 0.01 * rng.standard_normal(image.shape)
    zz, yy, xx = np.mgrid[:40, :44, :36] / 40.0
    volume = np.sin(5 * zz) * np.cos(4 * yy) * np.sin(3 * xx + 0.5) + 0.5 * (zz > 0.5)
    moved = np.roll(volume, (2, -1, 1), axis=(0, 1, 2))
    return {
        "nmi": lambda: mireg.normalized_mutual_information(image, moving),
        "alignment": lambda: mireg.alignment(image, moving),
        "register2d": lambda: mireg.register(image, moving),
        "register3d": lambda: mireg.register(volume, moved),
    }
