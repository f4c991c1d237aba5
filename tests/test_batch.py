"""register_many / register_stack / mireg batch: threads and a real dask
cluster give the serial bits in input order, failures stay in their slot,
stacks chain, and the batch command resumes."""

import csv
import json
import os
import sys
import threading
import time

import numpy as np
import pytest
from cli_helpers import run_in_process
from registration_helpers import make_moving, mean_error, truth_matrix
from skimage import color, data, transform

import mireg
from mireg.batch import register_many
from mireg.cli.batch import run_manifest
from mireg.cli.manifest import read_manifest
from mireg.stack import StackResult, register_stack

SIZE = (128, 128)


def same_bits(a, b):
    return (
        np.array_equal(a.parameters, b.parameters)
        and np.array_equal(a.matrix, b.matrix)
        and np.array_equal(a.metric, b.metric, equal_nan=True)
        and a.nfev == b.nfev
    )


@pytest.fixture(scope="module")
def images():
    gray = {
        "camera": data.camera(),
        "moon": data.moon(),
        "coins": data.coins(),
        "astronaut": color.rgb2gray(data.astronaut()) * 255,
    }
    return {k: transform.resize(v / 255.0, SIZE, anti_aliasing=True) for k, v in gray.items()}


@pytest.fixture(scope="module")
def cases(images):
    """8 pairs of known rigid motion; camera (one object) is the reference of 4."""
    rng = np.random.default_rng(6)
    names = ["camera", "moon", "camera", "coins", "camera", "astronaut", "camera", "moon"]
    out = []
    for name in names:
        params = (np.deg2rad(rng.uniform(-15, 15)),) + tuple(rng.uniform(-6, 6, 2))
        truth = truth_matrix(SIZE, params, "rigid")
        out.append((images[name], make_moving(images[name], truth), truth))
    return out


@pytest.fixture(scope="module")
def serial(cases):
    return [mireg.register(ref, mov) for ref, mov, _ in cases]


# ---- register_many, threads -------------------------------------------------


def test_threads_give_the_serial_bits_in_input_order(cases, serial):
    pairs = ((ref, mov) for ref, mov, _ in cases)  # any iterable, consumed lazily
    threaded = register_many(pairs, n_jobs=2)
    assert len(threaded) == len(cases)
    assert all(same_bits(a, b) for a, b in zip(threaded, serial))
    for result, (_, _, truth) in zip(threaded, cases):
        assert mean_error(result.matrix, truth, SIZE) < 0.1


def test_one_job_runs_serially_in_this_thread(cases, serial):
    seen = []
    results = register_many(
        [c[:2] for c in cases[:2]],
        n_jobs=1,
        callback=lambda *a: seen.append(threading.get_ident()),
    )
    assert all(same_bits(a, b) for a, b in zip(results, serial))
    assert set(seen) == {threading.get_ident()}


def test_pool_threads_run_serial_kernels(cases):
    import numba

    seen = []
    register_many(
        [c[:2] for c in cases[:2]],
        n_jobs=2,
        callback=lambda *a: seen.append(numba.get_num_threads()),
    )
    assert set(seen) == {1}  # one core per thread: no oversubscription


def test_per_pair_options_override(cases):
    ref, mov, _ = cases[1]
    results = register_many(
        [(ref, mov), (ref, mov, {"transform": "translation"})], n_jobs=2, transform="rigid"
    )
    assert [r.kind for r in results] == ["rigid", "translation"]


def test_errors_return_keeps_every_good_result(cases, serial):
    pairs = [c[:2] for c in cases[:5]]
    pairs[1] = (pairs[1][0], np.full(SIZE, np.nan))  # NaN image
    pairs[3] = (pairs[3][0], np.zeros((8, 8, 8)))  # 3-D against 2-D
    results = register_many(pairs, n_jobs=2, errors="return", progress=True)
    assert isinstance(results[1], ValueError) and "NaN" in str(results[1])
    assert isinstance(results[3], ValueError) and "moving_image" in str(results[3])
    for i in (0, 2, 4):
        assert same_bits(results[i], serial[i])


