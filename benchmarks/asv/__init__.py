"""asv benchmarks (``benchmark_dir`` of ``asv.conf.json``).

asv imports this folder as a top-level package under its own name, not as
``benchmarks.asv``, so the shared cases (:mod:`benchmarks.cases`) are
reached from the repository root, put on ``sys.path`` here.
"""

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
