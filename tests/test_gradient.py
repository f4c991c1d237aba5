"""Gradient information, Pluim's alignment and AlignmentMetric against mireg.reference."""

import doctest

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from skimage.metrics import normalized_mutual_information as skimage_nmi

import mireg
import mireg.gradient as mg
from mireg import AlignmentMetric, alignment, gradient_information, gradient_similarity, reference
from mireg._fused import THRESHOLD, gradient_stack, half_kernel, smooth
from mireg._kernels import gradient as kernels

RTOL = 1e-9
SIGMAS = [0.5, 1.0, 1.5, 2.5, 4.0]
DTYPES = [np.float64, np.float32, np.uint8, np.uint16, np.int16, np.bool_, np.float16]


def textured(rng, shape, dtype=np.float64):
    """A smooth blob plus noise, so gradients have every direction and size."""
    grids = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij")
    radius2 = sum(g * g for g in grids)
    image = 100 * np.exp(-3 * radius2) + 20 * rng.random(shape)
    return cast(image, dtype)


def cast(image, dtype):
    if dtype == np.bool_:
        return image > np.median(image)
    return np.clip(image, 0, None).astype(dtype)


def other(rng, image):
    """A second modality: a non-monotone remap of ``image`` plus noise."""
    values = np.asarray(image, np.float64)
    remapped = (values - values.mean()) ** 2 + 5 * rng.random(values.shape)
    return cast(remapped, image.dtype) if image.dtype != np.bool_ else remapped > remapped.mean()


def close(got, expected, rtol=RTOL):
    return abs(got - expected) <= rtol * abs(expected) + 1e-300


# ----------------------------------------------------------------- reference


# every dtype in 2-D; in 3-D, whose kernels run the same source for every
# dtype, float64, float32 and uint8 (float16 and bool are read as float32
# and uint8)
@pytest.mark.parametrize("sigma", SIGMAS)
@pytest.mark.parametrize(
    "dtype,shape",
    [(d, (48, 53)) for d in DTYPES]
    + [(d, (11, 12, 13)) for d in (np.float64, np.float32, np.uint8, np.float16, np.bool_)],
)
def test_functions_equal_reference(rng, dtype, shape, sigma):
    a = textured(rng, shape, dtype)
    b = other(rng, a)
    assert close(
        gradient_information(a, b, sigma=sigma), reference.gradient_information(a, b, sigma=sigma)
    )
    np.testing.assert_allclose(
        gradient_similarity(a, b, sigma=sigma),
        reference.gradient_similarity(a, b, sigma=sigma),
        rtol=RTOL,
        atol=0,
    )
    for normalized in (True, False):
        assert close(
            alignment(a, b, sigma=sigma, normalized=normalized),
            reference.alignment(a, b, sigma=sigma, normalized=normalized),
        )


@pytest.mark.parametrize("bins", [100, 7, (3, 50)])
def test_alignment_bins_equal_reference(rng, bins):
    a = textured(rng, (40, 41))
    b = other(rng, a)
    assert close(alignment(a, b, bins=bins), reference.alignment(a, b, bins=bins))


PAIRS = [
    (np.float64, np.float64),
    (np.float32, np.uint16),
    (np.uint8, np.float64),
    (np.int16, np.int16),
    (np.uint8, np.uint8),
    (np.float16, np.bool_),
]


# every pair in 1-D, 2-D and 4-D; in 3-D, whose kernels are one source for
# every dtype, the pairs read in test_functions_equal_reference's 3-D dtypes
@pytest.mark.parametrize(
    "shape, dtypes",
    [(shape, pair) for shape in [(30,), (33, 34), (3, 4, 5, 6)] for pair in PAIRS]
    + [((9, 10, 11), pair) for pair in PAIRS if np.int16 not in pair],
)
def test_alignment_is_mutual_information_times_g(rng, dtypes, shape):
    # the fused path takes the ranges from the gradient pass: same bins, same bits
    a = textured(rng, shape, dtypes[0])
    b = other(rng, textured(rng, shape, dtypes[1]))
    for normalized, bins in [(True, 100), (False, (7, 30))]:
        expected = mireg.mutual_information(
            a, b, bins=bins, normalized=normalized
        ) * gradient_information(a, b, sigma=2.0)
        assert alignment(a, b, sigma=2.0, bins=bins, normalized=normalized) == expected


