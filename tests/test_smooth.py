"""The Gaussian smoothing and gradient stacks of mireg._fused against
scipy.ndimage and NumPy: the same bits."""

import numpy as np
import pytest
from scipy import ndimage as ndi
from test_gradient import SIGMAS, cast

from mireg._fused import gradient_stack, smooth


@pytest.mark.parametrize(
    "dtype", [np.float64, np.float32, np.uint8, np.int16, np.uint16, np.bool_]
)
@pytest.mark.parametrize("shape", [(50,), (2, 3), (37, 41), (9, 3, 12), (3, 4, 5, 6)])
@pytest.mark.parametrize("sigma", SIGMAS)
def test_smooth_is_scipy_gaussian_filter(rng, dtype, shape, sigma):
    image = cast(rng.normal(size=shape) * 500 + 1000, dtype)
    expected = ndi.gaussian_filter(
        image.astype(np.float64), sigma, mode="constant", cval=0.0, truncate=4.0
    )
    got = smooth(image, sigma)
    assert got.dtype == np.float64 and got.flags.c_contiguous
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(got, expected)  # the same operations, in order


@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
def test_smooth_reads_wide_integers_as_numpy_converts_them(rng, dtype):
    # the eight-wide bodies convert lines to float64 themselves: values
    # beyond 2**53 must round as np.float64(x) does (narrower integers are
    # exact in float64 whatever the conversion)
    info = np.iinfo(dtype)
    image = rng.integers(info.min, info.max, size=(19, 45), dtype=dtype, endpoint=True)
    expected = ndi.gaussian_filter(
        image.astype(np.float64), 1.3, mode="constant", cval=0.0, truncate=4.0
    )
    np.testing.assert_array_equal(smooth(image, 1.3), expected)


def test_smooth_per_axis_sigma(rng):
    image = rng.normal(size=(20, 30, 12)) * 100
    for sigma in [(0.0, 1.0, 2.0), (3.0, 0.0, 0.5), (0.0, 0.0, 0.0), (1.2, 1.2, 4.0)]:
        expected = ndi.gaussian_filter(image, sigma, mode="constant", cval=0.0, truncate=4.0)
        np.testing.assert_allclose(smooth(image, sigma), expected, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="sigma"):
        smooth(image, (1.0, 2.0))
    with pytest.raises(ValueError, match="sigma"):
        smooth(image, (1.0, -2.0, 1.0))


def test_smooth_large_image_parallel_path(rng):
    image = rng.random((300, 280)).astype(np.float32)
    expected = ndi.gaussian_filter(image.astype(np.float64), 2.0, mode="constant")
    np.testing.assert_array_equal(smooth(image, 2.0), expected)


@pytest.mark.parametrize("shape", [(40,), (23, 19), (5, 6, 7), (3, 4, 2, 5)])
def test_gradient_stack_is_np_gradient(rng, shape):
    image = rng.random(shape) * 10
    expected = np.gradient(ndi.gaussian_filter(image, 1.5, mode="constant", truncate=4.0))
    expected = np.stack([expected] if image.ndim == 1 else expected)
    got = gradient_stack(image, 1.5)
    assert got.shape == (image.ndim,) + image.shape
    np.testing.assert_array_equal(got, expected)
    with pytest.raises(ValueError, match="image"):
        gradient_stack(np.zeros((1, 5)), 1.0)
