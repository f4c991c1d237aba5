"""register(): known transforms recovered on scikit-image's images, 3-D,
multimodal pairs, anisotropic voxels; the result's matrix and transform agree."""

import logging

import numpy as np
import pytest
from registration_helpers import make_level, make_moving, mean_error, truth_matrix
from scipy import ndimage as ndi
from skimage import color, data, transform
from skimage.util import random_noise

import mireg
from mireg import transforms as tf


@pytest.fixture(scope="module")
def camera128():
    return transform.resize(data.camera() / 255.0, (128, 128), anti_aliasing=True)


def test_translation_recovered(camera128):
    truth = truth_matrix(camera128.shape, (3.4, -5.2), "translation")
    moving = make_moving(camera128, truth)
    result = mireg.register(camera128, moving, transform="translation")
    assert mean_error(result.matrix, truth, camera128.shape) < 0.05
    np.testing.assert_allclose(result.parameters, [3.4, -5.2], atol=0.05)


def test_demo_rotation_40_degrees_with_noise():
    # the demo experiment: skimage.transform.rotate about the centre
    img0 = transform.rescale(color.rgb2gray(data.astronaut()), 0.3)
    img1 = random_noise(transform.rotate(img0, 40), mode="gaussian", rng=0, var=1e-3)
    rows, cols = img0.shape
    c = np.array([rows / 2 - 0.5, cols / 2 - 0.5])
    a = np.deg2rad(40)
    # rotate(): img1(y) = img0(R_xy (y - c) + c), so moving(M x) = ref(x)
    # with M = R^-1 about c; R_xy in (x, y) is the transpose of rotation
    # by a in (row, col) order.
    rot_rc = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    truth = np.eye(3)
    truth[:2, :2] = rot_rc
    truth[:2, 2] = c - rot_rc @ c
    result = mireg.register(img0, img1)
    assert mean_error(result.matrix, truth, img0.shape) < 0.05
    assert np.rad2deg(result.parameters[0]) == pytest.approx(40, abs=0.05)


@pytest.mark.parametrize(
    "name,angle,shift",
    [
        ("camera", 25.0, (9.0, -14.0)),
        ("moon", -55.0, (20.0, 12.0)),  # near the +-60 deg / 20% capture range
        ("coins", 12.0, (-25.0, 30.0)),
    ],
)
def test_multimodal_inverted_contrast(name, angle, shift):
    image = getattr(data, name)() / 255.0
    image = transform.resize(image, (160, 160), anti_aliasing=True)
    params = (np.deg2rad(angle),) + shift
    truth = truth_matrix(image.shape, params, "rigid")
    moving = 1.0 - make_moving(image, truth)  # inverted contrast
    result = mireg.register(image, moving)
    assert mean_error(result.matrix, truth, image.shape) < 0.1, result.parameters


def test_non_monotone_intensity_remap(camera128):
    # a T1/T2-like pair: intensities mapped through a non-monotone function
    params = (np.deg2rad(-30.0), 6.0, 11.0)
    truth = truth_matrix(camera128.shape, params, "rigid")
    moving = np.sin(3.0 * make_moving(camera128, truth)) ** 2
    for metric in ("alignment", "nmi"):
        result = mireg.register(camera128, moving, metric=metric)
        assert mean_error(result.matrix, truth, camera128.shape) < 0.1, metric


def zero_framed(reference, truth, remap):
    """Moving image as a scanner would hand it over after an earlier
    resampling: remapped intensities, and zeros where the rotated field of
    view has no data (a strong straight edge that is not anatomy)."""
    inverse = np.linalg.inv(truth)
    moving = remap(np.clip(ndi.affine_transform(reference, inverse, order=3), 0, 1))
    frame = ndi.affine_transform(np.ones_like(reference), inverse, order=0) > 0
    moving[~frame] = 0.0
    return moving