def test_mixed_dtypes_equal_reference(rng):
    a = textured(rng, (30, 31), np.uint8)
    b = other(rng, textured(rng, (30, 31), np.float32))
    assert close(alignment(a, b), reference.alignment(a, b))
    assert close(gradient_information(b, a), reference.gradient_information(b, a))


@pytest.mark.parametrize(
    "dtypes", [(np.uint8, np.float64), (np.float32, np.uint16), (np.uint8, np.float32)]
)
@pytest.mark.parametrize("shape", [(30, 31), (9, 10, 11)])
def test_mixed_dtypes_are_read_in_one_dtype(rng, dtypes, shape):
    # a pair of dtypes runs the kernel of the dtype NumPy promotes them to
    # (every value exact): the same bits, and no kernel compiled for the pair
    a = textured(rng, shape, dtypes[0])
    b = other(rng, textured(rng, shape, dtypes[1]))
    common = np.promote_types(*dtypes)
    a_common, b_common = a.astype(common), b.astype(common)
    assert gradient_information(a, b) == gradient_information(a_common, b_common)
    np.testing.assert_array_equal(
        gradient_similarity(a, b), gradient_similarity(a_common, b_common)
    )
    expected = mireg.mutual_information(a, b, normalized=True) * gradient_information(a, b)
    assert alignment(a, b) == expected
    kernel = kernels.agreement_2d if len(shape) == 2 else kernels.agreement_3d
    pair = tuple(numba.typeof(x.reshape(-1)) for x in (a, b))
    assert all(tuple(sig[:2]) != pair for sig in kernel.signatures)


@pytest.mark.parametrize("shape", [(64,), (20, 30), (9, 10, 11), (4, 5, 6, 7)])
@pytest.mark.parametrize("remap", ["itself", "negated", "exp", "cube"])
def test_parallel_gradients_give_no_nan(rng, shape, remap):
    # (anti-)parallel gradients: an arccos of the cosine gives NaN here
    a = textured(rng, shape)
    b = {"itself": a, "negated": -a, "exp": np.exp(a / 30), "cube": (a - 50) ** 3}[remap]
    got = gradient_similarity(a, b, sigma=1.5)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(
        got, reference.gradient_similarity(a, b, sigma=1.5), rtol=RTOL, atol=0
    )
    assert close(gradient_information(a, b), reference.gradient_information(a, b))
    assert close(alignment(a, b), reference.alignment(a, b))


def test_image_against_itself_is_sum_of_magnitudes(rng):
    a = textured(rng, (50, 40))
    magnitude = np.sqrt((gradient_stack(a, 1.5) ** 2).sum(axis=0))
    expected = magnitude[~np.isclose(magnitude, 0)].sum()
    assert close(gradient_information(a, a), expected, 1e-12)


def test_orthogonal_ramps_agree_only_at_the_border():
    rows, cols = np.mgrid[0:40, 0:40].astype(np.float64)
    sim = gradient_similarity(rows, cols, sigma=1.0)
    np.testing.assert_allclose(
        sim, reference.gradient_similarity(rows, cols, sigma=1.0), rtol=RTOL, atol=0
    )
    assert np.abs(sim[6:-6, 6:-6]).max() < 1e-20  # zero-padding bends the border
    assert sim.max() > 0.1


