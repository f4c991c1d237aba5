"""Eight-wide vector bodies for the Gaussian tap loops.

LLVM's loop vectoriser uses 256-bit vectors on CPUs that prefer them (every
AVX-512 Xeon): four doubles an instruction.  The tap loops are bound by
floating-point throughput there, so each gets an explicit 8 x double body
written as LLVM IR here; an AVX-512 CPU runs it in 512-bit registers, any
other target splits it into its own vector width.  The arithmetic is the
scalar loop's, operation for operation (no contraction into fused
multiply-adds), so the results are the same bits.

Every intrinsic computes ``o[i:i + 8]`` of one loop of ``gaussian``:

* ``init``: ``o`` itself, or ``centre * c``;
* then, in order, pair terms ``+ (lo + hi) * w`` or one single term
  ``+ x * w``.

Source lines are converted to float64 as ``np.float64(x)`` does (any
kernel dtype); ``o`` is float64.  Callers handle ``i + 8 <= o.size`` and
never pass a source that overlaps ``o``.
"""

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

LANES = 8

_DOUBLE = ir.DoubleType()
_VECTOR = ir.VectorType(_DOUBLE, LANES)
_INDEX = ir.IntType(32)


def _splat(builder, scalar):
    v = builder.insert_element(ir.Constant(_VECTOR, ir.Undefined), scalar, ir.Constant(_INDEX, 0))
    mask = ir.Constant(ir.VectorType(_INDEX, LANES), [0] * LANES)
    return builder.shuffle_vector(v, ir.Constant(_VECTOR, ir.Undefined), mask)


def _load(context, builder, array_type, array, i):
    """``np.float64(array[i:i + 8])`` as an 8 x double vector."""
    data = context.make_array(array_type)(context, builder, array).data
    element = context.get_data_type(array_type.dtype)
    vector = ir.VectorType(element, LANES)
    pointer = builder.bitcast(builder.gep(data, [i]), vector.as_pointer())
    value = builder.load(pointer, align=array_type.dtype.bitwidth // 8)
    dtype = array_type.dtype
    if isinstance(dtype, types.Float):
        return value if dtype.bitwidth == 64 else builder.fpext(value, _VECTOR)
    if dtype.signed:
        return builder.sitofp(value, _VECTOR)
    return builder.uitofp(value, _VECTOR)


def _emit(context, builder, sig, args, centre, n_pairs, single):
    """Codegen: ``args`` are (o, [centre, c], (lo, hi, w) * n_pairs,
    [x, w], i)."""
    i = args[-1]
    k = 1
    if centre:
        acc = builder.fmul(
            _load(context, builder, sig.args[1], args[1], i), _splat(builder, args[2])
        )
        k = 3
    else:
        acc = _load(context, builder, sig.args[0], args[0], i)
    for _ in range(n_pairs):
        lo = _load(context, builder, sig.args[k], args[k], i)
        hi = _load(context, builder, sig.args[k + 1], args[k + 1], i)
        acc = builder.fadd(acc, builder.fmul(builder.fadd(lo, hi), _splat(builder, args[k + 2])))
        k += 3
    if single:
        x = _load(context, builder, sig.args[k], args[k], i)
        acc = builder.fadd(acc, builder.fmul(x, _splat(builder, args[k + 1])))
    out = context.make_array(sig.args[0])(context, builder, args[0]).data
    pointer = builder.bitcast(builder.gep(out, [i]), _VECTOR.as_pointer())
    builder.store(acc, pointer, align=8)
    return context.get_dummy_value()


def _codegen(centre, n_pairs, single=False):
    def codegen(context, builder, sig, args):
        return _emit(context, builder, sig, args, centre, n_pairs, single)

    return codegen


# One intrinsic per loop shape: Numba intrinsics have fixed arguments.


@intrinsic
def centre8(typingctx, o, centre, c, i):
    return types.void(o, centre, c, i), _codegen(True, 0)


@intrinsic
def centre_1_8(typingctx, o, centre, c, lo0, hi0, w0, i):
    return types.void(o, centre, c, lo0, hi0, w0, i), _codegen(True, 1)


@intrinsic
def centre_2_8(typingctx, o, centre, c, lo0, hi0, w0, lo1, hi1, w1, i):
    return types.void(o, centre, c, lo0, hi0, w0, lo1, hi1, w1, i), _codegen(True, 2)


@intrinsic
def centre_3_8(typingctx, o, centre, c, lo0, hi0, w0, lo1, hi1, w1, lo2, hi2, w2, i):
    sig = types.void(o, centre, c, lo0, hi0, w0, lo1, hi1, w1, lo2, hi2, w2, i)
    return sig, _codegen(True, 3)


@intrinsic
def four_taps8(typingctx, o, lo0, hi0, w0, lo1, hi1, w1, lo2, hi2, w2, lo3, hi3, w3, i):
    sig = types.void(o, lo0, hi0, w0, lo1, hi1, w1, lo2, hi2, w2, lo3, hi3, w3, i)
    return sig, _codegen(False, 4)


@intrinsic
def tap_pair8(typingctx, o, lo, hi, w, i):
    return types.void(o, lo, hi, w, i), _codegen(False, 1)


@intrinsic
def tap_one8(typingctx, o, x, w, i):
    return types.void(o, x, w, i), _codegen(False, 0, single=True)


__all__ = [
    "LANES",
    "centre8",
    "centre_1_8",
    "centre_2_8",
    "centre_3_8",
    "four_taps8",
    "tap_pair8",
    "tap_one8",
]
