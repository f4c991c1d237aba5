"""NMI / MI / joint histogram against scikit-image, NumPy and mireg.reference."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from skimage import data
from skimage.metrics import normalized_mutual_information as skimage_nmi

import mireg
from mireg import joint_histogram, mutual_information, normalized_mutual_information

DTYPES = [
    np.float64,
    np.float32,
    np.float16,
    np.uint8,
    np.int8,
    np.uint16,
    np.int16,
    np.uint32,
    np.int32,
    np.uint64,
    np.int64,
    np.bool_,
]


def correlated_pair(rng, shape, dtype, scale=40.0):
    a = rng.normal(size=shape) * scale
    b = rng.normal(size=shape) * scale + 0.7 * a
    if dtype == np.bool_:
        return a > 0, b > 0
    if np.dtype(dtype).kind == "u":
        a, b = np.abs(a), np.abs(b)
    return a.astype(dtype), b.astype(dtype)


# Images past PARALLEL_MIN_SIZE may take the parallel kernels, whose
# chunking is the same code for every dtype: a float, a narrow and a wide
# integer and bool prove it without compiling each dtype's parallel twins.
@pytest.mark.parametrize(
    "dtype,shape",
    [(d, s) for d in DTYPES for s in [(17,), (64, 48), (9, 10, 11)]]
    # the parallel kernels on the two dtypes they serve most (a bool image
    # is read as uint8): their chunking is the same code for every dtype
    + [(d, (300, 301)) for d in (np.float64, np.uint8, np.bool_)],
)
def test_nmi_equals_skimage_across_dtypes_and_shapes(rng, dtype, shape):
    a, b = correlated_pair(rng, shape, dtype)
    for bins in (100, 7, (3, 50)):
        expected = skimage_nmi(a, b, bins=bins)
        got = normalized_mutual_information(a, b, bins=bins)
        assert isinstance(got, np.float64)
        assert got == pytest.approx(expected, rel=0, abs=1e-12)


@pytest.mark.parametrize(
    "dtype0,dtype1",
    [
        (np.float32, np.uint8),
        (np.float16, np.uint8),
        (np.int8, np.uint8),
        (np.uint8, np.float64),
        (np.int64, np.float32),
        (np.uint64, np.int64),
        (np.bool_, np.float64),
        (np.int16, np.float16),
        (np.bool_, np.uint8),
    ],
)
def test_nmi_mixed_dtypes_equal_skimage(rng, dtype0, dtype1):
    a, _ = correlated_pair(rng, (80, 90), dtype0)
    _, b = correlated_pair(rng, (80, 90), dtype1)
    assert normalized_mutual_information(a, b) == pytest.approx(skimage_nmi(a, b), abs=1e-12)


def test_integer_values_on_bin_edges():
    # 0..100 with 100 bins: every value sits exactly on an edge, the last
    # one on the closed right edge.
    a = np.arange(101, dtype=np.int64).repeat(3)
    b = (a * 7) % 101
    for bins in (100, 50, 20, 3, (100, 25)):
        hist, _ = joint_histogram(a, b, bins=bins)
        expected, _ = np.histogramdd([a, b], bins=bins)
        np.testing.assert_array_equal(hist, expected)
        assert normalized_mutual_information(a, b, bins=bins) == pytest.approx(
            skimage_nmi(a, b, bins=bins), abs=1e-12
        )


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_narrow_float_edges_weigh_like_numpy(rng, dtype):
    # float16/float32 edges have unequal widths; skimage's density weighting
    # must be reproduced, and values on those rounded edges binned alike.
    a = (rng.integers(0, 2000, size=5000) / 7).astype(dtype)
    b = np.sqrt(a.astype(np.float64) + 3).astype(dtype)
    hist, edges = joint_histogram(a, b, bins=100)
    expected, expected_edges = np.histogramdd([a, b], bins=100)
    np.testing.assert_array_equal(hist, expected)
    assert edges[0].dtype == expected_edges[0].dtype
    np.testing.assert_array_equal(edges[0], expected_edges[0])
    assert normalized_mutual_information(a, b) == pytest.approx(skimage_nmi(a, b), abs=1e-12)


def test_constant_image_widened_range(rng):
    a = np.full((30, 30), 5.0)
    b = rng.random((30, 30))
    hist, edges = joint_histogram(a, b, bins=10)
    np.testing.assert_array_equal(edges[0], np.linspace(4.5, 5.5, 11))
    np.testing.assert_array_equal(hist, np.histogramdd([a.ravel(), b.ravel()], bins=10)[0])
    assert normalized_mutual_information(a, b) == pytest.approx(skimage_nmi(a, b), abs=1e-12)


def test_extreme_float_range():
    a = np.array([-1e307, 0.0, 1e307, 5.0, -3.0])
    b = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    hist, _ = joint_histogram(a, b, bins=4)
    np.testing.assert_array_equal(hist, np.histogramdd([a, b], bins=4)[0])
    # numpy's own edges overflow to NaN here; the values binned scaled by
    # 2**-k are binned as exact arithmetic would bin them
    hist, (edges, _) = joint_histogram(a * 10, b, bins=4)
    np.testing.assert_array_equal(hist, np.histogramdd([a / 1e300, b], bins=4)[0])
    assert edges[0] == -1e308 and edges[-1] == 1e308
    # float16 edges are NumPy's, whose range overflows here: we say so
    with pytest.raises(ValueError, match="image1.*too wide"):
        normalized_mutual_information(
            b.astype(np.float16), np.array([-6e4, 0, 6e4, 1, 2], np.float16)
        )


def test_different_shapes_are_zero_padded_like_skimage(rng):
    a = rng.random((40, 50))
    b = rng.random((45, 30))
    assert normalized_mutual_information(a, b) == pytest.approx(skimage_nmi(a, b), abs=1e-12)
    a3, b3 = rng.random((5, 6, 7)).astype(np.float32), rng.random((7, 6, 5))
    assert normalized_mutual_information(a3, b3) == pytest.approx(skimage_nmi(a3, b3), abs=1e-12)


def test_non_contiguous_and_big_endian_inputs(rng):
    base = rng.random((200, 300))
    view = base[::3, 1::2]
    other = (base.T[::2, ::3] * 3)[: view.shape[0], : view.shape[1]]
    assert normalized_mutual_information(view, other) == pytest.approx(
        skimage_nmi(view, other), abs=1e-12
    )
    big = view.astype(">f4")
    big_other = other.astype(">f8")
    assert normalized_mutual_information(big, big_other) == pytest.approx(
        skimage_nmi(big, big_other), abs=1e-12
    )


def test_real_images_agree_with_skimage_and_reference():
    from mireg import reference

    camera = data.camera()
    moon = data.moon()
    coins = data.coins()[:256, :256]
    # the mixed pair below the parallel kernels' size: their chunking is
    # checked on the uint8 pairs, and this pair's serial kernel is compiled
    # for test_nmi_mixed_dtypes_equal_skimage anyway
    crop = camera[:255, :255]
    for a, b in [
        (camera, moon),
        (camera, camera.T),
        (camera[:256, :256], coins),
        (crop.astype(np.float32) / 255, 255 - crop),
    ]:
        expected = skimage_nmi(a, b)
        assert normalized_mutual_information(a, b) == pytest.approx(expected, abs=1e-12)
        assert reference.normalized_mutual_information(a, b) == pytest.approx(expected, abs=1e-12)


def test_large_images_take_the_parallel_path_and_agree(rng):
    a = rng.normal(size=(700, 700))
    b = np.tanh(a) + 0.1 * rng.normal(size=a.shape)
    hist, _ = joint_histogram(a, b)
    np.testing.assert_array_equal(hist, np.histogramdd([a.ravel(), b.ravel()], bins=100)[0])
    assert normalized_mutual_information(a, b) == pytest.approx(skimage_nmi(a, b), abs=1e-12)


def test_serial_and_parallel_histogram_kernels_agree_bitwise(rng):
    from mireg._information import histogram_edges
    from mireg._kernels import histogram as kernels
    from mireg._kernels import ranges

    # one dtype pair: the chunking is the same code for every pair, and
    # float64's kernels are those the large images above compiled already
    a = rng.random(100_003)
    b = rng.random(100_003) ** 3
    e0 = histogram_edges(a.min(), a.max(), np.dtype(np.float64), 64)
    e1 = histogram_edges(b.min(), b.max(), np.dtype(np.float64), 64)
    serial = kernels.joint_histogram(a, b, e0, e1)
    np.testing.assert_array_equal(serial, np.histogramdd([a, b], bins=(e0, e1))[0])
    for n_chunks in (2, 3, 7):
        parallel = kernels.joint_histogram_parallel(a, b, e0, e1, n_chunks)
        np.testing.assert_array_equal(parallel, serial)
        assert ranges.value_ranges_parallel(a, b, n_chunks) == ranges.value_ranges(a, b)


@pytest.mark.parametrize("size", [1000, 40_000])  # one table, four tables
def test_counts_spill_to_int64_every_flush(rng, size):
    # Chunks of more than 2**30 pairs add their int32 tables to int64 as
    # they go; the same code with a flush every 997 pairs must count alike.
    from mireg._kernels import binned, binning, histogram

    a, b = rng.random(size), rng.random(size)
    e = np.linspace(0.0, 1.0, 33)
    fit0 = fit1 = binning.fast_estimate(e)
    copies, _ = binning.count_tables(1, size, e.size, e.size)
    spill = np.zeros((1, e.size * e.size), np.int64)
    histogram._count_pairs(a, b, e, e, fit0, fit1, True, copies[0], spill[0], 997)
    assert not copies.any()  # all flushed
    np.testing.assert_array_equal(
        binning.merged_counts(copies, spill, 32, 32), np.histogramdd([a, b], bins=(e, e))[0]
    )
    bins0 = np.searchsorted(e, a, side="right").astype(np.int32) - 1
    copies, _ = binning.count_tables(1, size, e.size, e.size)
    spill[:] = 0
    binned._count_binned(bins0, b, e, fit1, copies[0], spill[0], 997)
    np.testing.assert_array_equal(
        binning.merged_counts(copies, spill, 32, 32), np.histogramdd([a, b], bins=(e, e))[0]
    )


def _values_on_and_beside_edges(edges, rng, n_random=2000):
    """Every edge, its float neighbours in the edges' dtype (clipped into
    the range), and random values: what the bin estimate gets wrong most."""
    e = edges.astype(edges.dtype)
    near = np.concatenate([e, np.nextafter(e, np.inf), np.nextafter(e, -np.inf)])
    values = np.concatenate([near, rng.uniform(e[0], e[-1], n_random).astype(e.dtype)])
    return np.clip(values, e[0], e[-1])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "lo,hi,bins",
    [
        (0.0, 1.0, 100),
        (-3.7, 12.1, 64),
        (0.0, 255.0, 100),
        (-1e-300, 1e-300, 7),
        (1e6, 1e6 + 1.0, 100),
        (-5e37, 5e37, 100),
        (2.0, 3.0, 1),
        (0.1, 0.3, 1000),
        (1e12, 1e12 + 1.0, 100),
        (1e15, 1e15 + 1.0, 100),
    ],
)
def test_linspace_bins_equal_searchsorted_on_edges(rng, dtype, lo, hi, bins):
    # The vectorised path (estimate + one recomputed edge) must give every
    # value on and beside an edge the bin np.histogramdd gives it.
    from mireg._information import histogram_edges
    from mireg._kernels import binning
    from mireg._kernels import histogram as kernels

    edges = histogram_edges(dtype(lo), dtype(hi), np.dtype(dtype), bins)
    assert edges.dtype == dtype
    # edges 1/100 apart repeat where an ulp is wider (float32 at 1e6, 1e12;
    # float64 at 1e15): walked
    degenerate = (dtype == np.float32 and lo >= 1e6) or lo == 1e15
    assert binning.fast_estimate(edges)[2] != degenerate
    x = _values_on_and_beside_edges(edges, rng)
    y = x[::-1].copy()
    expected = np.histogramdd([x, y], bins=(edges, edges))[0]
    np.testing.assert_array_equal(kernels.joint_histogram(x, y, edges, edges), expected)
    if dtype == np.float64:  # the chunks bin as the serial kernel, whatever the dtype
        np.testing.assert_array_equal(
            kernels.joint_histogram_parallel(x, y, edges, edges, 3), expected
        )


def test_edges_not_from_linspace_are_walked(rng):
    from mireg._kernels import binning
    from mireg._kernels import histogram as kernels

    edges = np.linspace(0.0, 1.0, 11)
    edges[3] = np.nextafter(edges[3], np.inf)  # one edge off the formula
    uneven = np.array([0.0, 0.1, 0.5, 0.55, 2.0])
    for e in (edges, uneven):
        assert not binning.fast_estimate(e)[2]
        x = _values_on_and_beside_edges(e, rng)
        np.testing.assert_array_equal(
            kernels.joint_histogram(x, x[::-1].copy(), e, e),
            np.histogramdd([x, x[::-1]], bins=(e, e))[0],
        )


@pytest.mark.parametrize("dtype", DTYPES[:2] + DTYPES[3:-1])
def test_value_range_kernel(rng, dtype):
    from mireg._kernels import ranges as kernels

    info = np.finfo(dtype) if np.dtype(dtype).kind == "f" else np.iinfo(dtype)
    for v in (
        (rng.normal(size=1001) * 100).clip(info.min, 100).astype(dtype),
        np.array([0.0, -0.0, -0.0]).astype(dtype),
        np.array([info.min, info.max, 0], dtype),
    ):
        lo, hi, finite = kernels.value_range(v, 0, v.size)
        assert finite and lo == v.min() and hi == v.max()
        lo, hi, finite = kernels.value_range(v, 3 % v.size, v.size)
        assert lo == v[3 % v.size :].min() and hi == v[3 % v.size :].max()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bad", [np.nan, -np.nan, np.inf, -np.inf])
def test_value_range_kernel_finds_nonfinite(rng, dtype, bad):
    from mireg._kernels import ranges as kernels

    v = rng.normal(size=257).astype(dtype)
    v[100] = np.copysign(np.array(bad, dtype), -1.0) if np.isnan(bad) else bad
    for candidate in (v, -v):
        assert not kernels.value_range(candidate, 0, candidate.size)[2]
        assert kernels.value_range(candidate, 101, candidate.size)[2]
    extreme = np.array([np.finfo(dtype).max, -np.finfo(dtype).max], dtype)
    assert kernels.value_range(extreme, 0, 2)[2]


def test_mutual_information_unnormalized_matches_entropies(rng):
    a = rng.integers(0, 5, size=(50, 40))
    b = (a + rng.integers(0, 2, size=a.shape)) % 5
    counts, _ = np.histogramdd([a.ravel(), b.ravel()], bins=10)
    p = counts / counts.sum()

    def entropy(q):
        q = q[q > 0]
        return -np.sum(q * np.log(q))

    expected = entropy(p.sum(0)) + entropy(p.sum(1)) - entropy(p.ravel())
    assert mutual_information(a, b, bins=10) == pytest.approx(expected, rel=1e-12)
    assert mutual_information(a, b, bins=10, normalized=True) == normalized_mutual_information(
        a, b, bins=10
    )


def test_mi_of_image_with_itself_is_its_entropy():
    a = np.arange(16.0).reshape(4, 4)
    assert mutual_information(a, a, bins=4) == pytest.approx(np.log(4), rel=1e-14)
    assert normalized_mutual_information(a, -a, bins=16) == pytest.approx(2.0, abs=1e-14)


def test_inputs_are_not_modified(rng):
    a = rng.random((64, 64)).astype(np.float32)
    b = (rng.random((64, 64)) * 250).astype(np.uint8)
    a0, b0 = a.copy(), b.copy()
    normalized_mutual_information(a, b)
    joint_histogram(a, b)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)


def test_deterministic_bits(rng):
    a = rng.random((300, 300))
    b = rng.random((300, 300))
    values = {normalized_mutual_information(a, b).tobytes() for _ in range(5)}
    assert len(values) == 1


# ---- errors -------------------------------------------------------------


@pytest.mark.parametrize("name,bad", [("image0", np.nan), ("image1", np.inf), ("image1", -np.inf)])
def test_nonfinite_values_raise_naming_argument(rng, name, bad):
    a, b = rng.random((20, 20)), rng.random((20, 20))
    (a if name == "image0" else b)[3, 4] = bad
    with pytest.raises(ValueError, match=name):
        normalized_mutual_information(a, b)
    with pytest.raises(ValueError, match=name):
        joint_histogram(a, b)


def test_nan_in_large_image_raises(rng):
    a = rng.random((400, 400))
    a[-1, -1] = np.nan
    with pytest.raises(ValueError, match="image0.*1 NaN"):
        normalized_mutual_information(a, rng.random((400, 400)))


def test_errors_name_the_argument(rng):
    a = rng.random((10, 10))
    with pytest.raises(ValueError, match="same number of dimensions"):
        normalized_mutual_information(a, rng.random((10, 10, 2)))
    with pytest.raises(ValueError, match="image1.*empty"):
        normalized_mutual_information(a, np.zeros((0, 10)))
    with pytest.raises(TypeError, match="image0"):
        normalized_mutual_information(a.astype(complex), a)
    with pytest.raises(TypeError, match="image1"):
        normalized_mutual_information(a, "not an image")
    with pytest.raises(ValueError, match="bins"):
        normalized_mutual_information(a, a, bins=0)
    with pytest.raises(TypeError, match="bins"):
        normalized_mutual_information(a, a, bins=2.5)
    with pytest.raises(TypeError, match="bins"):
        normalized_mutual_information(a, a, bins=(2, 3, 4))
    with pytest.raises(ValueError, match="single occupied bin"):
        normalized_mutual_information(np.ones((5, 5)), np.zeros((5, 5)))
    with pytest.raises(ValueError, match="single occupied bin"):
        normalized_mutual_information(a, a * 2, bins=1)
    # MI itself is defined there: 0
    assert mutual_information(a, a * 2, bins=1) == 0.0


def test_lists_are_accepted():
    a = [[1, 2, 3], [4, 5, 6]]
    b = [[6, 5, 4], [3, 2, 2]]
    assert normalized_mutual_information(a, b, bins=4) == pytest.approx(
        skimage_nmi(np.array(a), np.array(b), bins=4), abs=1e-12
    )


# ---- properties ---------------------------------------------------------

images = hnp.arrays(
    dtype=st.sampled_from([np.float64, np.float32, np.uint8, np.int16]),
    shape=st.tuples(st.integers(2, 12), st.integers(2, 12)),
    elements=st.integers(0, 200),
).filter(lambda a: a.min() != a.max())


@settings(max_examples=60, deadline=None)
@given(a=images, data_=st.data())
def test_property_symmetric_bounded_and_permutation_invariant(a, data_):
    b = data_.draw(hnp.arrays(a.dtype, a.shape, elements=st.integers(0, 200)))
    bins = data_.draw(st.integers(2, 40))
    nmi_ab = normalized_mutual_information(a, b, bins=bins)
    nmi_ba = normalized_mutual_information(b, a, bins=bins)
    assert nmi_ab == pytest.approx(nmi_ba, abs=1e-12)
    assert 1.0 - 1e-12 <= nmi_ab <= 2.0 + 1e-12
    assert nmi_ab == pytest.approx(skimage_nmi(a, b, bins=bins), abs=1e-12)
    perm = np.random.default_rng(0).permutation(a.size)
    a_p, b_p = a.ravel()[perm].reshape(a.shape), b.ravel()[perm].reshape(b.shape)
    assert normalized_mutual_information(a_p, b_p, bins=bins) == pytest.approx(nmi_ab, abs=1e-12)
    assert mutual_information(a, b, bins=bins) >= -1e-12


@settings(max_examples=40, deadline=None)
@given(
    values=hnp.arrays(
        np.float64, st.integers(1, 300), elements=st.floats(-1e6, 1e6, allow_nan=False)
    ),
    bins=st.integers(1, 120),
)
def test_property_joint_histogram_equals_histogramdd(values, bins):
    other = values[::-1].copy()
    hist, _ = joint_histogram(values, other, bins=bins)
    np.testing.assert_array_equal(hist, np.histogramdd([values, other], bins=bins)[0])


def test_public_api_is_exported():
    for name in ("normalized_mutual_information", "mutual_information", "joint_histogram"):
        assert callable(getattr(mireg, name))