def test_threshold_is_numpy_isclose():
    t = THRESHOLD
    assert np.sqrt(t) <= 1e-8 < np.sqrt(np.nextafter(t, 1.0))
    # a ramp of slope 1e-8: magnitudes straddle the isclose threshold by an ulp
    ramp = np.add.outer(np.arange(30.0), np.zeros(25)) * 1e-8
    noise = np.random.default_rng(3).random((30, 25))
    for b in (noise, ramp * 3):
        np.testing.assert_allclose(
            gradient_similarity(ramp, b, sigma=1.0),
            reference.gradient_similarity(ramp, b, sigma=1.0),
            rtol=RTOL,
            atol=0,
        )


def test_1d_input_equals_reference(rng):
    a = textured(rng, (200,))
    b = other(rng, a)
    for sigma in (0.5, 2.0):
        assert close(
            gradient_information(a, b, sigma=sigma),
            reference.gradient_information(a, b, sigma=sigma),
        )
        np.testing.assert_allclose(
            gradient_similarity(a, b, sigma=sigma),
            reference.gradient_similarity(a, b, sigma=sigma),
            rtol=RTOL,
            atol=0,
        )


@pytest.mark.parametrize(
    "shape",
    [(2, 2), (2, 3), (3, 2), (3, 50), (50, 2), (2, 2, 2), (2, 3, 4), (3, 2, 9), (7, 3, 2), (2, 5)],
)
@pytest.mark.parametrize("sigma", [0.5, 4.0])
def test_short_axes_and_wide_kernels(rng, shape, sigma):
    # np.gradient's one-sided borders meet; the Gaussian radius exceeds the axis
    a = textured(rng, shape)
    b = other(rng, a)
    assert close(
        gradient_information(a, b, sigma=sigma), reference.gradient_information(a, b, sigma=sigma)
    )
    np.testing.assert_allclose(
        gradient_similarity(a, b, sigma=sigma),
        reference.gradient_similarity(a, b, sigma=sigma),
        rtol=RTOL,
        atol=0,
    )


def test_views_and_byte_orders(rng):
    base = textured(rng, (60, 70))
    views = [
        base[::2, ::3],
        base.T,
        base[5:40, 3:50],
        np.asfortranarray(base),
        base.astype(">f8"),
        base.astype(">f4"),
        base.astype(">u2"),
    ]
    for a in views:
        b_view = other(rng, np.asarray(a, np.float64))[::-1]  # a reversed view too
        assert close(gradient_information(a, b_view), reference.gradient_information(a, b_view))
        assert close(alignment(b_view, a), reference.alignment(b_view, a))


def test_4d_input_equals_reference(rng):
    a = textured(rng, (4, 5, 6, 7))
    b = other(rng, a)
    assert close(gradient_information(a, b), reference.gradient_information(a, b))
    np.testing.assert_allclose(
        gradient_similarity(a, b), reference.gradient_similarity(a, b), rtol=RTOL, atol=0
    )
    assert close(alignment(a, b), reference.alignment(a, b))


def test_return_types(rng):
    a = textured(rng, (20, 21))
    sim = gradient_similarity(a.astype(np.float32), a.astype(np.uint8))
    assert sim.dtype == np.float64 and sim.shape == a.shape
    assert isinstance(gradient_information(a, a), float)
    assert isinstance(alignment(a, a), float)


def test_inputs_unchanged(rng):
    a = textured(rng, (30, 31), np.float32)
    b = other(rng, textured(rng, (30, 31)))
    a_copy, b_copy = a.copy(), b.copy()
    gradient_similarity(a, b)
    gradient_information(a, b)
    alignment(a, b)
    metric = AlignmentMetric(a, mask=a > a.mean())
    metric(b)
    smooth(a, 1.0)
    gradient_stack(b, 2.0)
    np.testing.assert_array_equal(a, a_copy)
    np.testing.assert_array_equal(b, b_copy)


# ----------------------------------------------------------- AlignmentMetric


