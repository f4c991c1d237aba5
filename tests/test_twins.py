"""The metric kernels' NumPy twins (``mireg._twins``): the same bits as the
kernels on every input, and run only while a kernel has not compiled."""

import numpy as np
import pytest
from numba import njit
from scipy import ndimage as ndi

import mireg
from mireg import _information, _twins
from mireg._kernels import histogram, ranges
from mireg._kernels.entropy import edge_entropies, entropies
from mireg._validation import kernel_view
from mireg.cli.app import main

DTYPES = [np.float64, np.float32, np.float16, np.uint8, np.int16, np.int64, np.uint64, np.bool_]


def pair(rng, n, dtype, kind):
    a = rng.normal(size=n) * rng.choice([1e-3, 1.0, 1e4])
    b = rng.random(n) * 10.0 + 0.3 * a
    if kind == "grid":  # many values exactly on bin edges
        a, b = np.round(a * 4) / 4, np.round(b * 8) / 8
    elif kind == "constant":
        b[:] = b[0]
    elif kind == "signed zero":
        a[: n // 2] = -0.0
        a[n // 2 :] = 0.0
    if dtype == np.bool_:  # read as uint8, as the metrics pass it on
        return kernel_view(a > 0), kernel_view(b > 5)
    if np.dtype(dtype).kind == "u":
        a = np.abs(a)
    if np.dtype(dtype).kind in "ui":
        a, b = a * 50, b * 50
    return kernel_view(a.astype(dtype)), kernel_view(b.astype(dtype))


def edges(values0, values1, found, bins):
    common = np.result_type(values0, values1)
    return tuple(
        _information.kernel_edges(_information.histogram_edges(lo, hi, common, n))
        for (lo, hi, _), n in zip(found, bins)
    )


CASES = [
    (seed, dtype, kind)
    for seed, dtype in enumerate(DTYPES)
    for kind in ("normal", "grid", "constant", "signed zero")
]


@pytest.mark.parametrize(("seed", "dtype", "kind"), CASES)
def test_twins_are_the_kernels_bit_for_bit(seed, dtype, kind):
    rng = np.random.default_rng(seed)
    for n, bins in ((1, (3, 3)), (37, (2, 7)), (4096, (100, 100)), (3001, (256, 17))):
        a, b = pair(rng, n, dtype, kind)
        found = _twins.value_ranges(a, b)
        # repr: the scalars' types and the sign of a zero too (edges come from them)
        assert repr(found) == repr(ranges.value_ranges(a, b))
        e0, e1 = edges(a, b, found, bins)
        counts = _twins.joint_histogram(a, b, e0, e1)
        kernel = histogram.joint_histogram(a, b, e0, e1)
        np.testing.assert_array_equal(counts, kernel)
        assert counts.dtype == kernel.dtype == np.int64
        assert _twins.edge_entropies(counts, e0, e1, _information.LOG_TABLE) == edge_entropies(
            counts, e0, e1, _information.LOG_TABLE
        )
        widths = [np.diff(e).astype(np.float64) for e in (e0, e1)]
        assert _twins.entropies(counts, *widths, _information.LOG_TABLE) == entropies(
            counts, *widths, _information.LOG_TABLE
        )


def test_twin_entropies_past_the_log_table():
    # counts of 65536 and more take the logarithm, not the table
    rng = np.random.default_rng(7)
    a = np.concatenate([np.zeros(70_000), rng.random(5000)])
    b = np.concatenate([np.ones(70_000), rng.random(5000)])
    found = _twins.value_ranges(a, b)
    e0, e1 = edges(a, b, found, (20, 30))
    counts = _twins.joint_histogram(a, b, e0, e1)
    assert counts.max() >= _information.LOG_TABLE.size
    np.testing.assert_array_equal(histogram.joint_histogram(a, b, e0, e1), counts)
    twin = _twins.edge_entropies(counts, e0, e1, _information.LOG_TABLE)
    assert twin == edge_entropies(counts, e0, e1, _information.LOG_TABLE)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_twin_ranges_flag_non_finite_values(value, dtype):
    a = np.linspace(-1, 1, 50).astype(dtype)
    b = a.copy()
    b[17] = value
    (lo, hi, finite0), (_, _, finite1) = _twins.value_ranges(a, b)
    assert (lo, hi, finite0, finite1) == (-1.0, 1.0, True, False)
    assert ranges.value_ranges(a, b)[1][2] is False


@pytest.mark.parametrize(
    "images",
    [
        lambda rng: (rng.random((64, 48)), rng.random((64, 48)) ** 2),
        lambda rng: (rng.random((20, 30)).astype(np.float32), rng.random((20, 30))),
        lambda rng: (rng.integers(0, 255, (9, 9, 9), dtype=np.uint8), rng.random((9, 9, 9))),
        lambda rng: (rng.random((40, 40)).astype(np.float16), rng.random((40, 40)) > 0.5),
        lambda rng: (rng.random((30, 20)) * 1e-300, rng.random((25, 20)) * 1e300),
    ],
    ids=["float64", "float32-float64", "uint8-3d", "float16-bool", "extreme-padded"],
)
def test_public_metrics_give_the_same_bits_either_way(images, monkeypatch):
    a, b = images(np.random.default_rng(3))

    def results():
        return (
            mireg.normalized_mutual_information(a, b, bins=(30, 12)),
            mireg.mutual_information(a, b),
            mireg.joint_histogram(a, b, bins=17)[0],
        )

    monkeypatch.setattr(_twins, "due", lambda kernel, size: True)
    twins = results()
    monkeypatch.setattr(_twins, "due", lambda kernel, size: False)
    kernels = results()
    assert twins[:2] == kernels[:2]
    np.testing.assert_array_equal(twins[2], kernels[2])


def test_twins_run_only_before_the_kernel_compiles(monkeypatch):
    @njit
    def kernel(x):
        return x + 1

    monkeypatch.setitem(_twins._state, "spent", 0.0)
    assert _twins.due(kernel, 1000)
    assert not _twins.due(kernel, (1 << 20) + 1)  # large inputs compile at once
    with _twins.disabled():
        assert not _twins.due(kernel, 1000)
    assert _twins.due(kernel, 1000)
    monkeypatch.setitem(_twins._state, "spent", 1.0)  # the budget is spent
    assert not _twins.due(kernel, 1000)
    monkeypatch.setitem(_twins._state, "spent", 0.0)
    kernel(1)
    assert not _twins.due(kernel, 1000)


def test_twin_time_is_charged_to_the_budget(monkeypatch):
    monkeypatch.setitem(_twins._state, "spent", 0.0)
    a = np.random.default_rng(0).random(10_000)
    _twins.run(_twins.value_ranges, a, a)
    assert _twins._state["spent"] > 0.0


@pytest.mark.parametrize(
    ("kwargs", "name"), [({"registration": "yes"}, "registration"), ({"progress": 5}, "progress")]
)
def test_warmup_rejects_bad_arguments_by_name(kwargs, name):
    with pytest.raises(TypeError, match=f"`{name}`"):
        mireg.warmup(**kwargs)


def test_warmup_compiles_the_metric_kernels(capsys):
    seconds = mireg.warmup(registration=False)
    assert list(seconds) == ["metrics"] and seconds["metrics"] > 0.0
    for kernel in (ranges.value_ranges, histogram.joint_histogram, edge_entropies):
        assert kernel.signatures
        assert not _twins.due(kernel, 100)
    assert main(["warmup", "--metrics-only", "-q"]) == 0
    assert capsys.readouterr().out.startswith("metrics: ")


FIRST_CALL = """
import numpy as np, mireg
from mireg._kernels import entropy, histogram, ranges
a = np.sin(np.arange(96 * 80.0)).reshape(96, 80)
print(repr(float(mireg.normalized_mutual_information(a, a ** 2 + 0.1 * a))))
kernels = (ranges.value_ranges, histogram.joint_histogram, entropy.edge_entropies)
print(sum(len(k.signatures) for k in kernels))
"""


def test_a_first_call_compiles_nothing_and_gives_the_kernels_bits():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", FIRST_CALL], capture_output=True, text=True, check=True
    )
    value, n_compiled = done.stdout.split()
    a = np.sin(np.arange(96 * 80.0)).reshape(96, 80)
    with _twins.disabled():
        expected = mireg.normalized_mutual_information(a, a**2 + 0.1 * a)
    assert n_compiled == "0"
    assert value == repr(float(expected))


# ---- a registration's twins: scipy's Powell, the levels' preparation --------


def _counted(monkeypatch, module, name, calls):
    kernel = getattr(module, name)

    def counted(*args):
        calls[name] += 1
        return kernel(*args)

    monkeypatch.setattr(module, name, counted)


def _smooth_image(shape, shift):
    yy, xx = np.mgrid[: shape[0], : shape[1]] / shape[0]
    image = np.sin(6 * yy) * np.cos(4 * xx) + 0.5 * (yy > 0.4) + 0.3 * (xx > 0.6)
    return image, np.roll(image, shift, axis=(0, 1)) ** 2


def _registrations():
    from mireg import transforms as tf

    # finest levels above PARALLEL_MIN_SAMPLES: parallel evaluations once compiled
    a, b = _smooth_image((128, 128), (3, -2))
    c, d = _smooth_image((112, 128), (-2, 1))
    mask = np.zeros(c.shape, bool)
    mask[8:-8, 10:-10] = True
    zz, yy, xx = np.mgrid[:34, :34, :34] / 34.0
    volume = np.sin(5 * zz) * np.cos(4 * yy) * np.sin(3 * xx + 0.5) + 0.5 * (zz > 0.5)
    motion = tf.physical_matrix([0.02, -0.03, 0.01, 1.2, -0.7, 0.9], 3, "rigid", (16.5,) * 3)
    moved = ndi.affine_transform(volume, np.linalg.inv(motion), order=3)
    return {
        "2-D rigid": lambda: mireg.register(a, b),
        "2-D affine, masked": lambda: mireg.register(
            c, d, transform="affine", reference_mask=mask
        ),
        # 39304 finest samples: COBYQA refines, on the parallel cost kernel
        "3-D rigid": lambda: mireg.register(volume, moved**2, levels=(2, 1)),
    }


@pytest.mark.parametrize("case", ["2-D rigid", "2-D affine, masked", "3-D rigid"])
def test_registrations_give_the_same_bits_either_way(case, monkeypatch):
    from mireg import _pyramid
    from mireg._kernels import cost, powell, samples

    run = _registrations()[case]
    kernels = [
        (powell, "minimize_each"),
        (cost, "evaluate_parallel"),
        (samples, "fill_table"),
        (samples, "interleaved_gradient"),
        (_pyramid, "smooth_picked"),
    ]
    calls = dict.fromkeys([name for _, name in kernels], 0)
    for module, name in kernels:
        _counted(monkeypatch, module, name, calls)
    monkeypatch.setattr(_twins, "register_due", lambda kernel, size=0: True)
    twin = run()
    assert set(calls.values()) == {0}  # nothing of these to compile
    monkeypatch.setattr(_twins, "register_due", lambda kernel, size=0: False)
    compiled = run()
    # the levels below PARALLEL_MIN_SAMPLES; every level's preparation
    for name in ("minimize_each", "fill_table", "interleaved_gradient", "smooth_picked"):
        assert calls[name] > 0, name
    assert twin.matrix.tobytes() == compiled.matrix.tobytes()
    assert twin.metric == compiled.metric
    assert [r["evaluations"] for r in twin.levels] == [r["evaluations"] for r in compiled.levels]
    assert [r["stage"] for r in twin.levels] == [r["stage"] for r in compiled.levels]


def test_the_registration_twin_runs_only_before_its_kernels_compile(monkeypatch):
    from mireg._config import REGISTER_TWIN_BUDGET_SECONDS

    @njit
    def kernel(x):
        return x + 1

    monkeypatch.setitem(_twins._state, "register", 0.0)
    assert _twins.register_due(kernel)
    assert _twins.register_due(kernel, 1 << 20)
    assert not _twins.register_due(kernel, (1 << 20) + 1)  # large inputs compile at once
    with _twins.disabled():  # mireg.warmup: compile
        assert not _twins.register_due(kernel)
    with _twins.charged(False):
        pass
    assert _twins._state["register"] == 0.0
    with _twins.charged(True):
        kernel.py_func(1)
    assert 0.0 < _twins._state["register"] < REGISTER_TWIN_BUDGET_SECONDS
    assert _twins.register_due(kernel)
    monkeypatch.setitem(_twins._state, "register", REGISTER_TWIN_BUDGET_SECONDS)
    assert not _twins.register_due(kernel)  # the budget is spent
    monkeypatch.setitem(_twins._state, "register", 0.0)
    kernel(1)
    assert not _twins.register_due(kernel)  # compiled in this process


def test_a_small_registration_that_starts_on_the_twins_ends_on_them(monkeypatch):
    import threading

    from mireg._config import REGISTER_TWIN_BUDGET_SECONDS

    @njit
    def kernel(x):
        return x + 1

    spent = REGISTER_TWIN_BUDGET_SECONDS
    monkeypatch.setitem(_twins._state, "register", 0.0)
    with _twins.registration(1000):
        monkeypatch.setitem(_twins._state, "register", spent)  # spent halfway
        assert _twins.register_due(kernel)
        with _twins.registration(1000):  # a registration within it: the outer decides
            assert _twins.register_due(kernel)
        # another thread's registration (register_many) starts past the budget
        seen = []

        def other_registration():
            with _twins.registration(1000):
                seen.append(_twins.register_due(kernel))

        other = threading.Thread(target=other_registration)
        other.start()
        other.join()
        assert seen == [False]
        assert _twins.register_due(kernel)
    assert not _twins.register_due(kernel)  # the next registration compiles
    with _twins.registration(1000):
        assert not _twins.register_due(kernel)
    # a large registration checks the budget at each level
    monkeypatch.setitem(_twins._state, "register", 0.0)
    with _twins.registration((1 << 20) + 1):
        assert _twins.register_due(kernel)
        monkeypatch.setitem(_twins._state, "register", spent)
        assert not _twins.register_due(kernel)


@pytest.mark.parametrize("shape", [(1, 40, 1), (3, 57, 1), (4, 33, 7), (2, 19, 130)])
@pytest.mark.parametrize("sigma", [0.7, 4.0])
@pytest.mark.parametrize("edge", [True, False])
def test_the_pyramids_gaussian_twin_is_the_kernel_bit_for_bit(shape, sigma, edge):
    from mireg._fused import half_kernel
    from mireg._kernels.gaussian import smooth_picked

    src = np.random.default_rng(7).random(shape) * 100.0 - 30.0
    n, half = shape[1], half_kernel(sigma)
    for picks in (
        np.arange(n),  # every sample: vector sweeps along the line
        np.arange(0, n, 2),  # every other: the line, then picks from it
        np.arange(0, n, 7),  # scattered
        np.array([0, 1, 2, n - 1]),  # the ends, folded
        np.r_[3:15, 20 : n - 1],  # two runs
    ):
        out = np.empty((shape[0], picks.size, shape[2]))
        smooth_picked(src, half, picks.astype(np.int64), edge, out)
        twin = _twins.smooth_picked(src, half, picks.astype(np.int64), edge)
        assert twin.tobytes() == out.tobytes()