@pytest.mark.parametrize(
    "name,size,angle,shift,remap",
    [
        # T1/T2-like: non-monotone remap, -30 deg, 6/11 px (the MNI case,
        # with scikit-image's moon standing in for the MNI152 slice)
        ("moon", 256, -30.0, (6.0, 11.0), lambda x: np.sin(3.0 * x) ** 2),
        ("camera", 512, 20.0, (15.0, -22.0), lambda x: np.sqrt(1 - x) + 0.5 * x**2),
    ],
)
def test_zero_filled_field_of_view_does_not_capture_alignment(name, size, angle, shift, remap):
    image = getattr(data, name)() / 255.0
    image = (image - image.min()) / (image.max() - image.min())
    if image.shape != (size, size):
        image = transform.resize(image, (size, size), anti_aliasing=True)
    truth = truth_matrix(image.shape, (np.deg2rad(angle),) + shift, "rigid")
    moving = zero_framed(image, truth, remap)
    result = mireg.register(image, moving, metric="alignment")
    assert mean_error(result.matrix, truth, image.shape) < 0.1, result.parameters


def test_periodic_pattern_is_not_aliased():
    # coins: a near-periodic pattern whose NMI peak is narrower than the
    # search grid at the coarse level; NMI alone once chose a neighbouring
    # coin, 45 px off
    image = transform.resize(data.coins() / 255.0, (160, 160), anti_aliasing=True)
    truth = truth_matrix(image.shape, (np.deg2rad(-16.85), -6.13, -2.69), "rigid")
    moving = make_moving(image, truth)
    for metric in ("alignment", "nmi"):
        result = mireg.register(image, moving, metric=metric)
        assert mean_error(result.matrix, truth, image.shape) < 0.1, metric


def test_similarity_recovers_scale():
    image = transform.resize(data.astronaut()[..., 1] / 255.0, (160, 160), anti_aliasing=True)
    params = (np.deg2rad(10.0), 4.0, -3.0, np.log(1.12))
    truth = truth_matrix(image.shape, params, "similarity")
    moving = make_moving(image, truth)
    result = mireg.register(image, moving, transform="similarity")
    assert result.kind == "similarity"
    assert np.exp(result.parameters[-1]) == pytest.approx(1.12, abs=0.003)
    assert mean_error(result.matrix, truth, image.shape) < 0.1


def test_mi_metric_and_masks(camera128):
    truth = truth_matrix(camera128.shape, (np.deg2rad(8.0), 2.0, -4.0), "rigid")
    moving = make_moving(camera128, truth)
    mask = np.zeros(camera128.shape, bool)
    mask[16:112, 16:112] = True
    result = mireg.register(
        camera128,
        moving,
        metric="mi",
        reference_mask=mask,
        moving_mask=np.ones(moving.shape, bool),
    )
    assert mean_error(result.matrix, truth, camera128.shape) < 0.1


def blobs_volume(shape, spacing, seed=0, n=40):
    """A smooth analytic volume sampled on a grid of the given spacing:
    sums of Gaussian blobs, so a transformed copy needs no interpolation."""
    rng = np.random.default_rng(seed)
    extent = np.array(shape) * np.asarray(spacing)
    centers = rng.uniform(0.15, 0.85, size=(n, 3)) * extent
    widths = rng.uniform(0.04, 0.12, size=n) * extent.mean()
    weights = rng.uniform(0.3, 1.0, size=n)

    def sample(points):
        out = np.zeros(points.shape[0])
        for c, w, a in zip(centers, widths, weights):
            out += a * np.exp(-np.sum((points - c) ** 2, axis=1) / (2 * w * w))
        return out

    return sample


def sampled(function, shape, spacing, physical=None):
    idx = np.indices(shape).reshape(3, -1).T * np.asarray(spacing)
    if physical is not None:
        # moving(q) = f(T^-1 q) so that moving(T p) = f(p)
        inverse = np.linalg.inv(physical)
        idx = idx @ inverse[:3, :3].T + inverse[:3, 3]
    return function(idx).reshape(shape)