@pytest.mark.parametrize("shape", [(80,), (40, 45), (10, 11, 12), (3, 4, 5, 6)])
@pytest.mark.parametrize("dtype", [np.float64, np.uint8, np.float32])
def test_metric_equals_functions(rng, shape, dtype):
    fixed = textured(rng, shape, dtype)
    metric = AlignmentMetric(fixed, sigma=1.5, bins=50)
    for moving in (
        other(rng, fixed.astype(np.float64)),
        fixed,
        # an integer dtype (uint8: one whose kernels the suite compiles anyway;
        # the binned kernel reads every integer dtype through the same code)
        textured(rng, shape, np.uint8),
        textured(rng, shape, np.float32),
    ):
        # the same counts, entropies and gradient sums: the same bits
        assert metric(moving) == alignment(fixed, moving, bins=50)
        assert close(metric(moving), reference.alignment(fixed, moving, bins=50))
        assert metric.gradient_information(moving) == gradient_information(fixed, moving)
        assert close(metric.nmi(moving), skimage_nmi(fixed, moving, bins=50), 1e-12)
        assert metric.mutual_information(moving) == metric.nmi(moving)
    plain = AlignmentMetric(fixed, sigma=2.0, normalized=False, bins=(20, 30))
    moving = other(rng, fixed.astype(np.float64))
    assert close(
        plain.mutual_information(moving),
        mireg.mutual_information(fixed, moving, bins=(20, 30)),
        1e-12,
    )
    assert close(
        plain(moving),
        reference.alignment(fixed, moving, sigma=2.0, normalized=False, bins=(20, 30)),
    )


@pytest.mark.parametrize("shape", [(60, 50), (12, 13, 14), (90,), (3, 4, 5, 6)])
def test_metric_mask(rng, shape):
    fixed = textured(rng, shape)
    moving = other(rng, fixed)
    mask = rng.random(shape) < 0.6
    metric = AlignmentMetric(fixed, mask=mask, bins=30)
    nmi = skimage_nmi(fixed[mask], moving[mask], bins=30)
    g = reference.gradient_similarity(fixed, moving, sigma=1.5)[mask].sum()
    assert close(metric.nmi(moving), nmi, 1e-12)
    assert close(metric.gradient_information(moving), g)
    assert close(metric(moving), nmi * g)
    everything = AlignmentMetric(fixed, mask=np.ones(shape, bool), bins=30)
    assert close(everything(moving), alignment(fixed, moving, bins=30), 1e-12)


def test_metric_mask_excludes_extreme_values(rng):
    # values outside the mask must not widen the moving range
    fixed = textured(rng, (30, 30))
    moving = other(rng, fixed)
    mask = np.zeros((30, 30), bool)
    mask[5:25, 5:25] = True
    moving_out = moving.copy()
    moving_out[~mask] = 1e6
    metric = AlignmentMetric(fixed, mask=mask)
    assert metric.nmi(moving_out) == metric.nmi(moving)


def test_metric_keeps_no_reference_to_the_image(rng):
    fixed = textured(rng, (30, 30))
    moving = other(rng, fixed)
    metric = AlignmentMetric(fixed)
    before = metric(moving)
    fixed[:] = 0
    assert metric(moving) == before
    assert "AlignmentMetric" in repr(metric)


# ---------------------------------------------------------------- errors


def test_errors_name_the_argument():
    a = np.random.default_rng(0).random((10, 12))
    for f in (gradient_similarity, gradient_information, alignment):
        with pytest.raises(ValueError, match="image1"):
            f(a, a[:, :5])
        with pytest.raises(ValueError, match="image0"):
            f(a[None], a)
        bad = a.copy()
        bad[3, 4] = np.nan
        with pytest.raises(ValueError, match="image1"):
            f(a, bad)
        bad[3, 4] = np.inf
        with pytest.raises(ValueError, match="image0"):
            f(bad.astype(np.float32), a)
        with pytest.raises(ValueError, match="image0"):
            f(np.zeros((0, 3)), np.zeros((0, 3)))
        for sigma in (0.0, -1.0, np.nan, np.inf):
            with pytest.raises(ValueError, match="sigma"):
                f(a, a, sigma=sigma)
        with pytest.raises(TypeError, match="sigma"):
            f(a, a, sigma="1")
        with pytest.raises(ValueError, match="image0"):
            f(np.zeros((1, 5)), np.zeros((1, 5)))
        with pytest.raises(ValueError, match="image0"):
            f(np.zeros((4, 1, 5)), np.zeros((4, 1, 5)))
        with pytest.raises(TypeError, match="image0"):
            f(np.array(["a", "b"]), np.array(["a", "b"]))


