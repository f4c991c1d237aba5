"""register() in world space: images on different grids placed by their
affines (voxel size, origin, flipped and permuted axes, shape), the affine
transform, the moments / geometry starts, and affine validation."""

from types import SimpleNamespace

import numpy as np
import pytest

import mireg
from mireg import _world
from mireg import transforms as tf


def world_points(affine, shape):
    """World coordinates of every voxel of a grid, one a row."""
    index = np.indices(shape).reshape(len(shape), -1).astype(float)
    return (affine[:-1, :-1] @ index + affine[:-1, -1:]).T


def blobs(center, size, seed=0, n=40):
    """A smooth analytic scene in world space (sums of Gaussian blobs
    around ``center``, spread over ``size``): any grid samples it exactly."""
    rng = np.random.default_rng(seed)
    ndim = len(center)
    centers = np.asarray(center) + rng.uniform(-0.32, 0.32, size=(n, ndim)) * size
    widths = rng.uniform(0.04, 0.12, size=n) * np.mean(size)
    weights = rng.uniform(0.3, 1.0, size=n)

    def sample(points):
        out = np.zeros(points.shape[0])
        for c, w, a in zip(centers, widths, weights):
            out += a * np.exp(-np.sum((points - c) ** 2, axis=1) / (2 * w * w))
        return out

    return sample


def scan(scene, affine, shape, world=None):
    """The scene sampled on a grid; through ``world`` (reference world ->
    moving world) the grid is the moving image's: moving(T p) = scene(p)."""
    points = world_points(affine, shape)
    if world is not None:
        inverse = np.linalg.inv(world)
        points = points @ inverse[:-1, :-1].T + inverse[:-1, -1]
    return scene(points).reshape(shape)


def remap(image):
    """A non-monotone intensity map: another modality."""
    return np.sqrt(image + 0.05) * (1.2 - image)


def invert(image):
    """Inverted contrast: another modality whose edges are as steep.  (A
    non-linear map such as ``remap`` makes edges steeper or shallower, and
    an affine map, which can scale the moving image's gradients, then
    trades a little of the pose for more G: about 1 px in these scenes.)"""
    return 1.5 - image


def world_error(result, truth, reference_affine, shape):
    """Mean distance (world units) over the reference grid between where
    ``result.world_matrix`` and ``truth`` send each voxel."""
    points = world_points(reference_affine, shape)
    h = np.hstack([points, np.ones((len(points), 1))]).T
    return float(np.mean(np.linalg.norm((result.world_matrix @ h - truth @ h)[:-1], axis=0)))


def check_invariant(result):
    left = result.moving_affine @ result.matrix
    right = result.world_matrix @ result.reference_affine
    np.testing.assert_allclose(left, right, atol=1e-9 * np.abs(right).max())


def affine(directions, spacing, origin):
    out = np.eye(len(spacing) + 1)
    out[:-1, :-1] = np.asarray(directions, float) * np.asarray(spacing, float)
    out[:-1, -1] = origin
    return out


