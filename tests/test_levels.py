"""A pyramid level's preparation: the same bits as the scipy/scikit-image
operations it stands for, and the sample table as the definition builds it."""

import math

import numpy as np
import pytest
from registration_helpers import make_level
from scipy import ndimage as ndi
from skimage import data
from skimage.transform import resize

import mireg
from mireg import _twins
from mireg import transforms as tf
from mireg._levels import Pyramid, downsample, smoothed
from mireg._pyramid import smooth_at

SHAPES = [(154, 154), (20, 21), (9, 40), (13, 13), (23, 28, 23), (5, 6, 70)]


def smoothed_gradient(image, sigma, spacing):
    """The definition of a level's gradients: ``np.gradient`` (physical
    units) of the nearest-mode Gaussian, isotropic in physical units."""
    spacing = np.asarray(spacing, float)
    smooth = ndi.gaussian_filter(
        image, sigma * spacing.min() / spacing, mode="nearest", truncate=4.0
    )
    return np.stack([g / h for g, h in zip(np.gradient(smooth), spacing)])


@pytest.mark.parametrize("zoom", ["mireg's kernel", "scipy"])
@pytest.mark.parametrize("shape", SHAPES + [(61, 47), (70, 1200)])
@pytest.mark.parametrize("shrink", [2, 3, 4, 5, 8, 32, (1, 4), (3, 2)])
def test_downsample_is_skimage_resize(monkeypatch, zoom, shape, shrink):
    from mireg import _pyramid

    if zoom == "mireg's kernel":
        monkeypatch.setattr(_pyramid, "ZOOM_KERNEL_MIN_SIZE", 1)
    else:
        monkeypatch.setattr(_pyramid, "ZOOM_KERNEL_MIN_SIZE", 10**12)
    if isinstance(shrink, tuple):  # per axis: the last axes of a volume
        shrink = (1,) * (len(shape) - len(shrink)) + shrink
    factors = np.broadcast_to(np.asarray(shrink), (len(shape),))
    image = np.random.default_rng(1).random(shape) * 3.0 - 1.0
    before = image.copy()
    out_shape = tuple(
        n if f == 1 else max(2, int(math.ceil(n / f))) for n, f in zip(shape, factors)
    )
    expected = resize(image, out_shape, order=1, anti_aliasing=True, preserve_range=True)
    got = downsample(image, tuple(factors))
    assert got.shape == expected.shape
    assert got.tobytes() == expected.tobytes()
    assert image.tobytes() == before.tobytes()


@pytest.mark.parametrize(
    "shape,spacing,sigma",
    [
        ((154, 154), (1.0, 1.0), 1.5),
        ((20, 21), (1.0, 1.0), 1.5),
        ((5, 40), (2.0, 1.0), 1.5),
        ((23, 28, 23), (2.0, 1.0, 1.5), 1.5),
        ((7, 8, 9), (1.0, 1.0, 1.0), 3.0),
    ],
)
def test_smoothed_is_nearest_mode_gaussian(shape, spacing, sigma):
    image = np.random.default_rng(2).random(shape)
    spacing = np.asarray(spacing)
    sigmas = sigma * spacing.min() / spacing
    expected = ndi.gaussian_filter(image, sigmas, mode="nearest", truncate=4.0)
    got = smoothed(image, sigma, spacing)
    assert got.flags.c_contiguous
    assert got.tobytes() == expected.tobytes()