def blobs_pair(shape, spacing, params):
    """(reference, moving): a blobs volume and its copy under the rigid
    ``params`` (radians, mm) about the grid's centre."""
    f = blobs_volume(shape, spacing)
    center = (np.array(shape) - 1) / 2 * np.asarray(spacing)
    physical = tf.physical_matrix(params, 3, "rigid", center)
    return sampled(f, shape, spacing), sampled(f, shape, spacing, physical)


@pytest.mark.parametrize(
    "spacing,angles,shift",
    [
        ((1.0, 1.0, 1.0), (8.0, -6.0, 12.0), (3.0, -2.0, 4.0)),
        ((2.0, 1.0, 1.0), (8.0, -6.0, 12.0), (3.0, -2.0, 4.0)),
        # near the 3-D search grid's reach: 20 deg, ~15% of the field of view
        ((1.0, 1.0, 1.0), (-19.5, 12.0, 11.5), (-1.0, -6.5, -7.0)),
    ],
)
def test_3d_rigid_multimodal_anisotropic(spacing, angles, shift):
    shape = (24, 48, 48) if spacing[0] == 2.0 else (48, 48, 48)
    f = blobs_volume(shape, spacing)
    reference = sampled(f, shape, spacing)
    center = (np.array(shape) - 1) / 2 * np.asarray(spacing)
    params = np.concatenate([np.deg2rad(angles), shift])
    physical = tf.physical_matrix(params, 3, "rigid", center)
    moving = sampled(f, shape, spacing, physical)
    moving = np.sqrt(moving + 0.05) * (1.2 - moving)  # non-monotone remap
    result = mireg.register(reference, moving, spacing=spacing)
    truth = truth_matrix(shape, params, "rigid", spacing)
    # error in physical units (mm)
    err = mean_error(result.matrix, truth, shape) * min(spacing)
    assert err < 0.2, result.parameters
    np.testing.assert_allclose(result.parameters[3:], params[3:], atol=0.2)


def test_default_bins_are_32_for_images_and_64_for_volumes(camera128):
    # the default is the explicit value to the bit, and not the other one
    moving = make_moving(camera128, truth_matrix(camera128.shape, (0.1, 2.0, -1.5), "rigid"))
    image = {b: mireg.register(camera128, moving, bins=b) for b in (None, 32, 64)}
    assert image[None].matrix.tobytes() == image[32].matrix.tobytes()
    assert image[None].matrix.tobytes() != image[64].matrix.tobytes()
    shape, spacing = (20, 24, 22), (2.0, 2.0, 2.0)
    params = np.array([0.05, -0.04, 0.03, 1.5, -1.0, 2.0])
    reference, moved = blobs_pair(shape, spacing, params)
    volume = {
        b: mireg.register(reference, moved, spacing=spacing, bins=b, global_search=False)
        for b in (None, 32, 64)
    }
    assert volume[None].matrix.tobytes() == volume[64].matrix.tobytes()
    assert volume[None].matrix.tobytes() != volume[32].matrix.tobytes()
    truth = truth_matrix(shape, params, "rigid", spacing)
    assert mean_error(volume[None].matrix, truth, shape) * 2.0 < 0.2
    # one level, no coarser answer to refine: Powell's line searches
    assert [r["stage"] for r in volume[None].levels] == ["powell"]