# reference: 2 mm voxels, RAS-like with the first axis flipped (LAS)
REF3 = affine(np.diag([-1.0, 1.0, 1.0]), (2.0, 2.0, 2.0), (40.0, -30.0, -25.0))
REF3_SHAPE = (36, 32, 30)
# moving: 1.6 x 1.6 x 2.5 mm voxels, axes permuted and one flipped, its own
# origin and a field of view of other size
MOV3 = affine(
    [[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], (1.6, 1.6, 2.5), (-37.0, 24.0, -28.0)
)
MOV3_SHAPE = (40, 46, 26)


def reference_center(affine_, shape):
    return affine_[:-1, :-1] @ ((np.array(shape) - 1) / 2) + affine_[:-1, -1]


def test_3d_rigid_on_different_grids():
    c = reference_center(REF3, REF3_SHAPE)
    scene = blobs(c, np.abs(REF3[:3, :3]) @ REF3_SHAPE, seed=1)
    params = np.concatenate([np.deg2rad([8.0, -6.0, 10.0]), [4.0, -3.0, 5.0]])
    truth = tf.physical_matrix(params, 3, "rigid", c)
    reference = scan(scene, REF3, REF3_SHAPE)
    moving = remap(scan(scene, MOV3, MOV3_SHAPE, truth))
    result = mireg.register(reference, moving, reference_affine=REF3, moving_affine=MOV3)
    assert world_error(result, truth, REF3, REF3_SHAPE) < 0.2, result.parameters
    np.testing.assert_allclose(result.parameters[:3], params[:3], atol=0.005)
    np.testing.assert_allclose(result.parameters[3:], params[3:], atol=0.2)
    check_invariant(result)
    assert result.moving_shape == MOV3_SHAPE and result.reference_shape == REF3_SHAPE
    np.testing.assert_array_equal(result.reference_affine, REF3)
    np.testing.assert_array_equal(result.moving_affine, MOV3)
    np.testing.assert_allclose(result.center, c)
    # warp resamples onto the reference grid
    warped = result.warp(moving, order=1)
    assert warped.shape == REF3_SHAPE
    inside = warped > 0.2
    assert np.corrcoef(warped[inside], remap(reference)[inside])[0, 1] > 0.99


REF2 = affine(np.diag([1.0, -1.0]), (1.0, 1.0), (-40.0, 50.0))
REF2_SHAPE = (96, 100)
MOV2 = affine([[0.0, -1.0], [1.0, 0.0]], (0.8, 1.25), (47.0, -46.0))
MOV2_SHAPE = (96, 110)


def test_2d_rigid_on_different_grids():
    c = reference_center(REF2, REF2_SHAPE)
    scene = blobs(c, np.abs(REF2[:2, :2]) @ REF2_SHAPE, seed=3, n=30)
    params = np.array([np.deg2rad(-14.0), 5.0, -3.5])
    truth = tf.physical_matrix(params, 2, "rigid", c)
    reference = scan(scene, REF2, REF2_SHAPE)
    moving = remap(scan(scene, MOV2, MOV2_SHAPE, truth))
    result = mireg.register(reference, moving, reference_affine=REF2, moving_affine=MOV2)
    assert world_error(result, truth, REF2, REF2_SHAPE) < 0.1, result.parameters
    check_invariant(result)
    swap = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(swap @ result.transform.params @ swap, result.matrix, atol=1e-12)


def test_flipped_storage_gives_the_same_world_pose():
    # the same scan stored LAS and RAS: the pose in world space must agree
    c = reference_center(REF2, REF2_SHAPE)
    scene = blobs(c, np.array([96.0, 100.0]), seed=5, n=30)
    truth = tf.physical_matrix(np.array([np.deg2rad(6.0), -2.0, 3.0]), 2, "rigid", c)
    reference = scan(scene, REF2, REF2_SHAPE)
    ras = affine(np.eye(2), (1.0, 1.0), (-45.0, -52.0))
    moving = remap(scan(scene, ras, (100, 100), truth))
    las = ras @ np.array([[-1.0, 0, 99.0], [0, 1, 0], [0, 0, 1]])  # first axis flipped
    results = [
        mireg.register(reference, image, reference_affine=REF2, moving_affine=a)
        for image, a in ((moving, ras), (moving[::-1], las))
    ]
    for result in results:
        assert world_error(result, truth, REF2, REF2_SHAPE) < 0.1
    np.testing.assert_allclose(results[0].world_matrix, results[1].world_matrix, atol=0.01)


def test_3d_affine_recovered():
    shape = (36, 36, 36)
    reference_affine = affine(np.eye(3), (2.0, 2.0, 2.0), (0.0, 0.0, 0.0))
    moving_affine = affine(np.diag([1.0, -1.0, 1.0]), (2.4, 2.0, 1.8), (-6.0, 76.0, -4.0))
    moving_shape = (32, 38, 42)
    c = reference_center(reference_affine, shape)
    scene = blobs(c, np.full(3, 72.0), seed=1, n=50)
    rotation = tf.rotation_matrix(np.deg2rad([5.0, -4.0, 6.0]), 3)
    linear = rotation @ np.array([[1.07, 0.04, 0.0], [0.0, 0.94, -0.03], [0.02, 0.0, 1.03]])
    params = np.concatenate([linear.reshape(-1), [3.0, -2.0, 2.5]])
    truth = tf.physical_matrix(params, 3, "affine", c)
    reference = scan(scene, reference_affine, shape)
    moving = invert(scan(scene, moving_affine, moving_shape, truth))
    kw = dict(reference_affine=reference_affine, moving_affine=moving_affine)
    result = mireg.register(reference, moving, transform="affine", **kw)
    assert result.kind == "affine" and result.parameters.size == 12
    assert world_error(result, truth, reference_affine, shape) < 0.2, result.parameters
    np.testing.assert_allclose(result.parameters[:9], params[:9], atol=0.01)
    check_invariant(result)
    kinds = [lv.get("transform") for lv in result.levels if lv["stage"] == "powell"]
    assert kinds[0] == "rigid" and kinds[-1] == "affine"
    # rigid cannot hold the scales: its error is far larger
    rigid = mireg.register(reference, moving, **kw)
    assert world_error(rigid, truth, reference_affine, shape) > 5 * world_error(
        result, truth, reference_affine, shape
    )


def test_2d_affine_recovered():
    shape = (100, 96)
    scene = blobs(np.array([49.5, 47.5]), np.array([100.0, 96.0]), seed=2, n=30)
    c = (np.array(shape) - 1) / 2
    linear = tf.rotation_matrix([np.deg2rad(12.0)], 2) @ np.array([[1.08, 0.05], [0.0, 0.93]])
    params = np.concatenate([linear.reshape(-1), [-4.0, 3.0]])
    truth = tf.physical_matrix(params, 2, "affine", c)
    grid = np.eye(3)
    reference = scan(scene, grid, shape)
    moving = invert(scan(scene, grid, shape, truth))
    calls = []
    result = mireg.register(
        reference, moving, transform="affine", callback=lambda *a: calls.append(a)
    )
    assert result.parameters.size == 6
    powell = [lv for lv in result.levels if lv["stage"] == "powell"]
    assert [c[0] for c in calls] == list(range(len(powell)))
    assert [c[1].size for c in calls] == [3 if lv["transform"] == "rigid" else 6 for lv in powell]
    assert world_error(result, truth, grid, shape) < 0.1, result.parameters
    np.testing.assert_allclose(result.parameters[:4], params[:4], atol=0.002)
    np.testing.assert_allclose(result.parameters[4:], params[4:], atol=0.05)
    # from parameters (no rigid stage, no search): stays there
    again = mireg.register(reference, moving, transform="affine", initial=result.parameters)
    assert [lv["transform"] for lv in again.levels] == ["affine"] * len(again.levels)
    assert world_error(again, truth, grid, shape) < 0.1
    assert isinstance(result.transform, __import__("skimage").transform.AffineTransform)


def test_initial_translations_in_world_space():
    ref_affine = affine(np.diag([-1.0, 1.0]), (2.0, 1.0), (70.0, 5.0))
    mov_affine = affine([[0.0, 1.0], [1.0, 0.0]], (0.5, 1.0), (-3.0, 12.0))
    reference = np.zeros((36, 40))
    reference[10, 7] = 3.0  # world (70 - 20, 5 + 7) = (50, 12)
    reference[20, 30] = 1.0  # world (30, 35)
    moving = np.zeros((50, 120))
    moving[8, 40] = 2.0  # world (-3 + 40, 12 + 4) = (37, 16)
    moving[10, 60] = 6.0  # world (57, 17)
    ref_com = (3 * np.array([50.0, 12.0]) + np.array([30.0, 35.0])) / 4
    mov_com = (2 * np.array([37.0, 16.0]) + 6 * np.array([57.0, 17.0])) / 8
    inputs = SimpleNamespace(
        reference=reference, moving=moving, reference_mask=None, moving_mask=None
    )
    frames = _world.checked_frames(ref_affine, mov_affine, None, np.ones(2), 2)
    moments = _world.initial_parameters("moments", "rigid", inputs, frames)
    np.testing.assert_allclose(moments, [0.0, *(mov_com - ref_com)], atol=1e-12)
    # field of view centres: (70 - 35, 5 + 19.5) and (-3 + 59.5, 12 + 12.25)
    geometry = _world.initial_parameters("geometry", "affine", inputs, frames)
    np.testing.assert_allclose(geometry, [1, 0, 0, 1, 56.5 - 35.0, 24.25 - 24.5], atol=1e-12)


def test_moments_and_geometry_starts_reach_a_large_offset():
    # an object shifted by 45% of the field of view: beyond the global
    # search's +-20%, within its reach from the start
    shape = (120, 120)
    grid = np.eye(3)
    c = (np.array(shape) - 1) / 2
    scene = blobs(c, np.array([50.0, 50.0]), seed=4, n=25)
    params = np.array([np.deg2rad(10.0), 54.0, -50.0])
    truth = tf.physical_matrix(params, 2, "rigid", c)
    reference = scan(scene, grid, shape)
    # a dark background in both (the centre of mass of intensity is the
    # object's), another contrast inside, a larger field of view
    moving = scan(scene, grid, (200, 200), truth) ** 2
    assert np.all(np.abs(params[1:]) > 0.4 * np.array(shape))
    result = mireg.register(reference, moving, initial="moments")
    assert world_error(result, truth, grid, shape) < 0.1, result.parameters
    assert result.levels[0]["stage"] == "search"  # the search still runs
    # without a start the search does not reach it (the test means something)
    assert world_error(mireg.register(reference, moving), truth, grid, shape) > 10
    # a field of view centred on the moved object: the geometric centres
    centred = affine(np.eye(2), (1.0, 1.0), c + params[1:] - 49.5)
    moving = scan(scene, centred, (100, 100), truth) ** 2
    kw = dict(reference_affine=grid, moving_affine=centred)
    result = mireg.register(reference, moving, initial="geometry", **kw)
    assert world_error(result, truth, grid, shape) < 0.1, result.parameters
    assert world_error(mireg.register(reference, moving, **kw), truth, grid, shape) > 10


@pytest.mark.parametrize(
    "bad,match",
    [
        (np.eye(3), "reference_affine.*4x4"),
        (np.full((4, 4), np.nan), "reference_affine.*non-finite"),
        (np.diag([1.0, 1.0, 0.0, 1.0]), "reference_affine.*singular"),
        (np.array([[1, 0.3, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]]), "sheared"),
        (np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 1.0]]), "last row"),
        ("eye", "reference_affine.*numeric"),
    ],
)
def test_bad_affines(bad, match):
    rng = np.random.default_rng(0)
    image = rng.random((8, 8, 8))
    with pytest.raises(ValueError, match=match):
        mireg.register(image, image, reference_affine=bad, moving_affine=np.eye(4))
    with pytest.raises(ValueError, match=match.replace("reference", "moving")):
        mireg.register(image, image, reference_affine=np.eye(4), moving_affine=bad)