def test_nan_in_4d_and_1d_inputs():
    for shape in [(20,), (3, 4, 5, 6)]:
        a = np.random.default_rng(1).random(shape)
        bad = a.copy()
        bad.flat[7] = np.nan
        with pytest.raises(ValueError, match="image1"):
            gradient_information(a, bad)


def test_metric_errors():
    rng = np.random.default_rng(0)
    a = rng.random((10, 12))
    bad = a.copy()
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="reference"):
        AlignmentMetric(bad)
    with pytest.raises(ValueError, match="reference"):
        AlignmentMetric(np.zeros((1, 9)))
    with pytest.raises(ValueError, match="sigma"):
        AlignmentMetric(a, sigma=0)
    with pytest.raises(ValueError, match="bins"):
        AlignmentMetric(a, bins=0)
    with pytest.raises(ValueError, match="mask"):
        AlignmentMetric(a, mask=np.ones((10, 11), bool))
    with pytest.raises(ValueError, match="mask"):
        AlignmentMetric(a, mask=np.zeros((10, 12), bool))
    with pytest.raises(TypeError, match="mask"):
        AlignmentMetric(a, mask=np.ones((10, 12)))
    metric = AlignmentMetric(a)
    for call in (metric, metric.nmi, metric.gradient_information, metric.mutual_information):
        with pytest.raises(ValueError, match="moving"):
            call(a[:, :5])
        with pytest.raises(ValueError, match="moving"):
            call(a[None])
        with pytest.raises(ValueError, match="moving"):
            call(bad)
    with pytest.raises(ValueError, match="moving"):
        metric(np.full((10, 12), np.inf, np.float32))


# ----------------------------------------------------------- properties

integer_images = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=2, max_dims=3, min_side=2, max_side=9),
    elements=st.integers(0, 255).map(float),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(integer_images, st.data())
def test_properties(a, data):
    b = data.draw(hnp.arrays(np.float64, a.shape, elements=st.integers(0, 255).map(float)))
    sigma = data.draw(st.sampled_from([0.5, 1.0, 2.0]))
    sim = gradient_similarity(a, b, sigma=sigma)
    # symmetric to the bit
    np.testing.assert_array_equal(sim, gradient_similarity(b, a, sigma=sigma))
    # 0 <= value <= the smaller magnitude
    ma = np.sqrt((gradient_stack(a, sigma) ** 2).sum(axis=0))
    mb = np.sqrt((gradient_stack(b, sigma) ** 2).sum(axis=0))
    assert (sim >= 0).all()
    assert (sim <= np.minimum(ma, mb) * (1 + 1e-12)).all()
    # G(a, a) is the sum of the magnitudes not close to 0
    g_aa = gradient_information(a, a, sigma=sigma)
    assert close(g_aa, ma[~np.isclose(ma, 0)].sum(), 1e-12)
    # scale equivariance
    c = data.draw(st.sampled_from([0.5, 2.0, 3.0, 7.5]))
    assert close(gradient_information(c * a, c * a, sigma=sigma), c * g_aa)
    # and the reference
    assert close(sim.sum(), reference.gradient_information(a, b, sigma=sigma))


# ----------------------------------------------------------- determinism


NONE, NO_MASK = np.empty(0), np.empty(0, np.uint8)


def _kernel_args_2d(a, b, sigma):
    h = half_kernel(sigma)
    return (
        a.reshape(-1),
        b.reshape(-1),
        NONE,
        NONE,
        *a.shape,
        h,
        h,
        THRESHOLD,
        True,
        True,
        NO_MASK,
    )


