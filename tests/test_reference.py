"""Tests of the slow reference implementation that the fast kernels are checked against."""

import logging

import numpy as np
import pytest
from scipy import ndimage as ndi
from scipy.spatial.transform import Rotation
from skimage import data, metrics, transform

from mireg import reference as ref


@pytest.fixture(scope="module")
def camera64():
    """Camera image downscaled to 64x64, float64 in [0, 1]."""
    image = data.camera().astype(np.float64) / 255
    return transform.resize(image, (64, 64), anti_aliasing=True)


def _plogp_entropy(counts):
    p = counts[counts > 0] / counts.sum()
    return -np.sum(p * np.log(p))


# --- histogram and mutual information ------------------------------------


def _nmi_cases():
    rng = np.random.default_rng(0)
    a2 = rng.random((30, 40))
    b2 = a2**2 + 0.1 * rng.random((30, 40))
    a3 = rng.random((8, 9, 10))
    b3 = np.sin(3 * a3) + 0.05 * rng.standard_normal((8, 9, 10))
    ints0 = rng.integers(0, 256, (25, 25), dtype=np.uint8)
    ints1 = (ints0 // 3 + rng.integers(0, 20, (25, 25))).astype(np.int32)
    return [
        pytest.param(a2, b2, 100, id="2d-float"),
        pytest.param(a3, b3, 100, id="3d-float"),
        pytest.param(a2, b2[:20, 5:], 100, id="2d-different-shapes"),
        pytest.param(a3[:5], b3[:, :4], 32, id="3d-different-shapes"),
        pytest.param(ints0, ints1, 64, id="2d-int"),
        pytest.param(ints0, a2[:25, :25], (17, 40), id="mixed-dtypes-bins-pair"),
        pytest.param(a2, b2, [50, 7], id="bins-list"),
    ]


@pytest.mark.parametrize("image0, image1, bins", _nmi_cases())
def test_nmi_matches_skimage(image0, image1, bins):
    expected = metrics.normalized_mutual_information(image0, image1, bins=bins)
    got = ref.normalized_mutual_information(image0, image1, bins=bins)
    assert isinstance(got, float)
    assert got == pytest.approx(expected, abs=1e-12)
    assert ref.mutual_information(image0, image1, bins=bins) == got


@pytest.mark.parametrize("image0, image1, bins", _nmi_cases())
def test_unnormalized_mi_matches_entropies_of_counts(image0, image1, bins):
    shape = np.maximum(image0.shape, image1.shape)
    padded = [np.pad(im, [(0, s - n) for s, n in zip(shape, im.shape)]) for im in (image0, image1)]
    counts, _ = np.histogramdd([padded[0].ravel(), padded[1].ravel()], bins=bins)
    expected = (
        _plogp_entropy(counts.sum(axis=1))
        + _plogp_entropy(counts.sum(axis=0))
        - _plogp_entropy(counts)
    )
    got = ref.mutual_information(image0, image1, bins=bins, normalized=False)
    assert got == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("bins", [100, 16, (10, 30)])
def test_joint_histogram_equals_histogramdd_counts(bins):
    rng = np.random.default_rng(1)
    image0 = rng.integers(0, 50, (20, 30))
    image1 = rng.random((20, 30))
    counts = ref.joint_histogram(image0, image1, bins=bins)
    expected, _ = np.histogramdd([image0.ravel(), image1.ravel()], bins=bins)
    assert counts.dtype == np.float64
    np.testing.assert_array_equal(counts, expected)
    assert counts.sum() == image0.size


def test_nmi_of_image_with_itself_is_two(camera64):
    assert ref.normalized_mutual_information(camera64, camera64) == pytest.approx(2, abs=1e-12)
    volume = np.arange(60).reshape(3, 4, 5) % 7
    assert ref.normalized_mutual_information(volume, volume, bins=7) == pytest.approx(2, abs=1e-12)


def test_nmi_requires_same_ndim():
    with pytest.raises(ValueError, match="same number of dimensions"):
        ref.normalized_mutual_information(np.ones((3, 3)), np.ones((3, 3, 3)))
    with pytest.raises(ValueError):
        ref.mutual_information(np.ones((3, 3)), np.ones(9), normalized=False)


# --- gradients -----------------------------------------------------------


def _gaussian_kernel(sigma):
    radius = int(4.0 * sigma + 0.5)
    x = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    return kernel / kernel.sum()


def _central_differences(values):
    """np.gradient along axis 0, written out."""
    out = np.empty_like(values)
    out[1:-1] = (values[2:] - values[:-2]) / 2
    out[0] = values[1] - values[0]
    out[-1] = values[-1] - values[-2]
    return out


def test_gradient_1d_by_hand():
    (g,) = ref.gradient(np.array([0, 1, 4, 9, 16]), sigma=0)
    np.testing.assert_array_equal(g, [1, 2, 4, 6, 7])
    assert g.dtype == np.float64


def test_gradient_2d_matches_separable_convolution():
    rng = np.random.default_rng(2)
    image = rng.random((23, 31))
    sigma = 1.3
    kernel = _gaussian_kernel(sigma)
    smooth = image
    for axis in range(2):  # zero-padded separable convolution
        smooth = np.apply_along_axis(np.convolve, axis, smooth, kernel, mode="same")
    expected = (_central_differences(smooth), _central_differences(smooth.T).T)
    got = ref.gradient(image, sigma=sigma)
    assert isinstance(got, tuple) and len(got) == 2
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=0, atol=1e-12)


