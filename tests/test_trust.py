"""No silent wrong answers: thin and small images, extreme value ranges, bad
arguments, poses without overlap.  Each case here returned a wrong pose, a
NaN or an obscure error before it was fixed."""

import logging
import math
import warnings

import numpy as np
import pytest
from registration_helpers import make_moving, mean_error, truth_matrix
from scipy import ndimage as ndi
from skimage import data, transform
from skimage.metrics import normalized_mutual_information as skimage_nmi

import mireg
from mireg import _optimize as opt
from mireg._levels import Pyramid, downsample

CAMERA = data.camera() / 255.0


def _strip(shape):
    return transform.resize(CAMERA, shape, anti_aliasing=True)


# ---- thin and small images -----------------------------------------------


@pytest.mark.parametrize(
    "shape,shift",
    [((16, 500), (0.0, 7.0)), ((500, 8), (7.0, 0.0)), ((56, 540), (2.0, -7.0))],
)
def test_strips_are_registered(shape, shift):
    reference = _strip(shape)
    moving = ndi.shift(reference, shift, order=3)
    result = mireg.register(reference, moving)
    assert abs(result.parameters[0]) < 0.005  # no rotation
    np.testing.assert_allclose(result.parameters[1:], shift, atol=0.1)
    assert result.warnings == []
    # no level is coarser along an axis than that axis supports
    for record in result.levels:
        assert min(record["shape"]) >= min(min(shape), 8)


def test_strip_answer_scores_at_least_the_true_pose():
    reference = _strip((16, 500))
    moving = ndi.shift(reference, (0.0, 7.0), order=3)
    result = mireg.register(reference, moving)
    truth = mireg.register(reference, moving, initial=(0.0, 0.0, 7.0), levels=(1,))
    assert result.metric >= 0.99 * truth.metric  # was 0.08 of it


def test_strip_levels_shrink_only_the_long_axis():
    assert opt.default_shrinks((56, 540), 2) == [8, 4, 2, 1]
    plan = opt.level_plan((56, 540), [8, 4, 2, 1], False)
    assert [f for _, f in plan] == [(1, 8), (1, 4), (1, 2), (1, 1)]
    assert opt.search_shrink((16, 500), 2) == (16, (1, 16))
    assert opt.search_shrink((500, 8), 2) == (16, (16, 1))
    # square images and near-cubic volumes: one factor for every axis, as before
    assert opt.search_shrink((256, 256), 2) == (16, (16, 16))
    assert opt.search_shrink((40, 44, 36), 3) == (2, (2, 2, 2))
    assert [f for _, f in opt.level_plan((256, 256), [4, 2, 1], False)] == [
        (4, 4),
        (2, 2),
        (1, 1),
    ]
    # a user's levels are capped where an axis would fall below 8 samples
    assert [f for _, f in opt.level_plan((16, 500), [8, 4, 1], True)] == [(2, 8), (2, 4), (1, 1)]


def test_downsample_per_axis_is_skimage_resize():
    rng = np.random.default_rng(3)
    image = ndi.gaussian_filter(rng.random((20, 90)), 1.0)
    got = downsample(image, (1, 4))
    want = transform.resize(image, (20, 23), order=1, anti_aliasing=True, preserve_range=True)
    assert got.shape == (20, 23)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(got[:, :], downsample(image, (1, 4)))
    pyramid = Pyramid(image)
    np.testing.assert_array_equal(pyramid((1, 2)), downsample(image, (1, 2)))
    assert pyramid((2, 8)).shape == (10, 12)


@pytest.mark.parametrize(
    "shape,params",
    [
        ((56, 540), (math.radians(2.0), 3.0, -6.0)),
        ((16, 500), (math.radians(0.5), 0.5, 5.0)),
        ((40, 36, 200), (0.01, -0.01, 0.02, 1.0, -1.5, 4.0)),
    ],
)
def test_rotated_strips_and_thin_volumes(shape, params):
    if len(shape) == 2:
        reference = _strip(shape)
    else:
        rng = np.random.default_rng(0)
        reference = ndi.gaussian_filter(rng.random(shape), 2.0)
    truth = truth_matrix(shape, np.array(params), "rigid")
    result = mireg.register(reference, make_moving(reference, truth))
    assert mean_error(result.matrix, truth, shape) < 0.1
    # the long axes were shrunk, the short ones kept
    assert result.levels[0]["factors"][-1] >= 8 and result.levels[0]["shape"][0] >= 16


