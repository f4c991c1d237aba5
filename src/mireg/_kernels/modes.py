"""The choices a kernel is told as a number, named.

Kernels take the metric and the transform kind as small integers (a string
is not a cheap argument to a compiled loop).  The Python layer turns the
user's string into its code with :func:`metric_code` / :func:`transform_code`;
kernels compare against the names below, never against bare numbers.
"""

METRICS = ("alignment", "nmi", "mi")
ALIGNMENT, NMI, MI = 0, 1, 2  # METRICS[ALIGNMENT] == "alignment"

TRANSFORMS = ("translation", "rigid", "similarity", "affine")
TRANSLATION, RIGID, SIMILARITY, AFFINE = 0, 1, 2, 3  # TRANSFORMS[RIGID] == "rigid"


def metric_code(name):
    """The kernel code of a metric name in :data:`METRICS`."""
    return METRICS.index(name)


def transform_code(name):
    """The kernel code of a transform kind in :data:`TRANSFORMS`."""
    return TRANSFORMS.index(name)
