"""Head-motion estimates of a registered series, as fMRI tools report them.

:func:`motion_parameters` reads the rigid transforms of a
:func:`~mireg.register_stack` result (or any list of rigid
:class:`~mireg.RegistrationResult`) as one row per frame: rotations in
degrees, then translations in world units; :func:`framewise_displacement`
turns those rows into Power et al.'s framewise displacement.  ``mireg
motion`` (:mod:`mireg.cli.motion`) writes both as a table.
"""

from __future__ import annotations

import numbers

import numpy as np

from .registration_result import RegistrationResult

__all__ = ["motion_parameters", "framewise_displacement"]

_KINDS = ("rigid", "translation")


def _frame_row(result, ndim):
    """(rotations in degrees, translations) of one rigid or translation result."""
    n_rotations = 1 if ndim == 2 else 3
    parameters = np.asarray(result.parameters, dtype=np.float64)
    if result.kind == "translation":
        return np.concatenate([np.zeros(n_rotations), parameters[:ndim]])
    return np.concatenate([np.rad2deg(parameters[:n_rotations]), parameters[n_rotations:]])


def motion_parameters(results):
    """Per-frame rotations (degrees) and translations (world units) of a series.

    Parameters
    ----------
    results : StackResult or sequence of RegistrationResult
        Rigid (or translation-only) registrations of every frame to one
        reference, as :func:`~mireg.register_stack` returns them.  A slot
        holding an exception (a failed frame, ``errors="return"``) gives a
        row of NaN.

    Returns
    -------
    ndarray of float64
        3-D frames: shape ``(n, 6)``, columns ``(r0, r1, r2, t0, t1, t2)``;
        2-D frames: shape ``(n, 3)``, columns ``(angle, t0, t1)``.
        Rotations in degrees, translations in the registration's world
        units (mm for NIfTI affines; pixels, or ``spacing`` units, for
        plain arrays), along the world axes.

    Raises
    ------
    ValueError
        ``results`` is empty, has no successful frame, mixes 2-D and 3-D, or
        holds similarity or affine transforms (not a rigid motion).
    TypeError
        ``results`` is not a sequence of results.

    Notes
    -----
    The rows are ``result.parameters`` (:mod:`mireg.transforms`): each
    frame's map from reference world to frame world is a rotation *about
    the reference's centre* followed by the translation, so the
    translations are those of the reference's centre (a rotation about
    another point changes them).  In 3-D the three rotation columns are the
    components of the rotation vector (axis times angle) in world axes; for
    head-sized motion they are the angles about the x, y and z axes up to
    terms of second order (products of angles), whatever the order of
    composition: Euler angles of 1 degree per axis differ from them by
    about 0.01 degree, of 3 degrees by about 0.08.  A translation-only
    result has zero rotations.

    Examples
    --------
    >>> import numpy as np
    >>> import mireg
    >>> from mireg.stack import StackResult
    >>> frame = mireg.RegistrationResult(
    ...     matrix=np.eye(3), parameters=np.array([np.deg2rad(2.0), 1.5, -0.5]),
    ...     kind="rigid", metric=1.0, metric_name="alignment", nfev=1)
    >>> mireg.motion_parameters([frame]).round(6).tolist()
    [[2.0, 1.5, -0.5]]
    """
    try:
        items = list(results)
    except TypeError:
        raise TypeError(
            "`results` must be a StackResult or a sequence of RegistrationResult, "
            f"got {type(results).__name__}"
        ) from None
    if not items:
        raise ValueError("`results` is empty")
    good = [r for r in items if isinstance(r, RegistrationResult)]
    if not good:
        if not any(isinstance(r, BaseException) for r in items):
            raise TypeError(
                f"`results` must hold RegistrationResult objects, got {type(items[0]).__name__}"
            )
        raise ValueError("`results` has no registered frame (every one failed)")
    ndims = {r.ndim for r in good}
    if len(ndims) != 1:
        raise ValueError(f"`results` mixes 2-D and 3-D transforms ({sorted(ndims)})")
    ndim = ndims.pop()
    kinds = sorted({r.kind for r in good} - set(_KINDS))
    if kinds:
        raise ValueError(
            f"`results` holds {', '.join(kinds)} transforms: motion parameters need "
            'transform="rigid" (or "translation")'
        )
    width = 3 if ndim == 2 else 6
    out = np.full((len(items), width), np.nan)
    for i, result in enumerate(items):
        if isinstance(result, RegistrationResult):
            out[i] = _frame_row(result, ndim)
        elif not isinstance(result, BaseException):
            raise TypeError(
                f"`results[{i}]` must be a RegistrationResult (or the exception of "
                f"a failed frame), got {type(result).__name__}"
            )
    return out


def framewise_displacement(parameters, radius=50.0):
    """Framewise displacement (Power et al. 2012) of a motion table.

    Parameters
    ----------
    parameters : array_like, shape (n, 6) or (n, 3)
        One row per frame: 3-D ``(r0, r1, r2, t0, t1, t2)`` or 2-D
        ``(angle, t0, t1)``, rotations in degrees and translations in world
        units: :func:`motion_parameters`' layout.
    radius : float
        The sphere's radius that turns rotations into displacements, in the
        translations' units: 50 mm, a head's cortex, in Power et al.

    Returns
    -------
    ndarray of float64, shape (n,)
        ``FD[0] = 0`` and ``FD[i] = sum |t_i - t_(i-1)| + radius * sum
        |r_i - r_(i-1)|`` with the rotations in radians: the translations'
        change plus the arc the rotations' change moves a point of the
        sphere by, each axis counted apart (sums of absolute values, not a
        Euclidean norm).  A frame next to a NaN row gets NaN.

    Raises
    ------
    ValueError
        ``parameters`` is not an (n, 6) or (n, 3) table of real numbers, or
        ``radius`` is not a finite positive number.

    References
    ----------
    .. [1] Power JD, Barnes KA, Snyder AZ, Schlaggar BL, Petersen SE.
       Spurious but systematic correlations in functional connectivity MRI
       networks arise from subject motion.  NeuroImage 59(3):2142-2154
       (2012).  :doi:`10.1016/j.neuroimage.2011.10.018`

    Examples
    --------
    >>> import mireg
    >>> table = [[0, 0, 0, 0, 0, 0], [1, 0, 0, 0.5, 0, -0.2]]
    >>> mireg.framewise_displacement(table).round(4).tolist()
    [0.0, 1.5727]
    """
    if (
        isinstance(radius, bool)
        or not isinstance(radius, numbers.Real)
        or not np.isfinite(radius)
        or radius <= 0
    ):
        raise ValueError(f"`radius` must be a finite number > 0, got {radius!r}")
    table = np.asarray(parameters)
    if table.dtype.kind not in "biuf" or table.ndim != 2 or table.shape[1] not in (3, 6):
        raise ValueError(
            "`parameters` must be an (n, 6) table (3 rotations in degrees, 3 "
            "translations) or (n, 3) (angle in degrees, 2 translations) of real "
            f"numbers, got {table.dtype} of shape {table.shape}"
        )
    table = table.astype(np.float64)
    n_rotations = 3 if table.shape[1] == 6 else 1
    change = np.abs(np.diff(table, axis=0))
    fd = np.zeros(len(table))
    fd[1:] = change[:, n_rotations:].sum(axis=1) + float(radius) * np.deg2rad(
        change[:, :n_rotations]
    ).sum(axis=1)
    return fd
