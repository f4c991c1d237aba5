"""mireg: fast multimodal image registration.

Normalised mutual information (Studholme et al. 1999) combined with gradient
information (Pluim, Maintz & Viergever 2000), on Numba kernels.

The public names are imported on first use (PEP 562): ``import mireg`` and a
first ``mireg.normalized_mutual_information`` load the metric modules only,
not scipy's optimisers, scikit-image or the registration machinery.
"""

import importlib
import importlib.util

__version__ = "0.1.0"

# public name -> the module that defines it
_HOMES = {
    "gradient_similarity": "gradient",
    "gradient_information": "gradient",
    "alignment": "gradient",
    "AlignmentMetric": "alignment_metric",
    "joint_histogram": "metrics",
    "mutual_information": "metrics",
    "normalized_mutual_information": "metrics",
    "register": "registration",
    "warp": "registration",
    "RegistrationResult": "registration",
    "RegistrationWarning": "registration",
    "register_many": "batch",
    "register_stack": "stack",
    "StackResult": "stack",
    "motion_parameters": "motion",
    "framewise_displacement": "motion",
    "save_transform": "transform_files",
    "load_transform": "transform_files",
    "LoadedTransform": "transform_files",
    "warmup": "first_use",
}

__all__ = list(_HOMES)


def __getattr__(name):
    home = _HOMES.get(name)
    if home is None:
        # a public submodule (mireg.transforms, mireg.reference, ...), as
        # when the package imported them all
        if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}"):
            return importlib.import_module(f".{name}", __name__)
        raise AttributeError(f"module 'mireg' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
