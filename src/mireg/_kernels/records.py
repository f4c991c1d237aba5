"""The records the registration kernels read: one pyramid level's data.

``_levels.Level`` builds them once per level; ``cost.py`` and ``powell.py``
read them by field.  They are ``collections.namedtuple`` classes at module
level, so Numba types them field by field (one compiled specialisation per
combination of field types) and jitted code can build new ones, as Powell
does for each start of a multi-start run.

Conventions shared by every record: arrays are 3-D, a 2-D image being a
``(1, rows, cols)`` volume, and coordinates are index coordinates embedded
in 3-D (``(0, row, col)`` in 2-D); matrices are 4x4 homogeneous maps with
the identity on the unused axis.
"""

from collections import namedtuple

Transform = namedtuple(
    "Transform", ["origin", "units", "kind", "ndim", "center", "ref_grid", "mov_inverse"]
)
Transform.__doc__ = """How Powell's scaled coordinates ``x`` become an index map.

Fields
------
origin : ndarray of float64, shape (n,)
    Transform parameters at ``x = 0`` (world units, see
    :mod:`mireg.transforms`); the parameters are ``origin + x * units``.
units : ndarray of float64, shape (n,)
    World size of one unit of ``x`` per parameter.
kind : int
    ``modes.TRANSLATION``, ``modes.RIGID``, ``modes.SIMILARITY`` or
    ``modes.AFFINE``.
ndim : int
    2 or 3: the images' dimensionality (the parameter layout depends on it).
center : ndarray of float64, shape (3,)
    Rotation centre in world coordinates, embedded in 3-D (leading 0 in 2-D).
ref_grid : ndarray of float64, shape (4, 4)
    Reference index -> world coordinates at this level.
mov_inverse : ndarray of float64, shape (4, 4)
    Moving world -> index coordinates at this level.
"""

LevelData = namedtuple(
    "LevelData",
    [
        "table",
        "moving",
        "moving_grad",
        "moving_mask",
        "has_moving_mask",
        "moving_lo",
        "moving_scale",
        "n_bins",
        "cubic",
        "parzen",
        "use_gradient",
        "log_table",
        "oriented",
        "world_to_reference",
        "moving_to_world",
    ],
)
LevelData.__doc__ = """Reference samples and the moving image of one level.

Fields
------
table : ndarray of float32, shape (n_samples, 8)
    One row per reference sample: index coordinate (3), smoothed gradient
    along the grid's axes per world unit (3), its squared norm, intensity
    bin (see
    ``samples.fill_table``).
moving : ndarray of float64, shape (d0, d1, d2)
    The moving image, or if ``cubic`` its cubic B-spline coefficients with a
    mirrored border: one line before and two after along each interpolated
    axis (``_levels.bordered``; the image's shape is then that less 3).
moving_grad : ndarray of float32, shape (d0, d1, d2, k)
    The moving image's smoothed gradient, interleaved: ``k = 2``
    components (row, col) in 2-D, 3 in 3-D (see
    ``samples.interleaved_gradient``).
moving_mask : ndarray of uint8, shape (d0, d1, d2)
    Where the moving image takes part (nearest pixel); an empty array if
    ``has_moving_mask`` is False.
has_moving_mask : bool
    Whether ``moving_mask`` is read at all.
moving_lo : float
    The moving image's minimum: the lower edge of its first bin.
moving_scale : float
    Bins per unit of moving intensity: ``n_bins / (max - min)``.
n_bins : int
    Histogram bins per image (reference bins are in ``table``).
cubic : bool
    Interpolate the moving image by cubic B-spline (else linearly).
parzen : bool
    Share each moving value between its two nearest bin centres (weights
    ``1 - f`` and ``f``, in units of ``1 / WEIGHT_ONE``: a linear Parzen
    window, so the cost varies continuously with the pose); else count it
    whole in its bin (a count of 1).
use_gradient : bool
    Compute Pluim's gradient term G (else G is 0: NMI and MI need none).
log_table : ndarray of float64
    ``log_table[c] == log(c)`` for the counts it covers (entropies).
oriented : bool
    Whether either image's grid axes differ from the world's axes (a
    rotated or flipped affine); if not, the two matrices below are the
    identity and are never read.
world_to_reference : ndarray of float64, shape (3, 3)
    World directions -> the reference grid's axes (the transpose of its
    direction matrix), embedded in 3-D: the sample table's gradients are
    along the reference grid's axes.
moving_to_world : ndarray of float64, shape (3, 3)
    The moving grid's axes (its gradient stack's components) -> world
    directions: the moving image's direction matrix, embedded in 3-D.
"""

Criterion = namedtuple("Criterion", ["metric", "min_overlap", "gradient_power"])
Criterion.__doc__ = """What the statistics of one evaluation are scored by.

Fields
------
metric : int
    ``modes.ALIGNMENT`` (NMI x G), ``modes.NMI`` or ``modes.MI``.
min_overlap : int
    Fewer overlapping samples than this score as "no overlap".
gradient_power : float
    ``modes.ALIGNMENT`` scores ``NMI * G**gradient_power``: 1.0 is Pluim's
    product (see ``_config.VOLUME_GRADIENT_POWER`` for a volume's
    levels).
"""

PowellOptions = namedtuple(
    "PowellOptions", ["lower", "upper", "direc", "xtol", "ftol", "maxfev", "maxiter"]
)
PowellOptions.__doc__ = """scipy's bounded Powell options, in scaled units of ``x``.

Fields
------
lower, upper : ndarray of float64, shape (n,)
    Finite bounds on every coordinate; the start lies inside them.
direc : ndarray of float64, shape (n, n)
    Initial search directions, one a row (copied, never modified).
xtol : float
    Absolute tolerance of each line search's minimiser (scipy's ``xtol``).
ftol : float
    Relative decrease of the cost below which Powell stops.
maxfev : int
    Cost evaluations at most.
maxiter : int
    Powell iterations at most (one line search along every direction each).
"""
