"""How the kernels are compiled.

Every kernel is ``njit(cache=True, nogil=True)``.  A kernel that only other
kernels call, never Python, also takes ``**CALLEE``: Numba then builds no
CPython wrapper and no C wrapper for it.  Those wrappers unbox and box every
argument (each array field of the registration's records), code that
nothing would run but that each compilation types, optimises and emits
(what that costs a first call: docs/performance.md).
"""

CALLEE = {"no_cpython_wrapper": True, "no_cfunc_wrapper": True}
