import numpy as np
import pytest

# The order pytest-xdist hands test files to its workers (``--dist loadfile
# --no-loadscope-reorder``): a cold run is mostly Numba compiling, so the
# longest file first, and the files that compile the registration kernels
# (Powell, the sample loop) after one another on the other worker, rather
# than both workers compiling them at once.  Files not listed come last.
FILE_ORDER = [
    "test_gradient.py",
    "test_twins.py",
    "test_metrics.py",
    "test_trust.py",
    "test_levels.py",
    "test_cli.py",
    "test_batch.py",
    "test_registration.py",
    "test_smooth.py",
    "test_world.py",
]


def pytest_collection_modifyitems(items):
    rank = {name: k for k, name in enumerate(FILE_ORDER)}
    items.sort(key=lambda item: rank.get(item.path.name, len(FILE_ORDER)))  # stable


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
