"""The parallel/serial dispatch: one parallel kernel at a time, back-off on a
busy machine, and the same bits on both paths."""

import threading

import numpy as np
import pytest

from mireg import _parallel


@pytest.fixture
def two_threads(monkeypatch):
    monkeypatch.setattr(_parallel.numba, "get_num_threads", lambda: 2)
    monkeypatch.setitem(_parallel._state, "serial_until", 0.0)
    monkeypatch.setitem(_parallel._state, "warm", {None, "k"})
    monkeypatch.setitem(_parallel._state, "backoff", _parallel.BACKOFF_MIN_SECONDS)


def test_small_inputs_run_serial(two_threads):
    with _parallel.parallel_chunks(10, min_size=100) as n:
        assert n == 0
    with _parallel.parallel_chunks(1000, min_size=100) as n:
        assert n == 2


@pytest.fixture
def clock(monkeypatch):
    """The dispatch's run timer, advanced by the test: elapsed times are
    exact whatever the machine's load (a sleep can overrun by milliseconds)."""
    import time
    import types

    now = [0.0]
    fake = types.SimpleNamespace(perf_counter=lambda: now[0], monotonic=time.monotonic)
    monkeypatch.setattr(_parallel, "time", fake)

    def advance(seconds):
        now[0] += seconds

    return advance


def test_slow_parallel_run_backs_off_to_serial(two_threads, clock, monkeypatch):
    with _parallel.parallel_chunks(10**6, serial_seconds=1e-4) as n:
        assert n == 2
        clock(0.002)  # a stall: 20x the serial time
    with _parallel.parallel_chunks(10**6) as n:
        assert n == 0
    monkeypatch.setitem(_parallel._state, "serial_until", 0.0)  # back-off over
    with _parallel.parallel_chunks(10**6, serial_seconds=1e-4) as n:
        assert n == 2
        clock(0.0002)  # slower than serial, as a cold start can be: no stall
    with _parallel.parallel_chunks(10**6) as n:
        assert n == 2  # so no back-off


def test_back_off_grows_while_stalls_repeat_and_resets(two_threads, monkeypatch):
    import time

    def stall():
        with _parallel.parallel_chunks(10**6, serial_seconds=1e-4) as n:
            assert n == 2
            time.sleep(0.002)
        left = _parallel._state["serial_until"] - time.monotonic()
        monkeypatch.setitem(_parallel._state, "serial_until", 0.0)  # skip the wait
        return left

    lo, hi = _parallel.BACKOFF_MIN_SECONDS, _parallel.BACKOFF_MAX_SECONDS
    waits = [stall() for _ in range(7)]
    assert lo * 0.9 < waits[0] <= lo  # a short one first (OpenBLAS spins ~0.1 s)
    assert 1.8 * lo < waits[1] <= 2 * lo and 3.6 * lo < waits[2] <= 4 * lo
    assert hi * 0.9 < waits[-1] <= hi  # capped
    with _parallel.parallel_chunks(10**6, serial_seconds=1e-4) as n:
        assert n == 2  # at its pace: the next stall backs off briefly again
    assert lo * 0.9 < stall() <= lo


def test_first_launch_of_a_kernel_is_not_a_stall(two_threads):
    import time

    with _parallel.parallel_chunks(10**6, serial_seconds=1e-4, kernel="new") as n:
        assert n == 2
        time.sleep(0.002)  # loading the kernel and starting the threads
    with _parallel.parallel_chunks(10**6, kernel="new") as n:
        assert n == 2
    with _parallel.parallel_chunks(10**6, serial_seconds=1e-4, kernel="new") as n:
        time.sleep(0.002)  # now a stall
    with _parallel.parallel_chunks(10**6, kernel="new") as n:
        assert n == 0


def test_run_kernel_picks_serial_or_parallel(two_threads):
    calls = []

    def serial(x, y):
        calls.append(("serial", x.size, y))
        return "s"

    def parallel(x, y, n_chunks):
        calls.append(("parallel", x.size, y, n_chunks))
        return "p"

    x = np.zeros(3)
    assert _parallel.run_kernel(serial, parallel, x, 7, size=10, min_size=100) == "s"
    assert _parallel.run_kernel(serial, parallel, x, 7, size=1000, min_size=100) == "p"
    assert calls == [("serial", 3, 7), ("parallel", 3, 7, 2)]


def test_run_kernel_names_the_kernel_by_its_array_dtypes(two_threads):
    import time

    def serial(x):
        return 0

    def parallel(x, n_chunks):
        time.sleep(0.002)  # 20x the serial time: a stall, once the kernel is warm
        return 1

    x32, x64 = np.zeros(3, np.float32), np.zeros(3)
    run = _parallel.run_kernel
    assert run(serial, parallel, x32, size=10**5, seconds_per_item=1e-9) == 1  # first run
    assert run(serial, parallel, x64, size=10**5, seconds_per_item=1e-9) == 1  # another dtype
    assert run(serial, parallel, x64, size=10**5, seconds_per_item=1e-9) == 1  # a stall
    assert run(serial, parallel, x32, size=10**5, seconds_per_item=1e-9) == 0  # backing off