def test_gradient_smooths_integer_images_in_float():
    image = np.random.default_rng(3).integers(0, 256, (20, 20), dtype=np.uint8)
    for g, e in zip(ref.gradient(image, sigma=1.7), ref.gradient(image.astype(float), sigma=1.7)):
        assert g.dtype == np.float64
        np.testing.assert_array_equal(g, e)


def _magnitude(image, sigma):
    return np.sqrt(sum(g**2 for g in ref.gradient(image, sigma=sigma)))


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("sign", [1, -1], ids=["itself", "negated"])
def test_gradient_similarity_parallel_gradients_give_magnitude(camera64, sign):
    image = camera64.copy()
    image[:, :20] = 0.5  # a flat region, where the magnitude is ~0
    similarity = ref.gradient_similarity(image, sign * image, sigma=1.0)
    magnitude = _magnitude(image, 1.0)
    flat = np.isclose(magnitude, 0)
    assert flat.any() and not flat.all()
    assert similarity.dtype == np.float64 and similarity.shape == image.shape
    np.testing.assert_allclose(similarity[~flat], magnitude[~flat], rtol=1e-12)
    assert np.all(similarity[flat] == 0)


@pytest.mark.filterwarnings("error")
def test_gradient_similarity_is_nan_free(camera64):
    positive = camera64 + 0.1
    remapped = positive**2 + 3 * positive
    for other in (remapped, positive, np.full_like(positive, 2.0)):
        similarity = ref.gradient_similarity(positive, other, sigma=1.5)
        assert np.all(np.isfinite(similarity))
        assert np.all(similarity >= 0)
    # a constant image has no gradient away from its zero-padded border
    assert np.all(ref.gradient_similarity(positive, np.ones_like(positive))[6:-6, 6:-6] == 0)


def test_gradient_similarity_orthogonal_ramps_vanish():
    rows, cols = np.indices((40, 40), dtype=np.float64)
    similarity = ref.gradient_similarity(rows, cols, sigma=1.0)
    interior = similarity[8:-8, 8:-8]
    np.testing.assert_allclose(interior, 0, atol=1e-12)
    assert similarity.max() > 0.1  # the zero-padded border breaks orthogonality
    np.testing.assert_allclose(ref.gradient_similarity(rows, 2 * rows)[8:-8, 8:-8], 1, rtol=1e-12)


def test_gradient_similarity_3d():
    rng = np.random.default_rng(4)
    volume = ndi.gaussian_filter(rng.random((12, 14, 16)), 1)
    similarity = ref.gradient_similarity(volume, volume, sigma=1.0)
    assert similarity.shape == volume.shape and similarity.dtype == np.float64
    np.testing.assert_allclose(similarity, _magnitude(volume, 1.0), rtol=1e-12)
    other = ref.gradient_similarity(volume, np.roll(volume, 3, axis=2))
    assert np.all(np.isfinite(other)) and np.all(other <= similarity.max() + 1e-12)


