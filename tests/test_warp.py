"""mireg.warp's cubic kernel against scipy.ndimage.affine_transform (order
3, mode="constant"): the values to rounding, the same points set to cval,
2-D and 3-D, rotations, other output shapes, dtypes and edge cases."""

import numpy as np
import pytest
from scipy import ndimage as ndi

import mireg


def random_affine(ndim, rng, scale=0.15, shift=2.0):
    matrix = np.eye(ndim + 1)
    matrix[:ndim, :ndim] += rng.normal(0.0, scale, (ndim, ndim))
    matrix[:ndim, ndim] = rng.normal(0.0, shift, ndim)
    return matrix


def small_affine(shape, rng):
    """A random affine that keeps part of an image of ``shape`` in view."""
    matrix = random_affine(len(shape), rng, scale=0.1, shift=0.1 * min(shape))
    return matrix


def scipy_warp(image, matrix, shape, cval=0.0):
    return ndi.affine_transform(
        image.astype(np.float64), matrix, output_shape=shape, order=3, mode="constant", cval=cval
    )


def assert_same_as_scipy(got, expected):
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    scale = np.nanmax(np.abs(expected))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12 * scale, equal_nan=True)


@pytest.mark.parametrize(
    "shape, out_shape",
    [
        ((40, 30), (40, 30)),
        ((33, 47), (20, 60)),
        ((4, 9), (6, 6)),
        ((20, 18, 16), (20, 18, 16)),
        ((9, 8, 7), (12, 5, 9)),
        ((4, 4, 4), (5, 5, 5)),
    ],
)
@pytest.mark.parametrize("cval", [0.0, -3.5, np.nan])
def test_cubic_warp_matches_scipy(shape, out_shape, cval):
    rng = np.random.default_rng(len(shape) * 100 + shape[0])
    image = ndi.gaussian_filter(rng.normal(size=shape), 1.0) * 50.0 + 7.0
    for _ in range(3):
        matrix = small_affine(shape, rng)
        got = mireg.warp(image, matrix, order=3, cval=cval, output_shape=out_shape)
        expected = scipy_warp(image, matrix, out_shape, cval)
        # the test means something: part inside, part outside
        inside = np.isfinite(expected) & (expected != cval)
        assert 0 < inside.sum() < inside.size
        assert_same_as_scipy(got, expected)


def test_rigid_result_warp_matches_scipy_on_a_registration():
    rng = np.random.default_rng(3)
    reference = ndi.gaussian_filter(rng.random((40, 44, 36)), 2.0)
    truth = np.eye(4)
    truth[:3, 3] = (1.5, -2.25, 0.75)
    moving = ndi.affine_transform(reference, np.linalg.inv(truth), order=3)
    result = mireg.register(reference, moving, transform="translation", metric="nmi")
    assert_same_as_scipy(result.warp(moving), scipy_warp(moving, result.matrix, reference.shape))


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32, np.float64])
def test_cubic_warp_any_dtype_float64_out_input_untouched(dtype):
    rng = np.random.default_rng(5)
    image = (rng.random((24, 20)) * 200).astype(dtype)
    before = image.copy()
    matrix = random_affine(2, rng)
    got = mireg.warp(image, matrix)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(image, before)
    assert_same_as_scipy(got, scipy_warp(image, matrix, image.shape))


def test_identity_and_boundary_points():
    image = np.arange(30.0).reshape(5, 6)
    np.testing.assert_allclose(mireg.warp(image, np.eye(3)), image, atol=1e-12)
    # a shift by exactly one column: the last column maps to n (outside),
    # the others land on grid points
    shift = np.eye(3)
    shift[1, 2] = 1.0
    got = mireg.warp(image, shift, cval=-1.0)
    np.testing.assert_allclose(got[:, :-1], image[:, 1:], atol=1e-12)
    np.testing.assert_array_equal(got[:, -1], -1.0)
    assert_same_as_scipy(got, scipy_warp(image, shift, image.shape, -1.0))


@pytest.mark.parametrize("shape", [(1, 12), (12, 3), (2, 5, 9), (6, 6, 1)])
def test_axes_shorter_than_the_spline_go_through_scipy(shape):
    rng = np.random.default_rng(7)
    image = rng.random(shape)
    matrix = np.eye(len(shape) + 1)
    matrix[-2, -1] = 0.25  # a quarter pixel along the last axis
    assert_same_as_scipy(mireg.warp(image, matrix), scipy_warp(image, matrix, shape))


def test_other_orders_are_scipys():
    rng = np.random.default_rng(9)
    image = rng.random((16, 15))
    matrix = random_affine(2, rng)
    for order in (0, 1, 2, 4, 5):
        np.testing.assert_array_equal(
            mireg.warp(image, matrix, order=order),
            ndi.affine_transform(image, matrix, order=order, mode="constant"),
        )


def test_cubic_warp_is_deterministic():
    rng = np.random.default_rng(11)
    image = rng.random((30, 28, 26))
    matrix = random_affine(3, rng)
    np.testing.assert_array_equal(mireg.warp(image, matrix), mireg.warp(image, matrix))


@pytest.mark.parametrize("shape", [(5, 5, 5), (5,), (5, 0), (5, -1), (5, 2.5), "ab"])
def test_bad_output_shape_is_a_value_error(shape):
    with pytest.raises(ValueError, match="output_shape"):
        mireg.warp(np.ones((6, 6)), np.eye(3), output_shape=shape)