def test_a_volume_refines_its_coarser_answer_by_cobyqa():
    # 66^3 voxels: the 1/2 level has 33^3, more than its default limit
    # (16384), so strides 2 there and on the finest level (limit 65536)
    shape, spacing = (66, 66, 66), (1.5, 1.5, 1.5)
    params = np.array([0.06, -0.05, 0.04, 2.0, -1.5, 2.5])
    reference, moving = blobs_pair(shape, spacing, params)
    result = mireg.register(reference, moving, spacing=spacing)
    assert [r["stage"] for r in result.levels] == ["search", "powell", "cobyqa"]
    assert [r["samples"] for r in result.levels[1:]] == [17**3, 33**3]
    assert result.nfev == sum(r["evaluations"] for r in result.levels)
    truth = truth_matrix(shape, params, "rigid", spacing)
    assert mean_error(result.matrix, truth, shape) < 0.05  # voxels
    # the default limits are these explicit ones, to the bit
    explicit = mireg.register(
        reference, moving, spacing=spacing, levels=(2, 1), max_samples=(16384, 65536)
    )
    assert explicit.matrix.tobytes() == result.matrix.tobytes()
    # fewer finest samples (10648, stride 3): COBYQA would save nothing, Powell
    sparse = mireg.register(
        reference, moving, spacing=spacing, levels=(2, 1), max_samples=(16384, 16384)
    )
    assert [r["stage"] for r in sparse.levels] == ["search", "powell", "powell"]
    assert sparse.levels[-1]["samples"] == 22**3
    assert mean_error(sparse.matrix, truth, shape) < 0.05


def test_a_volumes_levels_weigh_g_by_its_fourth_root(monkeypatch):
    from mireg import _levels
    from mireg._kernels import cost

    shape, spacing = (48, 56, 48), (2.0, 2.0, 2.0)
    f = blobs_volume(shape, spacing, seed=1, n=12)
    center = (np.array(shape) - 1) / 2 * np.asarray(spacing)
    params = np.concatenate([np.deg2rad((4.0, -3.0, 6.0)), (3.0, -4.0, 2.5)])
    reference = sampled(f, shape, spacing)
    moving = sampled(f, shape, spacing, tf.physical_matrix(params, 3, "rigid", center))
    moving = np.sqrt(moving + 0.05) * (1.2 - moving)  # non-monotone remap
    truth = truth_matrix(shape, params, "rigid", spacing)

    # every level of a volume scores NMI * G**0.25, every level of an image
    # Pluim's product itself
    options = dict(spacing=spacing, center=center, use_gradient=True, max_samples=4000)
    for cubic in (True, False):
        level = make_level(reference, moving, cubic=cubic, **options)
        assert level.criterion("alignment").gradient_power == 0.25
    image = make_level(reference[24], moving[24], cubic=True, center=center[1:], use_gradient=True)
    assert image.criterion("alignment").gradient_power == 1.0
    h0, h1, h01, g, overlap = level.stats(np.zeros(6), params, np.ones(6))
    nmi = (h0 + h1) / h01
    for power in (0.25, 1.0):
        criterion = level.criterion("alignment")._replace(gradient_power=power)
        value = cost.measure(h0, h1, h01, g, overlap, criterion)
        if power == 1.0:
            assert value == nmi * g  # the product, to the bit
        else:
            assert value == pytest.approx(nmi * g**0.25, rel=1e-15)

    # G's own peak is off the truth where the remap changes the gradient
    # magnitudes; with its weight lowered the answer is closer (measured:
    # 0.029 mm, the product 0.047)
    result = mireg.register(reference, moving, spacing=spacing)
    error = mean_error(result.matrix, truth, shape) * 2.0
    monkeypatch.setattr(_levels, "VOLUME_GRADIENT_POWER", 1.0)
    product = mireg.register(reference, moving, spacing=spacing)
    assert error < 0.035 < mean_error(product.matrix, truth, shape) * 2.0