def test_gradient_information_and_alignment_compose(camera64):
    moved = ndi.shift(camera64, (0.5, -1.2))
    g = ref.gradient_information(camera64, moved, sigma=2.0)
    assert isinstance(g, float)
    similarity = ref.gradient_similarity(camera64, moved, sigma=2.0)
    assert g == pytest.approx(np.sum(similarity), rel=1e-12)
    for normalized in (True, False):
        mi = ref.mutual_information(camera64, moved, bins=40, normalized=normalized)
        got = ref.alignment(camera64, moved, sigma=2.0, normalized=normalized, bins=40)
        assert got == pytest.approx(mi * g, rel=1e-12)
    assert ref.alignment(camera64, camera64) > ref.alignment(camera64, moved)


# --- transforms and warping ----------------------------------------------


@pytest.mark.parametrize(
    "ndim, parameters",
    [
        (2, (0.3, 1.0, -2.0)),
        (3, (0.2, -0.4, 1.1, 1.0, 2.0, 3.0)),
        (4, (0.1, 0.2, -0.3, 0.4, 0.5, -0.6, 1.0, 2.0, 3.0, 4.0)),
    ],
)
def test_rigid_matrix_is_a_rotation_plus_translation(ndim, parameters):
    matrix = ref.transform_matrix(parameters, ndim, "rigid")
    linear = matrix[:ndim, :ndim]
    assert matrix.shape == (ndim + 1, ndim + 1)
    np.testing.assert_allclose(linear.T @ linear, np.eye(ndim), atol=1e-12)
    assert np.linalg.det(linear) == pytest.approx(1, abs=1e-12)
    np.testing.assert_array_equal(matrix[:ndim, ndim], parameters[-ndim:])
    np.testing.assert_array_equal(matrix[ndim], np.eye(ndim + 1)[ndim])


