"""Numba kernels.  Plain arrays and scalars in, arrays and scalars out.

No validation, no defaults with behaviour: the public modules one level up
check inputs, pick dtypes and layouts, and choose serial or parallel paths.
"""