def test_one_parallel_kernel_at_a_time(two_threads):
    inside, release, seen = threading.Event(), threading.Event(), []

    def hold():
        with _parallel.parallel_chunks(10**6) as n:
            seen.append(n)
            inside.set()
            release.wait(5)

    worker = threading.Thread(target=hold)
    worker.start()
    inside.wait(5)
    with _parallel.parallel_chunks(10**6) as n:
        seen.append(n)
    release.set()
    worker.join()
    assert seen == [2, 0]


@pytest.mark.parametrize("use_gradient", [True, False])  # False: jittered, windowed
def test_registration_cost_same_bits_serial_and_parallel(use_gradient):
    from registration_helpers import make_level
    from skimage import data, transform

    image = transform.resize(data.camera() / 255.0, (150, 150), anti_aliasing=True)
    moving = transform.rotate(image, 12)
    center = (np.array(image.shape) - 1) / 2
    level = make_level(image, moving, cubic=True, center=center, use_gradient=use_gradient)
    x, origin, units = np.array([0.2, 1.5, -0.7]), np.array([0.2, 0, 0]), np.array([0.01, 1, 1])
    serial = level.stats(x, origin, units)
    for n_chunks in (2, 3):
        assert (
            np.array(level.stats(x, origin, units, n_chunks)).tobytes()
            == np.array(serial).tobytes()
        )


def test_side_by_side_runs_every_task_once_in_order(two_threads):
    lock, threads = threading.Lock(), []

    def task(i):
        def run():
            with lock:
                threads.append(threading.get_ident())
            return i * i

        return run

    tasks = [task(i) for i in range(5)]
    assert _parallel.side_by_side(tasks, size=10**6, min_size=100) == [0, 1, 4, 9, 16]
    assert len(threads) == 5
    threads.clear()
    assert _parallel.side_by_side(tasks, size=10, min_size=100) == [0, 1, 4, 9, 16]
    assert set(threads) == {threading.get_ident()}  # small: all in this thread


def test_side_by_side_uses_a_second_thread(two_threads):
    # the first task waits until the second has run: only a second thread
    # can let it finish
    second_ran = threading.Event()

    def first():
        return second_ran.wait(5)

    def second():
        second_ran.set()
        return threading.get_ident()

    done, ident = _parallel.side_by_side([first, second], size=10**6, min_size=100)
    assert done and ident != threading.get_ident()


def test_side_by_side_raises_a_task_error_once_every_thread_is_done(two_threads):
    import time

    caller = threading.get_ident()
    started, finished = threading.Event(), threading.Event()

    def task():
        # the caller's task fails while the other thread's task still runs
        if threading.get_ident() == caller:
            started.wait(5)
            raise ValueError("`x` is wrong")
        started.set()
        time.sleep(0.2)
        finished.set()

    with pytest.raises(ValueError, match="`x` is wrong"):
        _parallel.side_by_side([task, task], size=10**6, min_size=100)
    assert started.is_set() and finished.is_set()  # raised after the other task ended


@pytest.mark.parametrize("shape", [(96, 120), (20, 30, 24)])
@pytest.mark.parametrize("cubic,use_gradient", [(True, True), (True, False), (False, True)])
def test_level_prepared_on_two_threads_has_the_serial_bits(
    two_threads, monkeypatch, shape, cubic, use_gradient
):
    from registration_helpers import make_level

    rng = np.random.default_rng(3)
    image = rng.random(shape)
    moving = np.roll(image, 2, axis=0) ** 2
    shared = []
    run_chunks = _parallel.run_chunks
    monkeypatch.setattr(
        _parallel,
        "run_chunks",
        lambda f, chunks: shared.append(len(chunks)) or run_chunks(f, chunks),
    )
    levels = []
    for min_size in (1, 10**12):  # both cores, then one
        monkeypatch.setattr(_parallel, "PREP_PARALLEL_MIN_SIZE", min_size)
        levels.append(make_level(image, moving, shrink=2, cubic=cubic, use_gradient=use_gradient))
    assert shared == [2, 2]  # the first level: the resized pair, then four steps
    for a, b in zip(levels[0].data, levels[1].data):
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()


@pytest.mark.parametrize("ndim", [2, 3])
def test_register_with_preparation_on_two_threads_has_the_serial_bits(
    two_threads, monkeypatch, ndim
):
    from registration_helpers import make_moving, truth_matrix
    from scipy import ndimage as ndi

    import mireg

    shape = (64, 72) if ndim == 2 else (24, 28, 20)
    params = (0.1, 2.0, -1.5) if ndim == 2 else (0.05, -0.03, 0.04, 1.0, -1.5, 0.5)
    rng = np.random.default_rng(4)
    reference = ndi.gaussian_filter(rng.random(shape), 2.0)
    moving = make_moving(reference, truth_matrix(shape, params, "rigid"))
    results = []
    for min_size in (1, 10**12):  # both cores, then one
        monkeypatch.setattr(_parallel, "PREP_PARALLEL_MIN_SIZE", min_size)
        results.append(mireg.register(reference, moving))
    assert results[0].matrix.tobytes() == results[1].matrix.tobytes()
    assert results[0].metric == results[1].metric