@pytest.mark.parametrize("sigma,seed", [(2.0, 1), (3.0, 2)])
def test_small_volume_at_2mm(sigma, seed):
    # (3.0, 2) came back rotated 23 deg, its metric a sixth of the true pose's
    rng = np.random.default_rng(seed)
    reference = ndi.gaussian_filter(rng.random((24, 24, 24)), sigma)
    moving = ndi.shift(reference, (3.0, -2.0, 1.5), order=3)
    result = mireg.register(reference, moving, spacing=2.0)
    truth = mireg.register(
        reference, moving, spacing=2.0, initial=(0, 0, 0, 6.0, -4.0, 3.0), levels=(1,)
    )
    assert np.degrees(np.linalg.norm(result.parameters[:3])) < 5.0
    np.testing.assert_allclose(result.parameters[3:], (6.0, -4.0, 3.0), atol=1.0)
    assert result.metric > 0.85 * truth.metric


# ---- extreme value ranges --------------------------------------------------


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    a = rng.random((64, 64))
    return a, a + 0.3 * rng.random((64, 64))


@pytest.mark.parametrize("scale", [1e-300, 1e-310, 2.0**-1060, 1e300, 1e308])
def test_nmi_is_scale_free(pair, scale):
    a, b = pair
    base = float(mireg.normalized_mutual_information(a, b))
    for x, y in ((a * scale, b), (a, b * scale), (a * scale, b * scale)):
        value = float(mireg.normalized_mutual_information(x, y))
        # subnormal values are a (slightly) different image
        assert value == pytest.approx(base, rel=1e-3 if scale < 1e-307 else 1e-12)


def test_nmi_of_tiny_values_matches_scikit_image(pair):
    a, b = pair
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = skimage_nmi(a * 1e-300, b)
    assert math.isfinite(want)
    assert float(mireg.normalized_mutual_information(a * 1e-300, b)) == pytest.approx(
        want, rel=1e-13
    )


def test_range_of_plus_minus_1e308(pair):
    a, b = pair
    wide = np.where(a > 0.5, 1e308, -1e308) * (0.5 + a / 2)  # width 2e308 overflows
    value = float(mireg.normalized_mutual_information(wide, b))
    assert value == pytest.approx(float(mireg.normalized_mutual_information(wide / 1e300, b)))
    counts, (edges, _) = mireg.joint_histogram(wide, b, bins=10)
    assert np.all(np.isfinite(edges)) and counts.sum() == a.size
    assert edges[0] == wide.min() and edges[-1] == wide.max()


def test_joint_histogram_of_tiny_values_counts_as_numpy(pair):
    a, b = pair
    counts, _ = mireg.joint_histogram(a * 1e-300, b, bins=(7, 5))
    want, _ = np.histogramdd([a.ravel(), b.ravel()], bins=(7, 5))
    np.testing.assert_array_equal(counts, want)


def test_ordinary_ranges_keep_their_bits(pair):
    a, b = pair
    counts, edges = mireg.joint_histogram(a * 1000, b, bins=9)
    want, want_edges = np.histogramdd([(a * 1000).ravel(), b.ravel()], bins=9)
    np.testing.assert_array_equal(counts, want)
    assert edges[0].tobytes() == want_edges[0].tobytes()


def test_gradients_that_overflow_are_a_clear_error(pair):
    a, b = pair
    with pytest.raises(ValueError, match="`image0` spans .* overflow"):
        mireg.gradient_information(a * 1e300, b)
    with pytest.raises(ValueError, match="`image1` spans .* overflow"):
        mireg.alignment(a, b * 1e300)


@pytest.mark.parametrize("scale", [1e300, 1e-300, 1e-12])
def test_register_extreme_intensity_scales(scale):
    reference = transform.rescale(CAMERA, 0.25)
    moving = ndi.shift(reference, (3.0, -5.0), order=3)
    result = mireg.register(reference * scale, moving, transform="translation")
    assert math.isfinite(result.metric)
    np.testing.assert_allclose(result.parameters, (3.0, -5.0), atol=0.1)