def test_errors_raise_names_the_pair(cases):
    pairs = [c[:2] for c in cases[:3]]
    pairs[2] = (pairs[2][0], np.full(SIZE, np.nan))
    with pytest.raises(ValueError, match="NaN") as info:
        register_many(pairs, n_jobs=2)
    if sys.version_info >= (3, 11):
        assert "pairs[2]" in "".join(info.value.__notes__)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"errors": "ignore"}, ValueError, "`errors`"),
        ({"n_jobs": 0}, ValueError, "`n_jobs`"),
        ({"n_jobs": True}, ValueError, "`n_jobs`"),
        ({"n_jobs": 2.0}, ValueError, "`n_jobs`"),
        ({"n_jobs": 2, "client": object()}, ValueError, "not both"),
        ({"bogus": 1}, TypeError, "bogus"),
        ({"transform": "bspline"}, ValueError, "`transform`"),
    ],
)
def test_arguments_checked_up_front(kwargs, error, match):
    with pytest.raises(error, match=match):
        register_many([(np.zeros(SIZE), np.zeros(SIZE))], **kwargs)


@pytest.mark.parametrize("item", [np.zeros(SIZE), (np.zeros(SIZE),), (1, 2, 3)])
def test_malformed_pair_raises(item):
    with pytest.raises(TypeError, match=r"`pairs\[0\]`"):
        register_many([item], n_jobs=2, errors="return")


def test_results_pickle(serial):
    import pickle

    again = pickle.loads(pickle.dumps(serial[0]))
    assert same_bits(again, serial[0])
    assert json.dumps(again.to_dict()) == json.dumps(serial[0].to_dict())  # NaN != NaN


# ---- register_stack ---------------------------------------------------------


@pytest.fixture(scope="module")
def drift(images):
    """Frames of camera drifting by a small rigid step per frame, and each
    frame's truth (frame 0 grid -> frame i)."""
    truths = [np.eye(3)]
    for _ in range(4):
        truths.append(truth_matrix(SIZE, (np.deg2rad(2.0), 1.5, -1.0), "rigid") @ truths[-1])
    frames = np.stack([make_moving(images["camera"], t) for t in truths])
    return frames, truths


@pytest.fixture(scope="module")
def stack_first(drift):
    return register_stack(drift[0], reference="first", n_jobs=2)


def test_stack_first(drift, stack_first):
    frames, truths = drift
    assert isinstance(stack_first, StackResult) and len(stack_first) == 5
    assert stack_first.reference == 0
    np.testing.assert_array_equal(stack_first[0].matrix, np.eye(3))
    assert np.isnan(stack_first[0].metric) and stack_first[0].nfev == 0
    for result, truth in zip(stack_first, truths):
        assert mean_error(result.matrix, truth, SIZE) < 0.1
    aligned = stack_first.warp(frames)
    assert aligned.shape == frames.shape
    inner = (slice(30, -30),) * 2
    assert np.abs(aligned[-1][inner] - frames[0][inner]).mean() < 0.01


def test_stack_warp_on_threads_gives_the_same_values(drift, stack_first):
    frames = drift[0]
    np.testing.assert_array_equal(
        stack_first.warp(frames, n_jobs=2), stack_first.warp(frames, n_jobs=1)
    )
    with pytest.raises(ValueError, match="`n_jobs`"):
        stack_first.warp(frames, n_jobs=0)


def test_stack_index(drift):
    frames, truths = drift
    result = register_stack(list(frames), reference=-3, n_jobs=2)  # frame 2
    assert result.reference == 2
    np.testing.assert_array_equal(result[2].matrix, np.eye(3))
    for i, truth in enumerate(truths):
        assert mean_error(result[i].matrix, truth @ np.linalg.inv(truths[2]), SIZE) < 0.1


def test_stack_previous_chains_like_direct(drift, stack_first):
    frames, truths = drift
    chained = register_stack(frames, reference="previous", n_jobs=2)
    assert chained.reference == "previous" and len(chained.pairwise) == 5
    step = truths[1]
    product = np.eye(3)
    for i in range(1, 5):
        assert mean_error(chained.pairwise[i].matrix, step, SIZE) < 0.1
        # composition order: the newest link on the left
        product = chained.pairwise[i].matrix @ product
        np.testing.assert_allclose(chained[i].matrix, product, rtol=0, atol=1e-12)
        # the chain agrees with registering straight to frame 0
        assert mean_error(chained[i].matrix, stack_first[i].matrix, SIZE) < 0.2
        # its parameters describe its matrix
        np.testing.assert_allclose(chained[i].physical_matrix, chained[i].matrix, atol=1e-9)
    np.testing.assert_allclose(np.rad2deg(chained[4].parameters[0]), 8.0, atol=0.1)


def test_stack_mean(drift):
    frames, truths = drift
    result = register_stack(frames, reference="mean", n_jobs=2)
    assert result.template.shape == SIZE and result.reference == "mean"
    # the mean frame's grid is unknown; motions between frames are not
    for i in range(1, 5):
        relative = result[i].matrix @ np.linalg.inv(result[0].matrix)
        assert mean_error(relative, truths[i], SIZE) < 0.1