def test_affine_argument_combinations():
    rng = np.random.default_rng(0)
    image = rng.random((8, 8, 8))
    with pytest.raises(ValueError, match="moving_affine.*missing"):
        mireg.register(image, image, reference_affine=np.eye(4))
    with pytest.raises(ValueError, match="spacing.*not both"):
        mireg.register(
            image, image, spacing=2.0, reference_affine=np.eye(4), moving_affine=np.eye(4)
        )
    for name in ("centre", ""):
        with pytest.raises(ValueError, match="initial"):
            mireg.register(image, image, initial=name)
    with pytest.raises(ValueError, match="global_search"):
        mireg.register(
            image,
            image,
            transform="affine",
            initial=tf.identity_parameters(3, "affine"),
            global_search=True,
        )
    with pytest.raises(ValueError, match="initial"):
        mireg.register(image, image, transform="affine", initial=np.zeros(6))


def test_diagonal_affines_are_spacing_same_bits():
    # plain arrays with a voxel size, and the same grids given as affines
    scene = blobs(np.array([30.0, 30.0, 28.0]), np.array([60.0, 60.0, 56.0]), seed=6)
    spacing = (2.0, 2.0, 2.5)
    grid = affine(np.eye(3), spacing, (0.0, 0.0, 0.0))
    params = np.concatenate([np.deg2rad([3.0, -2.0, 4.0]), [1.0, -1.5, 2.0]])
    c = reference_center(grid, (30, 30, 22))
    truth = tf.physical_matrix(params, 3, "rigid", c)
    reference = scan(scene, grid, (30, 30, 22))
    moving = scan(scene, grid, (30, 30, 22), truth)
    by_spacing = mireg.register(reference, moving, spacing=spacing, global_search=False)
    by_affine = mireg.register(
        reference, moving, reference_affine=grid, moving_affine=grid, global_search=False
    )
    assert by_spacing.parameters.tobytes() == by_affine.parameters.tobytes()
    assert by_spacing.matrix.tobytes() == by_affine.matrix.tobytes()
    np.testing.assert_array_equal(by_spacing.reference_affine, grid)
    check_invariant(by_spacing)
    assert world_error(by_spacing, truth, grid, (30, 30, 22)) < 0.2
    # both grids moved by one origin: the same pose in world space
    shifted = grid.copy()
    shifted[:3, 3] = (-30.0, 12.0, 7.0)
    moved = mireg.register(
        reference, moving, reference_affine=shifted, moving_affine=shifted, global_search=False
    )
    np.testing.assert_allclose(moved.matrix, by_spacing.matrix, atol=0.02)
    np.testing.assert_allclose(moved.parameters, by_spacing.parameters, atol=1e-3)


