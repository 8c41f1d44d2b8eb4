"""Two vector building blocks of the integration kernel, written as numba intrinsics (LLVM IR).

Numba leaves LLVM's SLP vectoriser off and its loop vectoriser cannot keep a
32-frame accumulator in registers, so the two inner steps of
:mod:`uedflow.reduce.integrate` are emitted directly as LLVM vector operations.
They are plain LLVM IR: on a CPU without AVX the backend splits the vectors into
SSE2 registers; no compiler or GPU is needed.

* :func:`transpose8` turns an 8-frame x 8-pixel block of the frame batch into
  8 pixel rows of 8 float64 frame values (three rounds of unpack shuffles,
  then one conversion per row), adds each frame's 8 pixels to the sum of
  its group (before/after time zero) and keeps each frame's running maximum
  (for the saturation check);
* :func:`segment_sum` adds ``Σ_k w_k · tile[pix_k, 0:32]`` over a run of
  operator entries of one s bin to that bin's 32 frame sums, with the 32 running
  sums held in eight 4-wide registers (no store-to-load chain through memory).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

__all__ = ["LANES", "transpose8", "segment_sum"]

#: frames integrated together (the width of a tile row); fixed: it sets the register layout of segment_sum
LANES = 32
_WIDTH = 4  # doubles per register
_I32 = ir.IntType(32)

# unpack-low/high shuffle masks of two 8-element vectors at 1-, 2- and 4-element granularity
_LO1, _HI1 = [0, 8, 1, 9, 2, 10, 3, 11], [4, 12, 5, 13, 6, 14, 7, 15]
_LO2, _HI2 = [0, 1, 8, 9, 2, 3, 10, 11], [4, 5, 12, 13, 6, 7, 14, 15]
_LO4, _HI4 = [0, 1, 2, 3, 8, 9, 10, 11], [4, 5, 6, 7, 12, 13, 14, 15]


def _shuffle(builder: ir.IRBuilder, a, b, mask: list[int]):
    return builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(_I32, len(mask)), mask))


def _to_double(builder: ir.IRBuilder, value, dtype):
    """Convert a vector of ``dtype`` (a numba scalar type) to float64."""
    vd = ir.VectorType(ir.DoubleType(), value.type.count)
    if isinstance(dtype, types.Float):
        return value if dtype.bitwidth == 64 else builder.fpext(value, vd)
    if isinstance(dtype, types.Boolean):
        return builder.uitofp(value, vd)
    return builder.sitofp(value, vd) if dtype.signed else builder.uitofp(value, vd)


def _maximum(builder: ir.IRBuilder, a, b, dtype):
    """Element-wise maximum of two vectors of ``dtype`` (a numba scalar type)."""
    if isinstance(dtype, types.Float):
        greater = builder.fcmp_ordered(">", a, b)
    elif isinstance(dtype, types.Integer) and dtype.signed:
        greater = builder.icmp_signed(">", a, b)
    else:
        greater = builder.icmp_unsigned(">", a, b)
    return builder.select(greater, a, b)


@intrinsic
def transpose8(typingctx, frames, row0, col, tile, t0, group, gsum, g0, peak):
    """``tile[t0 + c*LANES + r] = float64(frames[row0 + r, col + c])``,
    ``gsum[group[row0 + r], g0 + c] += frames[row0 + r, col + c]`` (where that group is >= 0) and
    ``peak[row0 + r, c] = max(peak[row0 + r, c], frames[row0 + r, col + c])``, for r, c in 0..7.

    ``frames`` is a C-contiguous 2D array of any numeric dtype, ``tile`` a 1D float64 array, ``group`` a 1D
    int64 array, ``gsum`` a C-contiguous 2D float64 array and ``peak`` a C-contiguous (n, 8) array of the
    frames' dtype.
    """
    if not all(isinstance(a, types.Array) and a.layout == "C" for a in (frames, gsum, peak)) or frames.ndim != 2:
        return None
    sig = types.void(frames, types.intp, types.intp, tile, types.intp, group, gsum, types.intp, peak)

    def codegen(context, builder, signature, args):
        frames_v, row0_v, col_v, tile_v, t0_v, group_v, gsum_v, g0_v, peak_v = args
        arr = context.make_array(signature.args[0])(context, builder, frames_v)
        data = arr.data
        stride = builder.extract_value(arr.shape, 1)
        tile_p = context.make_array(signature.args[3])(context, builder, tile_v).data
        group_p = context.make_array(signature.args[5])(context, builder, group_v).data
        sums = context.make_array(signature.args[6])(context, builder, gsum_v)
        sums_p, sums_stride = sums.data, builder.extract_value(sums.shape, 1)
        peak_p = context.make_array(signature.args[8])(context, builder, peak_v).data
        intp = row0_v.type
        dtype = signature.args[0].dtype
        vec = ir.VectorType(data.type.pointee, 8)
        vd = ir.VectorType(ir.DoubleType(), 8)
        rows = []
        for r in range(8):
            row = builder.add(row0_v, ir.Constant(intp, r))
            offset = builder.add(builder.mul(row, stride), col_v)
            rows.append(builder.load(builder.bitcast(builder.gep(data, [offset]), vec.as_pointer()), align=1))
            top = builder.bitcast(builder.gep(peak_p, [builder.mul(row, ir.Constant(intp, 8))]), vec.as_pointer())
            builder.store(_maximum(builder, builder.load(top, align=1), rows[-1], dtype), top, align=1)
            g = builder.load(builder.gep(group_p, [row]))
            with builder.if_then(builder.icmp_signed(">=", g, ir.Constant(g.type, 0)), likely=True):
                ptr = builder.bitcast(builder.gep(sums_p, [builder.add(builder.mul(g, sums_stride), g0_v)]), vd.as_pointer())
                builder.store(builder.fadd(builder.load(ptr, align=8), _to_double(builder, rows[-1], dtype)), ptr, align=8)
        pairs = []
        for r in range(0, 8, 2):
            pairs += [_shuffle(builder, rows[r], rows[r + 1], _LO1), _shuffle(builder, rows[r], rows[r + 1], _HI1)]
        quads = [None] * 8
        for h in (0, 4):
            quads[h:h + 4] = [_shuffle(builder, pairs[h], pairs[h + 2], _LO2), _shuffle(builder, pairs[h], pairs[h + 2], _HI2),
                              _shuffle(builder, pairs[h + 1], pairs[h + 3], _LO2),
                              _shuffle(builder, pairs[h + 1], pairs[h + 3], _HI2)]
        columns = []
        for q in range(4):
            columns += [_shuffle(builder, quads[q], quads[q + 4], _LO4), _shuffle(builder, quads[q], quads[q + 4], _HI4)]
        for c, column in enumerate(columns):
            ptr = builder.gep(tile_p, [builder.add(t0_v, ir.Constant(intp, c * LANES))])
            builder.store(_to_double(builder, column, dtype), builder.bitcast(ptr, vd.as_pointer()), align=8)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def segment_sum(typingctx, part, row, tile, pix, weight, k0, k1):
    """``part[row:row+LANES] += Σ_{k0 <= k < k1} weight[k] · tile[pix[k]*LANES : pix[k]*LANES + LANES]``.

    ``part``/``tile`` are 1D float64 arrays, ``pix`` a 1D signed-integer array, ``weight`` 1D float32 or float64.
    """
    sig = types.void(part, types.intp, tile, pix, weight, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        part_v, row_v, tile_v, pix_v, weight_v, k0_v, k1_v = args
        part_p, tile_p, pix_p, w_p = (context.make_array(signature.args[i])(context, builder, v).data
                                      for i, v in ((0, part_v), (2, tile_v), (3, pix_v), (4, weight_v)))
        intp = k0_v.type
        vec = ir.VectorType(ir.DoubleType(), _WIDTH)
        zero = ir.Constant(vec, [0.0] * _WIDTH)
        start = builder.block
        head = builder.append_basic_block("segment.head")
        body = builder.append_basic_block("segment.body")
        done = builder.append_basic_block("segment.done")
        builder.branch(head)
        builder.position_at_end(head)
        k = builder.phi(intp)
        k.add_incoming(k0_v, start)
        sums = [builder.phi(vec) for _ in range(LANES // _WIDTH)]
        for s in sums:
            s.add_incoming(zero, start)
        builder.cbranch(builder.icmp_signed("<", k, k1_v), body, done)
        builder.position_at_end(body)
        pixel = builder.load(builder.gep(pix_p, [k]))
        pixel = builder.sext(pixel, intp) if pixel.type.width < intp.width else pixel
        w = builder.load(builder.gep(w_p, [k]))
        w = builder.fpext(w, ir.DoubleType()) if isinstance(w.type, ir.FloatType) else w
        splat = builder.insert_element(ir.Constant(vec, ir.Undefined), w, ir.Constant(_I32, 0))
        splat = _shuffle(builder, splat, ir.Constant(vec, ir.Undefined), [0] * _WIDTH)
        base = builder.mul(pixel, ir.Constant(intp, LANES))
        new = []
        for q, s in enumerate(sums):
            ptr = builder.bitcast(builder.gep(tile_p, [builder.add(base, ir.Constant(intp, q * _WIDTH))]), vec.as_pointer())
            new.append(builder.fadd(s, builder.fmul(builder.load(ptr, align=8), splat, flags=("fast",)), flags=("fast",)))
        k.add_incoming(builder.add(k, ir.Constant(intp, 1)), builder.block)
        for s, v in zip(sums, new, strict=True):
            s.add_incoming(v, builder.block)
        builder.branch(head)
        builder.position_at_end(done)
        for q, s in enumerate(sums):
            ptr = builder.bitcast(builder.gep(part_p, [builder.add(row_v, ir.Constant(intp, q * _WIDTH))]), vec.as_pointer())
            builder.store(builder.fadd(builder.load(ptr, align=8), s), ptr, align=8)
        return context.get_dummy_value()

    return sig, codegen
