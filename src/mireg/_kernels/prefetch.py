"""A cache prefetch hint, for kernels whose reads are scattered over arrays
larger than the caches.

``prefetch(array, i, j)`` asks the CPU to bring the cache line of
``array[i, j]`` (``array[i, j, 0, ...]`` for more dimensions) towards the
core (LLVM's ``llvm.prefetch``: a read, kept in every cache level).  It
changes no value and cannot fault; callers still pass indices inside the
array.
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

_I32 = ir.IntType(32)


@intrinsic
def prefetch(typingctx, array, i, j):
    signature = types.none(array, i, j)

    def codegen(context, builder, sig, args):
        array_type = sig.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        index = [context.cast(builder, v, t, types.intp) for v, t in zip(args[1:], sig.args[1:])]
        index += [context.get_constant(types.intp, 0)] * (array_type.ndim - 2)
        pointer = cgutils.get_item_pointer(
            context, builder, array_type, view, index, wraparound=False
        )
        address = builder.bitcast(pointer, ir.IntType(8).as_pointer())
        function_type = ir.FunctionType(ir.VoidType(), [address.type, _I32, _I32, _I32])
        function = cgutils.get_or_insert_function(
            builder.module, function_type, "llvm.prefetch.p0"
        )
        # a read (0), kept in every cache level (3), of data (1)
        flags = [ir.Constant(_I32, 0), ir.Constant(_I32, 3), ir.Constant(_I32, 1)]
        builder.call(function, [address, *flags])
        return context.get_dummy_value()

    return signature, codegen