def test_result_dict_and_defaults():
    rng = np.random.default_rng(1)
    image = np.pad(rng.random((12, 12)), 10)
    result = mireg.register(image, image, transform="translation", spacing=(2.0, 0.5))
    summary = result.to_dict()
    np.testing.assert_array_equal(summary["reference_affine"], np.diag([2.0, 0.5, 1.0]))
    assert summary["moving_affine"] == summary["reference_affine"]
    assert summary["moving_shape"] == [32, 32]
    assert summary["world_matrix"] == result.world_matrix.tolist()
    np.testing.assert_array_equal(result.physical_matrix, result.world_matrix)
    check_invariant(result)
    # a result built without affines (as register_stack's are) gets the plain ones
    bare = mireg.RegistrationResult(
        matrix=np.eye(3),
        parameters=np.zeros(2),
        kind="translation",
        metric=1.0,
        metric_name="nmi",
        nfev=0,
        spacing=np.array([3.0, 1.0]),
        center=np.zeros(2),
        reference_shape=(5, 6),
    )
    np.testing.assert_array_equal(bare.moving_affine, np.diag([3.0, 1.0, 1.0]))
    assert bare.moving_shape == (5, 6)


def test_register_docstring_examples():
    import doctest

    from mireg import registration

    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(registration.register, "register", globs={}):
        runner.run(test)
    assert runner.failures == 0 and runner.tries >= 10


