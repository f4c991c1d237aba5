"""asv benchmarks of the metrics: mireg against scikit-image, the reference,
NumPy and fast-histogram.

    ASV_PYTHONPATH=src asv run --python=same --quick --bench nmi  # current env
    asv continuous main HEAD --bench metrics                      # two commits

(asv drops PYTHONPATH; ASV_PYTHONPATH is what it passes on.)

Images, implementations and result checks are those of the pytest-benchmark
suite and the report script (:mod:`benchmarks.cases.metrics`).
"""

import numpy as np

from benchmarks.cases.metrics import (
    BINS,
    CASES,
    JOINT_HISTOGRAM_IMPLEMENTATIONS,
    NMI_IMPLEMENTATIONS,
    NMI_RTOL,
    check_joint_histogram,
    image_pair,
    mireg_joint_histogram,
    mireg_nmi,
)

# "512^2-float32" -> ((512, 512), "float32")
_CASES = {f"{size}-{dtype}": (shape, dtype) for size, shape, dtype in CASES}


class NormalizedMutualInformation:
    """``time_nmi``: one NMI of two 'modalities' of a scene."""

    params = (list(_CASES), list(NMI_IMPLEMENTATIONS))
    param_names = ("size", "implementation")
    timeout = 120  # the reference at 2048^2 takes ~0.25 s a call

    def setup(self, size, implementation):
        shape, dtype = _CASES[size]
        self.image0, self.image1 = image_pair(shape, dtype)
        self.nmi = NMI_IMPLEMENTATIONS[implementation]
        # compiles mireg's kernels, and fails setup if an implementation is broken
        np.testing.assert_allclose(
            self.nmi(self.image0, self.image1, bins=BINS),
            mireg_nmi(shape, dtype),
            rtol=NMI_RTOL[implementation],
        )

    def time_nmi(self, size, implementation):
        self.nmi(self.image0, self.image1, bins=BINS)


class JointHistogram:
    """``time_joint_histogram``: the counts alone, without the entropies."""

    params = (["512^2-float64", "2048^2-float64"], list(JOINT_HISTOGRAM_IMPLEMENTATIONS))
    param_names = ("size", "implementation")
    timeout = 120

    def setup(self, size, implementation):
        self.image0, self.image1 = image_pair(*_CASES[size])
        self.histogram = JOINT_HISTOGRAM_IMPLEMENTATIONS[implementation]
        # compiles mireg's kernels, and fails setup if an implementation is broken
        expected = mireg_joint_histogram(self.image0, self.image1)
        check_joint_histogram(
            implementation,
            self.histogram(self.image0, self.image1),
            expected,
            self.image0,
            self.image1,
        )

    def time_joint_histogram(self, size, implementation):
        self.histogram(self.image0, self.image1)
