"""Numba kernels.  Arrays, scalars and the named records of ``records.py``
in; arrays and scalars out.

No validation, no defaults with behaviour: the public modules one level up
check inputs, pick dtypes and layouts, and choose serial or parallel paths.
Kernels that only other kernels call are compiled without Python or C
wrappers (``jit.CALLEE``).
"""
