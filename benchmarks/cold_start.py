"""``python benchmarks/cold_start.py``: the first-use figures of issue 13
(cold and warm Numba cache: NMI, alignment, 2-D and 3-D register), printed
by :mod:`benchmarks.report.cold_start`, which this runs with the same
arguments (``--repeats N``)."""

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.report.cold_start import main

    main()