# float32, float64 and int16 in 2-D; the parallel kernels (a large image,
# a volume) on float64, whose chunks split every dtype alike (the serial
# 3-D kernels of the other dtypes: test_gradient.py)
@pytest.mark.parametrize(
    "shape, dtype",
    [((64, 80), dtype) for dtype in (np.float32, np.float64, np.int16)]
    + [((300, 301), np.float64), ((20, 24, 18), np.float64)],
)
def test_alignment_is_nmi_times_g_in_every_dtype(dtype, shape):
    rng = np.random.default_rng(5)
    a = ndi.gaussian_filter(rng.random(shape), 1.0) * 1000
    b = ndi.shift(a, [1.5] * len(shape), order=1) + 50 * rng.random(shape)
    a, b = a.astype(dtype), b.astype(dtype)
    got = mireg.alignment(a, b)
    want = float(mireg.normalized_mutual_information(a, b)) * mireg.gradient_information(a, b)
    assert got == pytest.approx(want, rel=1e-15)


# ---- arguments ---------------------------------------------------------------


@pytest.fixture(scope="module")
def images():
    reference = transform.rescale(CAMERA, 0.125)
    return reference, ndi.shift(reference, (1.0, 2.0), order=3)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"max_angle": -10}, ValueError, "`max_angle`"),
        ({"max_angle": 1e9}, ValueError, "`max_angle`"),
        ({"max_angle": math.nan}, ValueError, "`max_angle`"),
        ({"max_angle": "10"}, TypeError, "`max_angle`"),
        ({"max_shift": -0.1}, ValueError, "`max_shift`"),
        ({"max_shift": math.inf}, ValueError, "`max_shift`"),
        ({"levels": (1, 2, 4)}, ValueError, "`levels` must be strictly decreasing"),
        ({"levels": (4, 4, 1)}, ValueError, "`levels` must be strictly decreasing"),
        ({"levels": (2.0, 1)}, ValueError, "`levels` must be integer"),
        ({"levels": (2.5, 1)}, ValueError, "`levels` must be integer"),
        ({"levels": (2, 0)}, ValueError, "`levels` must be integer"),
        ({"levels": ()}, ValueError, "`levels` is empty"),
        ({"levels": 2}, TypeError, "`levels`"),
        ({"global_search": "yes"}, TypeError, "`global_search`"),
        ({"callback": 3}, TypeError, "`callback`"),
    ],
)
def test_bad_arguments_are_named(images, kwargs, error, match):
    with pytest.raises(error, match=match):
        mireg.register(*images, **kwargs)


@pytest.mark.parametrize("name", ["reference_mask", "moving_mask"])
@pytest.mark.parametrize(
    "make", [lambda r: r.astype(float), lambda r: r.astype(np.uint8) * 3, lambda r: r * 0.5]
)
def test_non_boolean_masks_are_refused(images, name, make):
    mask = make(np.ones(images[0].shape, bool))
    with pytest.raises(TypeError, match=f"`{name}` must be a boolean array"):
        mireg.register(*images, **{name: mask})


def test_zero_one_integer_masks_are_accepted(images):
    mask = np.ones(images[0].shape, np.uint8)
    one = mireg.register(*images, reference_mask=mask, transform="translation")
    two = mireg.register(*images, reference_mask=mask > 0, transform="translation")
    np.testing.assert_array_equal(one.parameters, two.parameters)


def test_search_limits_at_their_bounds(images):
    result = mireg.register(*images, max_angle=0, max_shift=0.0)
    np.testing.assert_allclose(result.parameters[1:], (1.0, 2.0), atol=0.2)
    mireg.register(*images, max_angle=180, max_shift=1.0)  # allowed, and bounded work


# ---- no overlap -----------------------------------------------------------------


def test_no_overlapping_candidate_is_a_warning(images, caplog):
    reference, moving = images
    reference_mask = np.zeros(reference.shape, bool)
    reference_mask[:4, :4] = True  # too few samples for the search's overlap
    with caplog.at_level(logging.WARNING, logger="mireg"):
        with pytest.warns(mireg.RegistrationWarning, match="no candidate"):
            try:
                result = mireg.register(reference, moving, reference_mask=reference_mask)
            except ValueError as error:  # the finest level: a clear error
                assert "no overlap" in str(error)
                return
    assert any("no candidate" in w for w in result.warnings)
    assert any("no candidate" in r.getMessage() for r in caplog.records)


def test_ordinary_registration_has_no_warnings(images):
    with warnings.catch_warnings():
        warnings.simplefilter("error", mireg.RegistrationWarning)
        result = mireg.register(*images)
    assert result.warnings == [] and result.to_dict()["warnings"] == []