def test_stack_broken_chain_with_errors_return(drift):
    frames = list(drift[0][:4])
    frames[2] = np.full(SIZE, np.nan)
    result = register_stack(frames, reference="previous", n_jobs=2, errors="return")
    assert isinstance(result[1], mireg.RegistrationResult)
    assert result.failed == [2, 3]
    assert isinstance(result[3], ValueError) and "frame 2" in str(result[3])
    assert "NaN" in str(result[3].__cause__)
    assert np.isnan(result.matrices[3]).all() and not np.isnan(result.matrices[1]).any()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"reference": "last"}, "`reference`"),
        ({"reference": 7}, "out of range"),
        ({"reference": True}, "`reference`"),
    ],
)
def test_stack_arguments(drift, kwargs, match):
    with pytest.raises(ValueError, match=match):
        register_stack(drift[0], **kwargs)


@pytest.fixture(scope="module")
def jolted(images):
    """Six frames of camera under small rigid motions, frame 4 jolted by 60
    degrees and 25 px (beyond the local search's reach), and the truths."""
    steps = [(0, 0, 0), (1.0, 1.0, -0.5), (-0.8, -1.2, 0.7), (0.5, 0.4, 1.1)]
    steps += [(60.0, 20.0, -15.0), (-1.2, 0.8, 0.3)]
    truths = [truth_matrix(SIZE, (np.deg2rad(a), s0, s1), "rigid") for a, s0, s1 in steps]
    frames = np.stack([make_moving(images["camera"], t) for t in truths])
    return frames, truths


@pytest.fixture(scope="module")
def jolted_local(jolted):
    return register_stack(jolted[0], search="local", n_jobs=2)


def test_stack_local_search_recovers_small_motion_but_not_a_jolt(jolted, jolted_local):
    frames, truths = jolted
    errors = [mean_error(r.matrix, t, SIZE) for r, t in zip(jolted_local, truths)]
    assert max(errors[:4] + errors[5:]) < 0.1
    assert errors[4] > 5.0  # lost: what "auto" must catch
    # no global search ran: every level is a Powell level
    assert all(rec["stage"] == "powell" for r in jolted_local[1:] for rec in r.levels)


def test_stack_local_search_samples_the_coarse_levels_sparsely(jolted, monkeypatch):
    import mireg.stack as stack_module

    monkeypatch.setattr(stack_module, "LOCAL_COARSE_SAMPLES", 300)
    frames, truths = jolted
    result = register_stack(frames[:3], search="local", n_jobs=2)
    finest = mireg.register(frames[0], frames[1], global_search=False).levels[-1]["samples"]
    for r, t in zip(result[1:], truths[1:3]):
        samples = [rec["samples"] for rec in r.levels]
        assert len(samples) >= 2 and max(samples[:-1]) <= 300 and samples[-1] == finest
        assert mean_error(r.matrix, t, SIZE) < 0.1
    # the user's max_samples wins: every pixel of every level
    every = register_stack(frames[:2], search="local", max_samples=0, n_jobs=1)
    assert all(rec["samples"] == np.prod(rec["shape"]) for rec in every[1].levels)


def test_stack_auto_search_catches_the_jolt(jolted, jolted_local):
    frames, truths = jolted
    result = register_stack(frames, search="auto", n_jobs=2)
    for i, (r, t) in enumerate(zip(result, truths)):
        assert mean_error(r.matrix, t, SIZE) < 0.1, i
    # only the doubtful frame was searched again; the others kept their local answers
    searched = [
        i for i, r in enumerate(result) if any(rec["stage"] == "search" for rec in r.levels)
    ]
    assert searched == [4]
    for i in (1, 2, 3, 5):
        assert same_bits(result[i], jolted_local[i])


def test_stack_auto_search_retries_a_failed_frame_globally(jolted, jolted_local, monkeypatch):
    import mireg.stack as stack_module

    calls = []
    real = stack_module.register_many

    def flaky(pairs, **kwargs):
        # the local pass (no global search) fails on frame 1's pair
        calls.append(kwargs.get("global_search"))
        results = real(pairs, **kwargs)
        if kwargs.get("global_search") is False:
            results[0] = ValueError("lost")
        return results

    monkeypatch.setattr(stack_module, "register_many", flaky)
    frames, truths = jolted
    result = register_stack(frames, search="auto", n_jobs=2)  # errors="raise"
    assert calls == [False, None]
    for i in (1, 4):  # the failed frame and the jolted one: searched globally
        assert any(rec["stage"] == "search" for rec in result[i].levels)
        assert mean_error(result[i].matrix, truths[i], SIZE) < 0.1
    assert same_bits(result[2], jolted_local[2])