def test_the_drivers_measure_is_the_kernels_to_the_bit():
    # the driver scores evaluations in Python (_optimize.measure, and
    # measures for a search grid); Powell's kernel in Numba (cost.measure)
    from mireg import _optimize
    from mireg._kernels import cost
    from mireg._kernels.modes import ALIGNMENT, MI, NMI
    from mireg._kernels.records import Criterion

    rng = np.random.default_rng(3)
    n = 400
    stats = np.column_stack(
        [
            rng.uniform(0.0, 5.0, n),
            rng.uniform(0.0, 5.0, n),
            rng.uniform(-0.5, 8.0, n),
            rng.uniform(0.0, 1e3, n),
            rng.integers(20, 200, n).astype(np.float64),
        ]
    )
    stats[:8, 2] = (0.0, -0.0, 1e-300, 0.0, 2.0, 3.0, 1.0, 1e-200)  # h01 at and near 0
    stats[8:12, 3] = (0.0, 1e-300, 5e-324, 1e300)  # G at its edges
    stats[12:16, 4] = (19.0, 20.0, 21.0, 0.0)  # around min_overlap
    for metric in (ALIGNMENT, NMI, MI):
        for power in (1.0, 0.5, 0.25):
            criterion = Criterion(metric=metric, min_overlap=20, gradient_power=power)
            kernel = np.array(
                [cost.measure(*row[:4], np.int64(row[4]), criterion) for row in stats]
            )
            assert np.isinf(kernel).sum() > 10 and np.isfinite(kernel).sum() > 300
            driver = np.array(
                [_optimize.measure(*row[:4], int(row[4]), criterion) for row in stats]
            )
            np.testing.assert_array_equal(driver.view(np.int64), kernel.view(np.int64))
            grid = _optimize.measures(stats, criterion)
            np.testing.assert_array_equal(grid.view(np.int64), kernel.view(np.int64))
    assert not np.shares_memory(grid, stats)


def test_default_max_samples_of_a_volume_are_sparser_above_the_finest_level():
    from mireg._inputs import samples_by_level

    plan = [(4, (4, 4, 2)), (2, (2, 2, 2)), (1, (1, 1, 1))]
    limit = samples_by_level(None, None, plan)
    assert [limit(f) for _, f in plan] == [16384, 16384, 65536]
    assert limit((8, 8, 8)) == 16384  # the global search's level: the coarsest's
    # a user's levels ending at 2: the finest of them gets the finest limit
    plan = [(8, (8, 8, 8)), (4, (4, 4, 4)), (2, (2, 2, 2))]
    limit = samples_by_level(None, (8, 4, 2), plan)
    assert [limit(f) for _, f in plan] == [16384, 16384, 65536]
    # an image samples every level alike
    plan = [(4, (4, 4)), (2, (2, 2)), (1, (1, 1))]
    limit = samples_by_level(None, None, plan)
    assert [limit(f) for f in ((8, 8), (4, 4), (2, 2), (1, 1))] == [32768] * 4


def test_matrix_and_skimage_transform_agree(camera128):
    truth = truth_matrix(camera128.shape, (np.deg2rad(15.0), 5.0, -7.0), "rigid")
    moving = make_moving(camera128, truth)
    result = mireg.register(camera128, moving)
    by_matrix = result.warp(moving, order=1)
    by_skimage = transform.warp(moving, result.transform, order=1, preserve_range=True)
    # compare where the mapped point lies well inside the moving image
    # (scipy and skimage extend the border differently)
    idx = np.indices(camera128.shape).reshape(2, -1)
    mapped = result.matrix[:2, :2] @ idx + result.matrix[:2, 2:]
    inside = np.all((mapped >= 1) & (mapped <= np.array(moving.shape)[:, None] - 2), axis=0)
    inside = inside.reshape(camera128.shape)
    assert inside.mean() > 0.5
    np.testing.assert_allclose(by_matrix[inside], by_skimage[inside], atol=1e-9)
    np.testing.assert_allclose(mireg.warp(moving, result, order=1), by_matrix, atol=0)
    # and the warped moving image matches the reference where it overlaps
    valid = ndi.binary_erosion(by_matrix > 0, iterations=4)
    assert np.abs(by_matrix - camera128)[valid].mean() < 0.01
    assert isinstance(result.transform, transform.EuclideanTransform)