@pytest.mark.parametrize("shape", [(3, 40), (97, 61), (300, 7)])
def test_serial_and_parallel_kernels_same_bits_2d(rng, shape):
    a, b = rng.random(shape), rng.random(shape)
    args = _kernel_args_2d(a, b, 1.5)
    serial, ok, *extremes = kernels.agreement_2d(*args, NONE)
    assert ok
    assert extremes == [a.min(), a.max(), b.min(), b.max()]
    map_serial = np.empty(a.size)
    assert kernels.agreement_2d(*args, map_serial)[0] == serial
    for n_chunks in (1, 2, 3, 7, 400):
        total, ok, *parallel_extremes = kernels.agreement_2d_parallel(*args, NONE, n_chunks)
        assert total == serial and ok and parallel_extremes == extremes
        map_parallel = np.empty(a.size)
        kernels.agreement_2d_parallel(*args, map_parallel, n_chunks)
        np.testing.assert_array_equal(map_parallel, map_serial)
    g = gradient_stack(a, 1.5).reshape(2, -1)
    h = half_kernel(1.5)
    x = b.reshape(-1)
    mask = (rng.random(a.size) < 0.5).astype(np.uint8)
    for m in (NO_MASK, mask):
        stack_args = (x, x, g[0], g[1], *shape, h, h, THRESHOLD, True, False, m, NONE)
        stacked = kernels.agreement_2d(*stack_args)[0]
        if not m.size:
            assert stacked == serial
        for n_chunks in (2, 5):
            assert kernels.agreement_2d_parallel(*stack_args, n_chunks)[0] == stacked


@pytest.mark.parametrize("shape", [(5, 6, 7), (33, 20, 9)])
def test_serial_and_parallel_kernels_same_bits_3d(rng, shape):
    # one dtype, as fused_sum passes them: the chunking is dtype-blind
    a, b = rng.random(shape), rng.random(shape)
    h = half_kernel(1.0)
    none, no_mask = NONE, NO_MASK
    args = (
        a.reshape(-1),
        b.reshape(-1),
        none,
        none,
        none,
        *shape,
        h,
        h,
        h,
        THRESHOLD,
        True,
        True,
        no_mask,
    )
    serial, ok, *extremes = kernels.agreement_3d(*args, none)
    assert ok
    assert extremes == [a.min(), a.max(), b.min(), b.max()]
    for n_chunks in (2, 3, 8):
        total, ok, *parallel_extremes = kernels.agreement_3d_parallel(*args, none, n_chunks)
        assert total == serial and parallel_extremes == extremes
    g = gradient_stack(a, 1.0).reshape(3, -1)
    stack_args = (
        b.reshape(-1),
        b.reshape(-1),
        g[0],
        g[1],
        g[2],
        *shape,
        h,
        h,
        h,
        THRESHOLD,
        True,
        False,
        no_mask,
        none,
    )
    assert kernels.agreement_3d(*stack_args)[0] == serial
    assert kernels.agreement_3d_parallel(*stack_args, 3)[0] == serial


def test_same_input_same_bits(rng):
    for shape in [(300, 310), (40, 41, 42)]:
        a, b = rng.random(shape), rng.random(shape)
        assert gradient_information(a, b) == gradient_information(a, b)
        assert alignment(a, b) == alignment(a, b)
        metric = AlignmentMetric(a)
        assert metric(b) == metric(b)
        assert metric.gradient_information(b) == gradient_information(a, b)


def test_nonfinite_reported_by_kernels(rng):
    a = rng.random((20, 30))
    a[19, 29] = np.inf
    args = _kernel_args_2d(a, a.copy(), 1.0)
    assert not kernels.agreement_2d(*args, NONE)[1]
    assert not kernels.agreement_2d_parallel(*args, NONE, 2)[1]


def test_docstring_examples():
    result = doctest.testmod(mg, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
