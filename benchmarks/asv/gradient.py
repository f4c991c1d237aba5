"""asv benchmarks of gradient information, alignment and gradient similarity:
mireg against mireg.reference, and mireg's AlignmentMetric.

    ASV_PYTHONPATH=src asv run --python=same --quick --bench Gradient  # current env
    asv continuous main HEAD --bench gradient                          # two commits

Images, functions and result checks are those of the pytest-benchmark
suite and the report script (:mod:`benchmarks.cases.gradient`).
"""

import mireg
from benchmarks.cases.gradient import (
    BINS,
    CASES,
    FUNCTIONS,
    IMPLEMENTATIONS,
    SIGMA,
    check,
    image_pair,
    mireg_result,
)

# "512^2-float32" -> ((512, 512), "float32")
_CASES = {f"{size}-{dtype}": (shape, dtype) for size, shape, dtype in CASES}


class _Function:
    function = None
    params = (list(_CASES), list(IMPLEMENTATIONS))
    param_names = ("size", "implementation")
    timeout = 300  # the reference at 2048^2 takes ~1 s a call

    def setup(self, size, implementation):
        shape, dtype = _CASES[size]
        self.image0, self.image1 = image_pair(shape, dtype)
        self.module = IMPLEMENTATIONS[implementation]
        self.run = FUNCTIONS[self.function]
        # compiles mireg's kernels, and fails setup if an implementation is broken
        mireg_result(self.function, shape, dtype)
        if implementation == "mireg":
            check(self.function, self.run(self.module, self.image0, self.image1), shape, dtype)


class GradientInformation(_Function):
    """``time_gradient_information``: Pluim's G of two modalities."""

    function = "gradient_information"

    def time_gradient_information(self, size, implementation):
        self.run(self.module, self.image0, self.image1)


class Alignment(_Function):
    """``time_alignment``: NMI times G."""

    function = "alignment"

    def time_alignment(self, size, implementation):
        self.run(self.module, self.image0, self.image1)


class GradientSimilarity(_Function):
    """``time_gradient_similarity``: the per-pixel map."""

    function = "gradient_similarity"

    def time_gradient_similarity(self, size, implementation):
        self.run(self.module, self.image0, self.image1)


class AlignmentMetricCall:
    """``time_call``: one evaluation against a precomputed reference."""

    params = [list(_CASES)]
    param_names = ["size"]

    def setup(self, size):
        shape, dtype = _CASES[size]
        self.image0, self.image1 = image_pair(shape, dtype)
        self.metric = mireg.AlignmentMetric(self.image0, sigma=SIGMA, bins=BINS)
        check("alignment", self.metric(self.image1), shape, dtype)

    def time_call(self, size):
        self.metric(self.image1)