def test_result_record_callback_logging_and_determinism(camera128, caplog):
    truth = truth_matrix(camera128.shape, (np.deg2rad(5.0), 1.0, 2.0), "rigid")
    moving = make_moving(camera128, truth)
    calls = []
    with caplog.at_level(logging.INFO, logger="mireg"):
        first = mireg.register(
            camera128, moving, callback=lambda lv, p, v: calls.append((lv, p, v))
        )
    second = mireg.register(camera128, moving)
    assert first.parameters.tobytes() == second.parameters.tobytes()
    assert first.matrix.tobytes() == second.matrix.tobytes()
    powell_levels = [lv for lv in first.levels if lv["stage"] == "powell"]
    assert len(calls) == len(powell_levels) >= 1
    assert [lv["shrink"] for lv in powell_levels][-1] == 1
    assert first.nfev == sum(lv["evaluations"] for lv in first.levels) or first.nfev > 0
    assert calls[-1][2] == pytest.approx(first.metric)
    assert any("level 1/1" in r.getMessage() for r in caplog.records)
    summary = first.to_dict()
    assert summary["matrix"] == first.matrix.tolist()
    assert len(summary["levels"]) == len(first.levels)


def test_inputs_not_modified(camera128):
    moving = make_moving(camera128, truth_matrix(camera128.shape, (0.1, 1.0, 1.0), "rigid"))
    moving32 = moving.astype(np.float32)
    ref_copy, mov_copy = camera128.copy(), moving32.copy()
    mireg.register(camera128, moving32)
    np.testing.assert_array_equal(camera128, ref_copy)
    np.testing.assert_array_equal(moving32, mov_copy)


def test_integer_images(camera128):
    ref = (camera128 * 255).astype(np.uint8)
    truth = truth_matrix(ref.shape, (np.deg2rad(-10.0), 3.0, 2.0), "rigid")
    moving = np.clip(make_moving(camera128, truth) * 4000, 0, 4000).astype(np.uint16)
    result = mireg.register(ref, moving)
    assert mean_error(result.matrix, truth, ref.shape) < 0.1


def test_errors(camera128):
    img = camera128
    with pytest.raises(ValueError, match="same number of dimensions"):
        mireg.register(img, img[None])
    bad = img.copy()
    bad[3, 3] = np.nan
    with pytest.raises(ValueError, match="moving_image"):
        mireg.register(img, bad)
    with pytest.raises(ValueError, match="reference_image.*constant"):
        mireg.register(np.ones((32, 32)), img)
    with pytest.raises(ValueError, match="transform"):
        mireg.register(img, img, transform="bspline")
    with pytest.raises(ValueError, match="metric"):
        mireg.register(img, img, metric="ssd")
    with pytest.raises(ValueError, match="spacing"):
        mireg.register(img, img, spacing=(1.0, -1.0))
    with pytest.raises(ValueError, match="initial"):
        mireg.register(img, img, initial=(0.0, 1.0))
    with pytest.raises(ValueError, match="reference_mask"):
        mireg.register(img, img, reference_mask=np.ones((3, 3), bool))
    with pytest.raises(ValueError, match="moving_mask.*all False"):
        mireg.register(img, img, moving_mask=np.zeros(img.shape, bool))
    with pytest.raises(ValueError, match="sigma"):
        mireg.register(img, img, sigma=0)
    for bad in (-1, 2.5, "all", True):
        with pytest.raises(ValueError, match="max_samples"):
            mireg.register(img, img, max_samples=bad)
    with pytest.raises(ValueError, match="reference_image.*at least 2"):
        mireg.register(img[0], img[1])
    with pytest.raises(ValueError, match="2-D or 3-D"):
        mireg.register(np.ones((5, 5, 5, 5)), np.ones((5, 5, 5, 5)))
    with pytest.raises(ValueError, match="overlap"):
        mireg.register(img, img, transform="translation", initial=(500.0, 500.0))
    with pytest.raises(TypeError, match="moving_image"):
        mireg.register(img, "camera.png")
    with pytest.raises(ValueError, match="3-D transform"):
        mireg.warp(img, np.eye(4))
    with pytest.raises(ValueError, match="3-D"):
        _ = mireg.register(
            np.random.default_rng(0).random((8, 8, 8)), np.random.default_rng(1).random((8, 8, 8))
        ).transform