def test_stack_auto_search_of_few_frames_is_global(drift):
    frames = drift[0][:3]
    auto = register_stack(frames, search="auto", n_jobs=2)
    full = register_stack(frames, n_jobs=2)
    assert all(same_bits(a, b) for a, b in zip(auto[1:], full[1:]))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"search": "fast"}, "`search`"),
        ({"search": "local", "global_search": True}, "global_search"),
    ],
)
def test_stack_search_arguments(drift, kwargs, match):
    with pytest.raises(ValueError, match=match):
        register_stack(drift[0], **kwargs)


def test_stack_mean_needs_one_shape():
    with pytest.raises(ValueError, match="one shape"):
        register_stack([np.ones((16, 16)), np.ones((16, 20))], reference="mean")


# ---- dask ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def client():
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
    ) as cluster:
        with Client(cluster) as dask_client:
            yield dask_client


def _scattered_since(client, since):
    """Distinct arrays sent to the cluster (``ndarray-...`` keys) after
    ``since``, once the scheduler has let go of them all."""

    def held(dask_scheduler):
        return sum(str(k).startswith("ndarray-") for k in dask_scheduler.tasks)

    def scattered(dask_scheduler, since=since):
        return len(
            {
                t.key
                for t in dask_scheduler.transition_log
                if str(t.key).startswith("ndarray-") and t.timestamp >= since
            }
        )

    deadline = time.monotonic() + 10
    while client.run_on_scheduler(held) and time.monotonic() < deadline:
        time.sleep(0.05)
    return client.run_on_scheduler(scattered)


def test_dask_gives_the_serial_bits_scattering_each_array_once(client, cases, serial):
    pairs = [c[:2] for c in cases]
    since = time.time()
    results = register_many(pairs, client=client)
    assert all(same_bits(a, b) for a, b in zip(results, serial))
    # 4 reference objects (camera in 4 pairs, moon in 2) and 8 moving images
    assert len({id(p[0]) for p in pairs}) == 4
    assert _scattered_since(client, since) == 4 + len(pairs)


def test_dask_errors_return(client, cases, serial):
    pairs = [c[:2] for c in cases[:3]]
    pairs[1] = (pairs[1][0], np.full(SIZE, np.nan))
    results = register_many(pairs, client=client, errors="return")
    assert isinstance(results[1], ValueError)
    assert same_bits(results[0], serial[0]) and same_bits(results[2], serial[2])
    with pytest.raises(ValueError, match="NaN"):
        register_many(pairs, client=client)


def test_dask_stack_matches_threads(client, drift, stack_first):
    result = register_stack(drift[0], reference="first", client=client)
    assert all(same_bits(a, b) for a, b in zip(result, stack_first))


# ---- mireg batch --------------------------------------------------------------


def _run_cli(*args, cwd):
    """``mireg batch ARGS`` in this process, in the folder ``cwd``."""
    from mireg.cli.batch import main

    return run_in_process(main, args, cwd=cwd)


def _read_csv(path):
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.fixture
def png_manifest(tmp_path, cases):
    iio = pytest.importorskip("imageio.v3")
    (tmp_path / "in").mkdir()
    ref, _, _ = cases[0]
    iio.imwrite(tmp_path / "in" / "ref.png", np.round(ref * 255).astype(np.uint8))
    truths = {}
    lines = ["reference,moving,output"]
    for name, params in (("a", (0.1, 3.0, -2.0)), ("b", (-0.15, -4.0, 1.0))):
        truths[name] = truth_matrix(SIZE, params, "rigid")
        moving = np.clip(make_moving(ref, truths[name]), 0, 1)
        iio.imwrite(tmp_path / "in" / f"{name}.png", np.round(moving * 255).astype(np.uint8))
        lines.append(f"in/ref.png,in/{name}.png,")
    lines.append("in/ref.png,in/missing.png,missing_out.png")
    (tmp_path / "manifest.csv").write_text("\n".join(lines) + "\n")
    return tmp_path, truths


