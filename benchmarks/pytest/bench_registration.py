"""pytest-benchmark suite: ``mireg.register`` against SimpleITK (and dipy,
if installed) on every registration case, and against the reference
implementation on its own experiment (``astronaut-rot40``); one benchmark
group per case.

Run with::

    PYTHONPATH=src python -m pytest benchmarks/pytest/bench_registration.py \
        --benchmark-enable -q

(pyproject's ``addopts`` disables benchmarks by default.)  Cases, runners
and the error metric come from :mod:`benchmarks.cases.registration` and
:mod:`benchmarks.cases.peers`.  mireg's benchmarks assert the error bound
they report (< 0.05 px on astronaut-rot40, < 0.1 px in 2-D, < 0.2 mm in
3-D), so none can silently time a broken result; the peers' errors are
recorded in ``extra_info`` (``--benchmark-json`` keeps them), not
asserted.  Timings: mireg 3 rounds after an untimed warm-up (Numba
compilation), peers 2 rounds, the reference 1; compare the minimum.
Takes ~2 minutes (dipy's 3-D run is ~20 s a round).
"""

from __future__ import annotations

import math

import pytest

from ..cases import peers
from ..cases import registration as rc

MIREG_ROUNDS, PEER_ROUNDS = 3, 2


def _record(benchmark, case, matrix):
    """Store the error (or a failure) in extra_info; return the error."""
    error = math.inf if matrix is None else case.error(matrix)
    benchmark.extra_info["case"] = case.name
    benchmark.extra_info["unit"] = case.unit
    benchmark.extra_info["error"] = error if math.isfinite(error) else "failed"
    return error


@pytest.mark.parametrize("name", rc.CASE_NAMES)
def test_mireg(benchmark, name):
    case = rc.get_case(name)
    rc.run_mireg(case)  # warm-up: compile outside the timing
    benchmark.group = f"register-{name}"
    matrix = benchmark.pedantic(rc.run_mireg, args=(case,), rounds=MIREG_ROUNDS, iterations=1)
    error, bound = _record(benchmark, case, matrix), case.bound
    benchmark.extra_info["bound"] = bound
    assert error < bound, f"{name}: mireg error {error:.4g} {case.unit} (bound {bound})"


def _peer(run):
    """A peer runner that returns None instead of raising when the peer gives
    up (e.g. SimpleITK's "All samples map outside moving image buffer")."""

    def wrapped(case):
        try:
            return run(case)
        except RuntimeError:
            return None

    return wrapped


@pytest.mark.parametrize("name", rc.CASE_NAMES)
@pytest.mark.filterwarnings("ignore")
def test_simpleitk(benchmark, name):
    pytest.importorskip("SimpleITK", reason="SimpleITK peer: pip install 'mireg[bench]'")
    case = rc.get_case(name)
    benchmark.group = f"register-{name}"
    matrix = benchmark.pedantic(
        _peer(peers.run_simpleitk), args=(case,), rounds=PEER_ROUNDS, iterations=1
    )
    _record(benchmark, case, matrix)  # recorded, not asserted


@pytest.mark.parametrize("name", rc.CASE_NAMES)
@pytest.mark.filterwarnings("ignore")
def test_dipy(benchmark, name):
    pytest.importorskip("dipy.align.imaffine", reason="optional dipy peer")
    case = rc.get_case(name)
    benchmark.group = f"register-{name}"
    matrix = benchmark.pedantic(
        _peer(peers.run_dipy), args=(case,), rounds=PEER_ROUNDS, iterations=1
    )
    _record(benchmark, case, matrix)  # recorded, not asserted


def test_reference_astronaut(benchmark):
    """The reference implementation's pyramid + Powell (~5 s): the baseline
    of mireg's speed-up on its experiment (the goal: >= 100x at <= 0.05 px)."""
    case = rc.get_case("astronaut-rot40")
    benchmark.group = "register-astronaut-rot40"
    matrix = benchmark.pedantic(rc.run_reference, args=(case,), rounds=1, iterations=1)
    _record(benchmark, case, matrix)  # recorded, not asserted


def test_peer_conversions():
    """The peers' matrices are converted right (checked against their own
    resamplers and on cases they solve), so their recorded errors mean
    what they say.  Not a benchmark; runs with or without --benchmark-enable."""
    if not peers.PEERS:
        pytest.skip("no peer installed")
    peers.check_conversions()