def test_max_samples_subsamples_the_finest_level(camera128):
    params = np.array([np.deg2rad(7.0), 2.5, -3.0])
    truth = truth_matrix(camera128.shape, params, "rigid")
    moving = make_moving(camera128, truth)
    runs = {m: mireg.register(camera128, moving, max_samples=m) for m in (0, 4096)}
    assert runs[0].levels[-1]["samples"] == 128 * 128  # 0: every pixel
    assert runs[4096].levels[-1]["samples"] == 64 * 64  # stride 2
    for result in runs.values():
        assert mean_error(result.matrix, truth, camera128.shape) < 0.1
    default = mireg.register(camera128, moving)
    assert default.levels[-1]["samples"] == 128 * 128  # under 2-D's 32768


def test_read_only_inputs(camera128):
    from numba import types

    from mireg import _twins
    from mireg._kernels import gaussian, samples

    truth = truth_matrix(camera128.shape, (2.0, -1.5), "translation")
    moving = make_moving(camera128, truth)
    reference_image = camera128.copy()
    reference_image.flags.writeable = False
    moving.flags.writeable = False
    with _twins.disabled():  # the kernels themselves, not their NumPy twins
        result = mireg.register(reference_image, moving, transform="translation")
    np.testing.assert_allclose(result.parameters, [2.0, -1.5], atol=0.05)
    assert not reference_image.flags.writeable and not moving.flags.writeable
    # read-only arrays reach no kernel: none is compiled for them
    for kernel in (gaussian.smooth_picked, samples.fill_table):
        arrays = [t for sig in kernel.signatures for t in sig if isinstance(t, types.Array)]
        assert arrays and all(t.mutable for t in arrays)


# ---- smoothing, max_samples per level -------------------------------------------


def test_smoothing_is_registering_the_smoothed_images(camera128):
    # the same bits as smoothing first with scipy's Gaussian (nearest-value
    # borders); anisotropic pixels: the same length in world units per axis
    truth = truth_matrix(camera128.shape, (np.deg2rad(3.0), 2.5, -1.5), "rigid")
    moving = make_moving(camera128, truth)
    spacing = (2.0, 1.0)
    sigma = (0.4, 0.8)  # 0.8 px along the finest axis, the same mm along the other
    options = dict(spacing=spacing, metric="nmi")
    smoothed = mireg.register(camera128, moving, smoothing=0.8, **options)
    by_hand = mireg.register(
        ndi.gaussian_filter(camera128, sigma, mode="nearest"),
        ndi.gaussian_filter(moving, sigma, mode="nearest"),
        **options,
    )
    np.testing.assert_array_equal(smoothed.parameters, by_hand.parameters)
    assert smoothed.metric == by_hand.metric
    plain = mireg.register(camera128, moving, **options)
    assert not np.array_equal(plain.parameters, smoothed.parameters)


def test_smoothing_follows_world_units_with_other_voxel_sizes(camera128):
    # a moving image of pixels twice as large: its Gaussian is half as many pixels
    moving = ndi.shift(camera128, (1.5, -2.0), order=3)[::2, ::2]
    affines = dict(reference_affine=np.eye(3), moving_affine=np.diag([2.0, 2.0, 1.0]))
    smoothed = mireg.register(
        camera128, moving, transform="translation", smoothing=1.0, metric="nmi", **affines
    )
    by_hand = mireg.register(
        ndi.gaussian_filter(camera128, 1.0, mode="nearest"),
        ndi.gaussian_filter(moving, 0.5, mode="nearest"),
        transform="translation",
        metric="nmi",
        **affines,
    )
    np.testing.assert_array_equal(smoothed.parameters, by_hand.parameters)
    np.testing.assert_allclose(smoothed.parameters, [1.5, -2.0], atol=0.1)


