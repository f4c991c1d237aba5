"""mireg.motion: motion parameters of registered series and framewise
displacement (Power et al. 2012)."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from motion_helpers import moving_series

import mireg
from mireg import motion
from mireg.stack import StackResult


def result(parameters, ndim=3, kind="rigid"):
    """A registration result holding these parameters (the matrix is not read)."""
    parameters = np.asarray(parameters, dtype=np.float64)
    return mireg.RegistrationResult(
        matrix=np.eye(ndim + 1),
        parameters=parameters,
        kind=kind,
        metric=1.0,
        metric_name="alignment",
        nfev=1,
        center=np.zeros(ndim),
        reference_shape=(8,) * ndim,
    )


# ---- framewise displacement ---------------------------------------------------


def fd_by_hand(table, radius):
    """Power et al.'s definition written out term by term."""
    n_rot = 3 if len(table[0]) == 6 else 1
    out = [0.0]
    for previous, row in zip(table[:-1], table[1:]):
        total = 0.0
        for k in range(len(row)):
            change = abs(row[k] - previous[k])
            total += radius * math.radians(change) if k < n_rot else change
        out.append(total)
    return out


@pytest.mark.parametrize("width", [6, 3])
def test_fd_equals_the_definition_on_random_tables(width):
    rng = np.random.default_rng(3)
    table = rng.normal(0.0, 2.0, (20, width))
    for radius in (50.0, 80.0):
        np.testing.assert_allclose(
            motion.framewise_displacement(table, radius=radius),
            fd_by_hand(table.tolist(), radius),
            rtol=1e-13,
            atol=1e-13,
        )


def test_fd_known_example():
    # volume 1: 1 degree about x, 0.5 mm along x and -0.2 mm along z;
    # volume 2: back at rest; volume 3: 2 degrees about z only
    table = [
        [0, 0, 0, 0, 0, 0],
        [1, 0, 0, 0.5, 0, -0.2],
        [0, 0, 0, 0, 0, 0],
        [0, 0, 2, 0, 0, 0],
    ]
    arc = 50.0 * math.pi / 180.0  # a 1-degree arc on a 50 mm sphere: 0.8727 mm
    expected = [0.0, 0.7 + arc, 0.7 + arc, 2 * arc]
    np.testing.assert_allclose(mireg.framewise_displacement(table), expected, rtol=1e-14)
    # 2-D: 3 degrees and a (1, -1) shift on a 10-unit circle
    fd2 = mireg.framewise_displacement([[0, 0, 0], [3, 1, -1]], radius=10.0)
    np.testing.assert_allclose(fd2, [0.0, 2.0 + 10.0 * math.radians(3.0)], rtol=1e-14)


def test_fd_nan_rows_spread_to_their_neighbours_only():
    table = np.zeros((4, 6))
    table[1] = np.nan
    table[3, 3] = 2.0
    fd = mireg.framewise_displacement(table)
    assert fd[0] == 0.0 and np.isnan(fd[1]) and np.isnan(fd[2]) and fd[3] == 2.0


@pytest.mark.parametrize(
    "parameters, radius, name",
    [
        (np.zeros((4, 5)), 50.0, "parameters"),
        (np.zeros(6), 50.0, "parameters"),
        ([["a"] * 6] * 2, 50.0, "parameters"),
        (np.zeros((4, 6)), 0.0, "radius"),
        (np.zeros((4, 6)), float("nan"), "radius"),
        (np.zeros((4, 6)), "50", "radius"),
    ],
)
def test_fd_rejects_bad_input_naming_the_argument(parameters, radius, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        mireg.framewise_displacement(parameters, radius=radius)


def test_fd_leaves_its_input_alone():
    table = np.arange(12.0).reshape(2, 6)
    kept = table.copy()
    mireg.framewise_displacement(table)
    np.testing.assert_array_equal(table, kept)


# ---- motion parameters ----------------------------------------------------------


def test_motion_parameters_of_known_results():
    rotation = np.deg2rad([1.0, -2.0, 0.5])
    results = [
        result(np.zeros(6)),
        result(np.r_[rotation, 1.0, 2.0, -3.0]),
        ValueError("this frame failed"),
        result([0.5, -0.25, 4.0], kind="translation"),
    ]
    table = mireg.motion_parameters(StackResult(results, 0))
    np.testing.assert_allclose(table[0], 0.0)
    np.testing.assert_allclose(table[1], [1.0, -2.0, 0.5, 1.0, 2.0, -3.0], rtol=1e-14)
    assert np.isnan(table[2]).all()
    np.testing.assert_array_equal(table[3], [0.0, 0.0, 0.0, 0.5, -0.25, 4.0])
    table2 = mireg.motion_parameters([result([np.deg2rad(-3.0), 2.0, 1.0], ndim=2)])
    np.testing.assert_allclose(table2, [[-3.0, 2.0, 1.0]], rtol=1e-14)


@pytest.mark.parametrize(
    "results, error, match",
    [
        ([], ValueError, "empty"),
        ([ValueError("x")], ValueError, "no registered frame"),
        ([result(np.zeros(7), kind="similarity")], ValueError, "similarity"),
        ([result(np.zeros(6)), result(np.zeros(3), ndim=2)], ValueError, "mixes"),
        ([result(np.zeros(6)), "frame"], TypeError, r"results\[1\]"),
        (3, TypeError, "`results`"),
    ],
)
def test_motion_parameters_rejects_bad_input(results, error, match):
    with pytest.raises(error, match=match):
        mireg.motion_parameters(results)


def test_motion_parameters_recover_a_2d_series():
    # spacing 0.5: the shifts come back in those units (half the pixels)
    frames, truth = moving_series((64, 64), np.diag([0.5, 0.5, 1.0]), degrees=2.0, shift=1.0)
    stack = mireg.register_stack(frames, transform="rigid", spacing=(0.5, 0.5), n_jobs=1)
    table = mireg.motion_parameters(stack)
    assert table.shape == (6, 3)
    error = np.abs(table - truth)
    # measured: <= 0.11 degree (0.05 px at the head's edge), <= 0.006 units
    assert error[:, 0].max() < 0.2 and error[:, 1:].max() < 0.02, error


def test_docstring_examples():
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner()
    for name in ("motion_parameters", "framewise_displacement"):
        for test in finder.find(getattr(motion, name), name, globs={}):
            runner.run(test)
    assert runner.failures == 0 and runner.tries >= 6