def test_rigid_matrix_conventions():
    a = 0.3
    linear = ref.transform_matrix((a, 0, 0), 2)[:2, :2]
    np.testing.assert_allclose(linear, [[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    rotvec = np.array([0.2, -0.4, 1.1])
    np.testing.assert_allclose(
        ref.transform_matrix(np.r_[rotvec, 0, 0, 0], 3)[:3, :3],
        Rotation.from_rotvec(rotvec).as_matrix(),
        atol=1e-15,
    )


@pytest.mark.parametrize(
    "ndim, parameters",
    [(2, (0.3, 1.0, -2.0, np.log(1.5))), (3, (0.2, -0.4, 1.1, 1.0, 2.0, 3.0, np.log(0.5)))],
)
def test_similarity_matrix_scales_the_rotation(ndim, parameters):
    scale = np.exp(parameters[-1])
    matrix = ref.transform_matrix(parameters, ndim, "similarity")
    rigid = ref.transform_matrix(parameters[:-1], ndim, "rigid")
    np.testing.assert_allclose(matrix[:ndim, :ndim], scale * rigid[:ndim, :ndim], atol=1e-15)
    np.testing.assert_array_equal(matrix[:ndim, ndim], rigid[:ndim, ndim])
    assert abs(np.linalg.det(matrix[:ndim, :ndim])) == pytest.approx(scale**ndim)


def test_translation_matrix():
    np.testing.assert_array_equal(
        ref.transform_matrix((1.5, -2.0, 3.0), 3, "translation"),
        [[1, 0, 0, 1.5], [0, 1, 0, -2], [0, 0, 1, 3], [0, 0, 0, 1]],
    )
    with pytest.raises(ValueError, match="transform"):
        ref.transform_matrix((0, 0), 2, "affine")


def test_warp_samples_moving_at_matrix_times_reference():
    moving = np.zeros((20, 20))
    moving[12, 5] = 1.0
    warped = ref.warp(moving, ref.transform_matrix((3, -2), 2, "translation"), order=1)
    assert np.unravel_index(np.argmax(warped), warped.shape) == (9, 7)
    assert warped[9, 7] == 1.0


@pytest.mark.parametrize("order, atol", [(1, 1e-12), (3, 0.05)])
def test_rigid_warp_matches_skimage_with_opposite_angle(camera64, order, atol):
    """(row, col) rotation by a == skimage (x, y) rotation by -a, translation swapped."""
    image = ndi.gaussian_filter(camera64, 1.0)
    a, t0, t1 = np.deg2rad(7), 2.0, -3.0
    matrix = ref.transform_matrix((a, t0, t1), 2)
    skimage_tf = transform.SimilarityTransform(rotation=-a, translation=(t1, t0))
    expected = transform.warp(image, skimage_tf, order=order)
    grid = np.indices(image.shape).reshape(2, -1)
    mapped = matrix[:2, :2] @ grid + matrix[:2, 2:]
    inside = np.all((mapped > 3) & (mapped < 60), axis=0).reshape(image.shape)
    got = ref.warp(image, matrix, order=order)
    assert inside.sum() > 2000
    np.testing.assert_allclose(got[inside], expected[inside], rtol=0, atol=atol)
    wrong_tf = transform.SimilarityTransform(rotation=a, translation=(t1, t0))
    wrong_sign = transform.warp(image, wrong_tf, order=order)
    assert np.abs(got - wrong_sign)[inside].max() > 0.1


def test_warp_identity_returns_image(camera64):
    smooth = ndi.gaussian_filter(camera64, 1.5)
    identity = np.eye(3)
    np.testing.assert_array_equal(ref.warp(camera64, identity, order=1), camera64)
    np.testing.assert_allclose(
        ref.warp(smooth, identity, order=3)[4:-4, 4:-4], smooth[4:-4, 4:-4], atol=1e-6
    )
    cropped = ref.warp((camera64 * 255).astype(np.uint8), identity, output_shape=(10, 20), order=1)
    assert cropped.dtype == np.float64 and cropped.shape == (10, 20)
    np.testing.assert_array_equal(cropped, (camera64 * 255).astype(np.uint8)[:10, :20])


def test_cost_is_negated_alignment_of_warped_moving(camera64):
    moving = ndi.shift(camera64, (1.0, 2.0))
    p = (0.05, 0.5, 1.5)
    warped = ref.warp(moving, ref.transform_matrix(p, 2), camera64.shape, 3)
    expected = -ref.alignment(camera64, warped, sigma=1.5, bins=50)
    assert ref.cost(p, camera64, moving, sigma=1.5, bins=50) == pytest.approx(expected, rel=1e-12)
    assert ref.cost((0, 1, 2), camera64, moving, transform="rigid") < ref.cost(p, camera64, moving)


# --- registration --------------------------------------------------------


def test_register_recovers_subpixel_translation(camera64, caplog):
    shift = np.array([1.3, -0.7])
    moving = ndi.shift(camera64, shift)  # moving(x) = reference(x - shift)
    with caplog.at_level(logging.INFO, logger="mireg.reference"):
        result = ref.register(camera64, moving, transform="translation")
    np.testing.assert_allclose(result["parameters"], shift, atol=0.2)
    assert result["parameters"].dtype == np.float64
    np.testing.assert_array_equal(
        result["matrix"], ref.transform_matrix(result["parameters"], 2, "translation")
    )
    levels = result["levels"]
    assert [lv["level"] for lv in levels] == sorted((lv["level"] for lv in levels), reverse=True)
    assert levels[-1]["level"] == 0 and levels[-1]["shape"] == camera64.shape
    assert min(levels[0]["shape"]) >= 5
    assert result["nfev"] == sum(lv["nfev"] for lv in levels)
    assert result["cost"] == levels[-1]["cost"]
    assert result["cost"] == pytest.approx(
        ref.cost(result["parameters"], camera64, moving, transform="translation")
    )
    assert len([r for r in caplog.records if r.name == "mireg.reference"]) == len(levels)


def test_register_recovers_small_rotation(camera64):
    reference = ndi.gaussian_filter(camera64, 1.0)
    angle = np.deg2rad(5)
    centre = (np.array(reference.shape) - 1) / 2
    linear = ref.transform_matrix((angle, 0, 0), 2)[:2, :2]
    truth = np.r_[angle, centre - linear @ centre]  # rotation about the image centre
    moving = ref.warp(reference, np.linalg.inv(ref.transform_matrix(truth, 2)))
    result = ref.register(reference, moving, transform="rigid")
    assert np.rad2deg(abs(result["parameters"][0] - angle)) < 0.5
    np.testing.assert_allclose(result["parameters"][1:], truth[1:], atol=0.5)


def test_warp_accepts_read_only_arrays():
    # skimage's Cython warp refuses read-only buffers; the oracle must not
    image = np.arange(64.0).reshape(8, 8)
    image.flags.writeable = False
    out = ref.warp(image, np.eye(3), order=1)
    np.testing.assert_allclose(out, image)