def test_smoothing_recovers_a_noisy_shift_better():
    rng = np.random.default_rng(2)
    scene = ndi.gaussian_filter(rng.normal(size=(96, 96)), 3.0)
    truth = (2.3, -1.7)
    errors = {}
    for s in (0.0, 1.0):
        worst = 0.0
        for k in range(4):
            noise = np.random.default_rng(10 + k)
            reference = scene + noise.normal(0, 0.05, scene.shape)
            moving = ndi.shift(scene, truth, order=3) + noise.normal(0, 0.05, scene.shape)
            result = mireg.register(
                reference, moving, transform="translation", metric="nmi", smoothing=s
            )
            worst = max(worst, np.abs(result.parameters - truth).max())
        errors[s] = worst
    # measured: 0.25 px unsmoothed, 0.054 px smoothed (noise at half the scene's std)
    assert errors[1.0] < 0.5 * errors[0.0], errors


@pytest.mark.parametrize(
    "value, error, match",
    [
        (-0.5, ValueError, "smoothing"),
        (float("nan"), ValueError, "smoothing"),
        (float("inf"), ValueError, "smoothing"),
        ("1", TypeError, "smoothing"),
        (True, TypeError, "smoothing"),
    ],
)
def test_bad_smoothing(camera128, value, error, match):
    with pytest.raises(error, match=match):
        mireg.register(camera128, camera128, smoothing=value)


def test_smoothing_leaves_the_inputs_alone(camera128):
    reference, moving = camera128.copy(), ndi.shift(camera128, (1.0, 0.0))
    before = moving.copy()
    mireg.register(reference, moving, transform="translation", smoothing=1.2)
    np.testing.assert_array_equal(reference, camera128)
    np.testing.assert_array_equal(moving, before)


def test_max_samples_per_level(camera128):
    truth = truth_matrix(camera128.shape, (np.deg2rad(4.0), 2.0, -3.0), "rigid")
    moving = make_moving(camera128, truth)
    levels = (4, 2, 1)
    result = mireg.register(
        camera128, moving, levels=levels, max_samples=(0, 1000, 4096), global_search=False
    )
    samples = [r["samples"] for r in result.levels if r["stage"] == "powell"]
    assert samples == [32 * 32, 22 * 22, 64 * 64]  # every pixel; strides 3 and 2
    assert mean_error(result.matrix, truth, camera128.shape) < 0.1
    # one value per level the same as that value for every level, bit for bit
    same = [
        mireg.register(camera128, moving, levels=levels, max_samples=m)
        for m in (4096, (4096,) * 3)
    ]
    np.testing.assert_array_equal(same[0].parameters, same[1].parameters)
    # the global search's level takes the coarsest level's limit
    searched = mireg.register(camera128, moving, levels=levels, max_samples=(100, 4096, 4096))
    assert searched.levels[0]["stage"] == "search" and searched.levels[0]["samples"] <= 100


@pytest.mark.parametrize(
    "max_samples, levels, match",
    [
        ((100, 200), (4, 2, 1), "2 values: give one per level of `levels` \\(3\\)"),
        ((100, 200), None, "one per level of `levels` \\(unset"),
        ((100, -1, 5), (4, 2, 1), "integer >= 0"),
        ((100, 2.5, 5), (4, 2, 1), "integer >= 0"),
        ("100", None, "integer >= 0"),
        (-5, None, "integer >= 0"),
    ],
)
def test_bad_max_samples(camera128, max_samples, levels, match):
    with pytest.raises(ValueError, match=match):
        mireg.register(camera128, camera128, levels=levels, max_samples=max_samples)