@pytest.mark.parametrize("edge,mode", [(False, "mirror"), (True, "nearest")])
@pytest.mark.parametrize(
    "shape,sigma", [((60, 45), (3.5, 0.0)), ((30, 41), (1.2, 7.5)), ((12, 9, 20), (1.0, 2.0, 0.5))]
)
def test_smooth_at_picks_is_gaussian_filter_there(edge, mode, shape, sigma):
    rng = np.random.default_rng(5)
    image = rng.random(shape)
    picks = [np.unique(rng.integers(0, n, max(1, n // 3))) for n in shape]
    expected = ndi.gaussian_filter(image, sigma, mode=mode, truncate=4.0)[np.ix_(*picks)]
    got = smooth_at(image, sigma, picks, edge=edge)
    assert got.tobytes() == expected.tobytes()


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("masked", [False, True])
def test_sample_table_rows(ndim, masked):
    rng = np.random.default_rng(3)
    shape = (40, 36) if ndim == 2 else (14, 12, 10)
    reference = ndi.gaussian_filter(rng.random(shape), 2.0)
    mask = reference > np.median(reference) if masked else None
    level = make_level(reference, reference, reference_mask=mask)
    index = np.nonzero(np.ones(shape, bool) if mask is None else mask)
    table = level.data.table
    assert table.dtype == np.float32 and table.shape == (index[0].size, 8)
    np.testing.assert_array_equal(table[:, 3 - ndim : 3], np.stack(index, axis=1))
    assert np.all(table[:, : 3 - ndim] == 0) and np.all(table[:, 3 : 6 - ndim] == 0)
    grad = smoothed_gradient(reference, 1.5, np.ones(ndim))
    ref_grad = np.stack([g[index] for g in grad], axis=1)
    np.testing.assert_array_equal(table[:, 6 - ndim : 6], ref_grad.astype(np.float32))
    np.testing.assert_array_equal(table[:, 6], np.sum(ref_grad**2, axis=1).astype(np.float32))
    lo, hi, bins = reference.min(), reference.max(), level.n_bins
    expected_bins = np.clip(
        ((reference[index] - lo) * (bins / (hi - lo))).astype(int), 0, bins - 1
    )
    np.testing.assert_array_equal(table[:, 7], expected_bins)
    assert bins - 1 in table[:, 7]  # the maximum is kept (above the median)
    if not masked:
        assert 0 in table[:, 7]


def test_sample_table_of_a_sparse_grid_has_the_gradients_at_the_samples():
    # stride 4: the reference is smoothed on the samples' rows and columns only
    reference = ndi.gaussian_filter(np.random.default_rng(3).random((80, 70)), 2.0)
    level = make_level(reference, reference, max_samples=400)
    assert level.stride == 4
    index = np.nonzero(np.ones((80, 70), bool)[::4, ::4])
    index = (index[0] * 4, index[1] * 4)
    grad = smoothed_gradient(reference, 1.5, np.ones(2))
    ref_grad = np.stack([g[index] for g in grad], axis=1).astype(np.float32)
    np.testing.assert_array_equal(level.data.table[:, 4:6], ref_grad)


def _level(reference, moving, *, max_samples=None, cubic=True, use_gradient=False, gradients=None):
    return make_level(
        reference,
        moving,
        cubic=cubic,
        max_samples=max_samples,
        center=(np.array(reference.shape, float) - 1) / 2,
        use_gradient=use_gradient,
        gradients=gradients,
    )


@pytest.mark.parametrize(
    "shape,max_samples", [((40, 36), None), ((41, 37), 300), ((14, 12, 10), 500)]
)
def test_jittered_samples_stay_in_their_cells_and_bin_the_interpolated_value(shape, max_samples):
    rng = np.random.default_rng(5)
    reference = ndi.gaussian_filter(rng.random(shape), 2.0)
    # the finest level of NMI/MI is jittered; a coarse one or Pluim's is not
    # (a volume's finest level of Pluim's measure is windowed all the same)
    level = _level(reference, reference, max_samples=max_samples)
    # with gradients asked for, a jittered table keeps the grid point's
    with_g = _level(reference, reference, max_samples=max_samples, gradients=True)
    assert with_g.data.table[:, :3].tobytes() == level.data.table[:, :3].tobytes()
    for cubic, use_gradient in ((False, False), (True, True)):
        grid = _level(
            reference,
            reference,
            max_samples=max_samples,
            cubic=cubic,
            use_gradient=use_gradient,
            gradients=True,
        )
        assert grid.data.parzen == (cubic and len(shape) == 3)
        np.testing.assert_array_equal(grid.data.table[:, 3:7], with_g.data.table[:, 3:7])
    assert np.abs(with_g.data.table[:, 6]).max() > 0
    # without G no gradients are computed: the columns are zero
    np.testing.assert_array_equal(level.data.table[:, 3:7], 0)
    assert level.data.parzen
    assert level.stride == grid.stride and (max_samples is None) == (level.stride == 1)
    ndim = len(shape)
    on_grid, table = grid.data.table, level.data.table
    np.testing.assert_array_equal(on_grid[:, :3] % 1, 0)
    # the plane of a 2-D image stays 0; every other coordinate moves within its cell
    assert np.all(table[:, : 3 - ndim] == 0)
    offsets = table[:, 3 - ndim : 3].astype(float) - on_grid[:, 3 - ndim : 3]
    assert np.abs(offsets).max() <= 0.5 * level.stride + 1e-6
    assert np.abs(offsets).mean() > 0.1 * level.stride  # they did move
    points = table[:, 3 - ndim : 3].astype(float)
    assert points.min() >= 0 and np.all(points <= np.array(shape) - 1)
    values = ndi.map_coordinates(reference, points.T, order=1)
    lo, hi, bins = reference.min(), reference.max(), level.n_bins
    expected = np.clip(((values - lo) * (bins / (hi - lo))).astype(int), 0, bins - 1)
    assert np.mean(table[:, 7] == expected) > 0.999  # float32 coordinates: rare ties
    again = _level(reference, reference, max_samples=max_samples)
    assert again.data.table.tobytes() == table.tobytes()


def _entropy(p):
    p = p[p > 0] / p.sum()
    return float(-np.sum(p * np.log(p)))


@pytest.mark.parametrize("shape", [(48, 44), (18, 16, 14)])
def test_cost_is_nmi_of_the_linearly_windowed_joint_histogram(shape):
    """The finest level's entropies are those of the joint histogram where
    each moving value is shared between its two nearest bin centres
    (weights 1 - f and f), computed here in float64 from the definition."""
    rng = np.random.default_rng(9)
    ndim = len(shape)
    reference = ndi.gaussian_filter(rng.random(shape), 1.5)
    moving = 1.0 - ndi.gaussian_filter(rng.random(shape), 1.5) * 0.3 - reference
    level = _level(reference, moving)
    params = (
        np.array([0.05, 1.3, -0.8]) if ndim == 2 else np.array([0.03, -0.02, 0.04, 0.7, -1.1, 0.4])
    )
    h0, h1, h01, _, overlap = level.stats(np.zeros(params.size), params, np.ones(params.size))

    center = (np.array(shape, float) - 1) / 2
    matrix = tf.physical_matrix(params, ndim, "rigid", center)
    table = level.data.table
    points = table[:, 3 - ndim : 3].astype(np.float64)
    mapped = points @ matrix[:ndim, :ndim].T + matrix[:ndim, ndim]
    inside = np.all((mapped >= 0) & (mapped <= np.array(shape) - 1), axis=1)
    assert overlap == inside.sum() and 0 < overlap < len(points)
    # the finest level's interpolation: cubic B-spline, mirrored borders
    values = ndi.map_coordinates(moving, mapped[inside].T, order=3, mode="mirror")
    bins = level.n_bins
    f = np.clip((values - moving.min()) * (bins / np.ptp(moving)) - 0.5, 0, bins - 1)
    low = np.minimum(f.astype(int), bins - 2)
    weight = f - low
    rows = table[inside, 7].astype(int)
    joint = np.zeros((bins, bins))
    np.add.at(joint, (rows, low), 1 - weight)
    np.add.at(joint, (rows, low + 1), weight)
    expected = (_entropy(joint.sum(1)), _entropy(joint.sum(0)), _entropy(joint.ravel()))
    # weights are kept in units of 2**-20
    np.testing.assert_allclose((h0, h1, h01), expected, rtol=1e-6)


@pytest.mark.parametrize(
    "shape,spacing",
    [((40, 36), (1.0, 1.0)), ((2, 7), (1.0, 2.0)), ((14, 12, 10), (2.0, 1.0, 1.5))],
)
def test_moving_gradient_is_np_gradient_interleaved_float32(shape, spacing):
    rng = np.random.default_rng(4)
    moving = rng.random(shape)
    reference = ndi.gaussian_filter(rng.random(shape), 1.0)
    level = make_level(
        reference,
        moving,
        spacing=np.asarray(spacing),
        bins=16,
        cubic=True,
        center=np.zeros(len(shape)),
    )
    expected = np.moveaxis(smoothed_gradient(moving, 1.5, np.asarray(spacing)), 0, -1)
    grad = level.data.moving_grad
    got = grad[0] if len(shape) == 2 else grad
    assert got.dtype == np.float32 and got.flags.c_contiguous
    assert got.tobytes() == expected.astype(np.float32).tobytes()


@pytest.mark.parametrize("shape", [(91, 109, 91), (40, 37), (17, 9, 30)])
def test_pyramid_levels_from_finer_levels(shape):
    image = ndi.gaussian_filter(np.random.default_rng(6).random(shape), 2.0)
    pyramid = Pyramid(image)
    half = pyramid(2)
    assert half.tobytes() == downsample(image, 2).tobytes()
    eighth = pyramid(8)  # from the 1/2 level by 4
    assert eighth.shape == downsample(image, 8).shape
    assert eighth.tobytes() == downsample(half, 4).tobytes()
    assert pyramid(8) is eighth  # computed once
    # the same scene: close to resizing the full image by 8 at once
    direct = downsample(image, 8)
    assert np.abs(eighth - direct).max() < 0.1 * (image.max() - image.min())


def test_a_large_plane_recovers_a_known_rigid_motion():
    # 1024 x 512: the levels' resizes and the reference's smoothing at
    # picked rows and columns (runs, pairs and scattered picks)
    camera = data.camera().astype(np.float64) / 255.0
    reference = resize(camera, (1024, 512), anti_aliasing=True)
    angle, shift = np.deg2rad(4.0), np.array([12.0, -7.0])
    c = (np.array(reference.shape) - 1.0) / 2.0
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    truth = np.eye(3)
    truth[:2, :2] = rotation
    truth[:2, 2] = c + shift - rotation @ c
    inverse = np.linalg.inv(truth)
    moving = ndi.affine_transform(reference, inverse[:2, :2], inverse[:2, 2], order=3)
    result = mireg.register(reference, moving, global_search=False)
    grid = np.indices(reference.shape).reshape(2, -1)
    points = np.vstack([grid, np.ones(grid.shape[1])])
    error = np.linalg.norm((result.matrix @ points - truth @ points)[:2], axis=0).mean()
    assert error < 0.05, error


@pytest.mark.parametrize(
    "shape",
    [
        (40, 37),
        (35, 300),
        (2, 50),
        (50, 2),
        (1, 64),
        (64, 1),
        (9, 10, 11),
        (3, 1, 40),
        (1, 30, 20),
    ],
)
@pytest.mark.parametrize("values", ["random", "half zero", "tiny", "huge"])
def test_spline_coefficients_are_scipys(monkeypatch, shape, values):
    from mireg import _levels

    rng = np.random.default_rng(7)
    image = rng.random(shape) - 0.3
    if values == "half zero":
        image[: shape[0] // 2] = 0.0
    elif values == "tiny":
        image *= 1e-300
    elif values == "huge":
        image *= 1e300
    before = image.copy()
    expected = ndi.spline_filter(image, order=3, mode="mirror")
    for min_size in (1, 10**12):  # mireg's kernel, then scipy alone
        monkeypatch.setattr(_levels, "BSPLINE_KERNEL_MIN_SIZE", min_size)
        got = _levels.spline_coefficients(image)
        assert got.dtype == np.float64 and got.shape == image.shape
        assert got.tobytes() == expected.tobytes()
    assert image.tobytes() == before.tobytes()


@pytest.mark.parametrize("shape", [(1, 2, 9), (1, 3, 2), (1, 17, 12), (2, 5, 3), (4, 9, 6)])
def test_bordered_coefficients_interpolate_as_the_mirror_extension(shape):
    # the cost kernel reads a cubic level's coefficients through their border
    # (no edge path); warp keeps cubic2 / cubic3 with scipy's mirror indices
    from mireg._kernels import interpolate
    from mireg._levels import bordered

    rng = np.random.default_rng(11)
    coef = rng.random(shape) - 0.4
    planar = shape[0] == 1
    padded = bordered(coef, planar=planar)
    n0, n1, n2 = shape
    for i in range(padded.shape[0]):
        for j in range(n1 + 3):
            for k in range(n2 + 3):
                source = (
                    0 if planar else interpolate.mirror(i - 1, n0),
                    interpolate.mirror(j - 1, n1),
                    interpolate.mirror(k - 1, n2),
                )
                assert padded[i, j, k] == coef[source]
    # every position of [0, n - 1], the edges and the last line included
    points = rng.uniform(0.0, 1.0, (300, 3)) * (np.array(shape) - 1.0)
    points[:8] = np.array(shape) - 1.0
    points[8:16] = 0.0
    for y0, y1, y2 in points:
        if planar:
            # the edge path sums in the inner path's order: the same bits
            assert interpolate.cubic2_bordered(padded[0], y1, y2) == interpolate.cubic2(
                coef[0], y1, y2
            )
        else:
            want = interpolate.cubic3(coef, y0, y1, y2)
            got = interpolate.cubic3_bordered(padded, y0, y1, y2)
            assert got == pytest.approx(want, rel=1e-13, abs=1e-15)


@pytest.mark.parametrize(
    ("shape", "spacing"),
    [
        ((1, 60, 70), (1.0, 1.0)),
        ((1, 33, 2), (1.0, 2.5)),
        ((9, 10, 11), (1.0, 1.0, 1.0)),
        ((9, 2, 11), (2.0, 1.5, 0.7)),
        ((5, 6, 3), (0.3, 1.0, 1.0)),
    ],
)
def test_interleaved_gradient_is_numpys(shape, spacing):
    # the moving image's gradient stack: np.gradient / spacing, as float32
    from mireg._kernels.samples import interleaved_gradient

    smooth = np.random.default_rng(5).random(shape) * 1e3 - 300.0
    axes = range(3 - len(spacing), 3)
    expected = np.stack([np.gradient(smooth, axis=a) / h for a, h in zip(axes, spacing)], -1)
    out = np.empty(shape + (len(spacing),), np.float32)
    interleaved_gradient(smooth, np.array(spacing), out)
    assert out.tobytes() == expected.astype(np.float32).tobytes()
    # and its twin (a process's first registrations), to the bit
    assert _twins.interleaved_gradient(smooth, np.array(spacing)).tobytes() == out.tobytes()


@pytest.mark.parametrize(
    "shape,spacing,keep",
    [
        ((1, 40, 36), (1.0, 1.0), "all"),
        ((1, 33, 29), (0.7, 2.5), "stride 3"),
        ((9, 10, 11), (1.0, 1.0, 1.0), "all"),
        ((12, 9, 14), (2.0, 1.5, 0.7), "random"),
        ((5, 2, 3), (0.3, 1.0, 1.0), "stride 3"),
    ],
)
def test_sample_table_kernel_is_its_twin(shape, spacing, keep):
    # a process's first registrations fill their tables in NumPy
    from mireg._kernels.samples import fill_table

    rng = np.random.default_rng(6)
    image = rng.random(shape) * 50.0 - 10.0
    if keep == "random":  # the kernel's arithmetic is float64 for any image dtype
        image = image.astype(np.float32)
    smooth = rng.random(shape) * 1e3 - 300.0
    if keep == "all":
        mask = np.ones(shape, bool)
    elif keep == "random":
        mask = rng.random(shape) > 0.6
    else:
        mask = np.zeros(shape, bool)
        mask[..., ::3, ::3] = True
    # bins past both ends of the range are clipped, as the kernel's int()
    lo, scale, n_bins = -5.0, 24 / 50.0, 24
    args = (image, smooth, np.array(spacing), mask, lo, scale, n_bins)
    expected = fill_table(*args)
    got = _twins.fill_table(*args)
    assert got.dtype == np.float32 and got.shape == expected.shape
    assert got.tobytes() == expected.tobytes()