@pytest.mark.parametrize("ndim", [2, 3])
def test_cost_is_the_same_whatever_the_storage_order(ndim):
    # one scene, the moving image stored plainly or with its axes reversed
    # and the first flipped (and its affine saying so): every statistic of
    # a cost evaluation, G (gradients turned between grid axes) included,
    # must agree, on the serial and the parallel kernel alike
    from registration_helpers import make_level

    shape = (40, 44) if ndim == 2 else (22, 26, 24)
    c = (np.array(shape) - 1) / 2
    scene = blobs(c, np.array(shape, float), seed=7, n=20)
    grid = np.eye(ndim + 1)
    reference = scan(scene, grid, shape)
    moving = remap(scan(scene, grid, shape))
    stored = np.flip(moving.transpose(), axis=0)
    # stored[i, ...] = moving[reversed index]: index i of stored's first axis
    # is the last moving axis, counted down
    perm = np.zeros((ndim + 1, ndim + 1))
    for a in range(ndim):
        perm[ndim - 1 - a, a] = 1.0
    perm[ndim, ndim] = 1.0
    flip = np.eye(ndim + 1)
    flip[0, 0], flip[0, ndim] = -1.0, stored.shape[0] - 1
    stored_affine = perm @ flip
    plain = _world.plain_frame(np.ones(ndim))
    kind = "rigid"
    params = np.zeros(tf.n_parameters(ndim, kind))
    params[: tf.n_rotations(ndim)] = 0.1
    params[tf.translation_slice(ndim, kind)] = 1.5
    stats = []
    for image, frame in ((moving, plain), (stored, _world.frame_from_affine(stored_affine))):
        level = make_level(
            reference,
            image,
            bins=24,
            cubic=True,
            max_samples=0,
            center=c,
            kind=kind,
            frames=(plain, frame),
        )
        assert level.data.oriented == (frame is not plain)
        x, units = np.zeros(params.size), np.ones(params.size)
        serial = np.array(level.stats(x, params, units))
        parallel = np.array(level.stats(x, params, units, n_chunks=2))
        assert serial.tobytes() == parallel.tobytes()
        stats.append(serial)
    np.testing.assert_allclose(stats[1], stats[0], rtol=1e-6)
    assert stats[0][3] > 0 and stats[0][4] > 0.5 * np.prod(shape)