def test_batch_cli_writes_results_and_resumes(png_manifest):
    tmp_path, truths = png_manifest
    first = _run_cli("manifest.csv", "--out", "out", "--jobs", "2", cwd=tmp_path)
    assert first.returncode == 1, first.stderr
    rows = _read_csv(tmp_path / "out" / "results.csv")
    assert [r["moving"] for r in rows] == ["in/a.png", "in/b.png", "in/missing.png"]
    assert [r["status"] for r in rows] == ["ok", "ok", "error"]
    assert "missing.png" in rows[2]["error"] and "missing.png" in first.stderr
    for row, name in zip(rows, "ab"):
        assert row["output"] == f"{name}_registered.png"
        matrix = np.array(json.loads(row["matrix"]))
        assert mean_error(matrix, truths[name], SIZE) < 0.3
        assert (tmp_path / "out" / row["output"]).exists()
    assert "mireg batch [" in first.stderr  # the progress bar
    stamps = {r["output"]: os.stat(tmp_path / "out" / r["output"]).st_mtime_ns for r in rows[:2]}

    # the missing file appears: a re-run does that row only
    (tmp_path / "in" / "missing.png").write_bytes((tmp_path / "in" / "a.png").read_bytes())
    second = _run_cli("manifest.csv", "--out", "out", "-q", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "3 of 3 pairs registered (2 by an earlier run)" in second.stdout
    rows = _read_csv(tmp_path / "out" / "results.csv")
    assert [r["status"] for r in rows] == ["ok", "ok", "ok"]
    for output, stamp in stamps.items():
        assert os.stat(tmp_path / "out" / output).st_mtime_ns == stamp


def test_batch_cli_on_a_dask_scheduler(png_manifest, client):
    tmp_path, _ = png_manifest
    address = client.scheduler.address
    run = _run_cli("manifest.csv", "--out", "out", "--scheduler", address, "-q", cwd=tmp_path)
    assert run.returncode == 1, run.stderr
    rows = _read_csv(tmp_path / "out" / "results.csv")
    assert [r["status"] for r in rows] == ["ok", "ok", "error"]


@pytest.mark.parametrize(
    "args,match",
    [
        (("nowhere.csv", "--out", "out"), "nowhere.csv"),
        (("manifest.csv", "--out", "out", "--jobs", "0"), "--jobs"),
        (("manifest.csv", "--out", "out", "--jobs", "2", "--scheduler", "x"), "not allowed"),
    ],
)
def test_batch_cli_user_errors(png_manifest, args, match):
    run = _run_cli(*args, cwd=png_manifest[0])
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1 and match in run.stderr


def test_bad_manifest_is_a_user_error(tmp_path):
    (tmp_path / "m.csv").write_text("ref,mov\na.png,b.png\n")
    with pytest.raises(ValueError, match="columns reference,moving"):
        run_manifest(tmp_path / "m.csv", tmp_path / "out")


@pytest.mark.parametrize(
    "output", ["../../x.png", "../x.png", "sub/../../x.png", "/tmp/x.png", ".", "sub/.."]
)
def test_manifest_refuses_outputs_outside_the_output_folder(tmp_path, output):
    (tmp_path / "m.csv").write_text(f"reference,moving,output\na.png,b.png,{output}\n")
    with pytest.raises(ValueError, match="line 2: output .* not a file inside the output folder"):
        read_manifest(tmp_path / "m.csv", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_manifest_accepts_outputs_in_subfolders(tmp_path):
    (tmp_path / "m.csv").write_text("reference,moving,output\na.png,b.png,sub/./c/../x.png\n")
    (row,) = read_manifest(tmp_path / "m.csv", tmp_path / "out")
    assert row.output_path == str(tmp_path / "out" / "sub" / "x.png")


@pytest.mark.parametrize(
    "text,match",
    [
        ("reference,moving,output,spacing\na.png,b.png,c.png,2\n", r"unknown column.*spacing"),
        ("reference,moving,ouptut\na.png,b.png,c.png\n", r"unknown column.*ouptut"),
        ("reference,moving,moving\na.png,b.png,c.png\n", "more than once"),
        ("reference,moving,output\na.png,b.png,c.png,d.png\n", "line 2: 1 value.*beyond"),
    ],
)
def test_manifest_refuses_unknown_columns(tmp_path, text, match):
    (tmp_path / "m.csv").write_text(text)
    with pytest.raises(ValueError, match=match):
        read_manifest(tmp_path / "m.csv", tmp_path / "out")


def test_batch_cli_refuses_an_escaping_output(tmp_path):
    (tmp_path / "m.csv").write_text("reference,moving,output\na.png,b.png,../../x.png\n")
    run = _run_cli("m.csv", "--out", "out", cwd=tmp_path)
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1 and "../../x.png" in run.stderr
