"""asv benchmarks of ``mireg.register`` on the registration cases, with
SimpleITK as a peer when it is installed.

    ASV_PYTHONPATH=src asv run --python=same --quick --bench Registration  # current env
    asv continuous main HEAD --bench Registration                          # two commits

(asv drops PYTHONPATH; ASV_PYTHONPATH is what it passes on.  SimpleITK is
not in asv.conf.json's matrix: the peer's benchmarks are skipped in asv's
own environments unless it is added there, and run with --python=same in an
environment that has it.)

``time_register`` times one registration; ``track_error`` records its error
(px in 2-D, mm in 3-D) so accuracy regressions show in asv's graphs too.
Cases, runners and the error metric are those of
:mod:`benchmarks.cases.registration` and :mod:`benchmarks.cases.peers`.
"""

from benchmarks.cases import peers
from benchmarks.cases import registration as rc


class Registration:
    """mireg on each case (setup compiles the kernels with one run)."""

    params = list(rc.CASE_NAMES)
    param_names = ["case"]
    number = 1
    repeat = (3, 5, 30.0)
    rounds = 1  # each round is a new process that compiles again
    warmup_time = 0.0
    timeout = 300

    def setup(self, name):
        self.case = rc.get_case(name)
        rc.run_mireg(self.case)  # warm-up: Numba compilation is not timed

    def time_register(self, name):
        rc.run_mireg(self.case)

    def track_error(self, name):
        return self.case.error(rc.run_mireg(self.case))

    track_error.unit = "px (2-D) / mm (3-D)"


class SimpleITKRegistration:
    """SimpleITK with the tutorial settings (see ``peers.SITK_SETTINGS``); its
    error is tracked, not required to be small."""

    params = list(rc.CASE_NAMES)
    param_names = ["case"]
    number = 1
    repeat = (2, 3, 30.0)
    rounds = 1
    warmup_time = 0.0
    timeout = 300

    def setup(self, name):
        if not peers.have_simpleitk():
            raise NotImplementedError("SimpleITK is not installed")
        self.case = rc.get_case(name)

    def _run(self):
        try:
            return peers.run_simpleitk(self.case)
        except RuntimeError:  # SimpleITK gave up: no overlap left
            return None

    def time_register(self, name):
        self._run()

    def track_error(self, name):
        matrix = self._run()
        return float("nan") if matrix is None else self.case.error(matrix)

    track_error.unit = "px (2-D) / mm (3-D)"
