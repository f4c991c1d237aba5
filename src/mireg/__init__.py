"""mireg: fast multimodal image registration.

Normalised mutual information (Studholme et al. 1999) combined with gradient
information (Pluim, Maintz & Viergever 2000), on Numba kernels.
"""

from .alignment_metric import AlignmentMetric
from .batch import register_many
from .gradient import alignment, gradient_information, gradient_similarity
from .metrics import joint_histogram, mutual_information, normalized_mutual_information
from .registration import RegistrationResult, RegistrationWarning, register, warp
from .stack import StackResult, register_stack

__version__ = "0.1.0"

__all__ = [
    "gradient_similarity",
    "gradient_information",
    "alignment",
    "AlignmentMetric",
    "joint_histogram",
    "mutual_information",
    "normalized_mutual_information",
    "register",
    "warp",
    "RegistrationResult",
    "RegistrationWarning",
    "register_many",
    "register_stack",
    "StackResult",
]
