"""LUT unary ops and ADD/SUB/MUL with broadcasting (the reference's fixed point, or a table for a
constant operand of few values) in the delegate: exact."""
from __future__ import annotations

import numpy as np
import pytest

from qrun.modelbuilder import ModelBuilder
from tests.delegate.util import check_delegate


def check_exact(model: bytes, seed: int):
    """ADD/SUB/MUL: every ISA bit-exact with qrun's numpy reference (= TFLite's reference)."""
    check_delegate(model, seed=seed, lsb=0, reference="numpy")

DTYPES = (np.int8, np.uint8)


def _q(rng, dtype, zp=None):
    info = np.iinfo(dtype)
    return dict(scale=float(rng.uniform(0.005, 0.1)),
                zero_point=int(rng.integers(info.min, info.max + 1)) if zp is None else zp)


# op -> (options, output quantization fixed by TFLite for the dtype, or None for random)
UNARY = {
    "LOGISTIC": ({}, {np.int8: (1 / 256, -128), np.uint8: (1 / 256, 0)}),
    "TANH": ({}, {np.int8: (1 / 128, 0), np.uint8: (1 / 128, 128)}),
    "HARD_SWISH": ({}, None),
    "LEAKY_RELU": ({"alpha": 0.2}, None),
    "ELU": ({}, None),
    "RELU": ({}, None),
    "RELU6": ({}, None),
    "RELU_N1_TO_1": ({}, None),
    "QUANTIZE": ({}, None),
}


def unary_model(op, dtype, out_dtype, seed, shape=(2, 5, 3, 7)):
    rng = np.random.default_rng(seed)
    options, fixed = UNARY[op]
    b = ModelBuilder()
    x = b.add_input(shape, dtype, **_q(rng, dtype))
    if fixed is not None:
        s, z = fixed[dtype]
        y = b.add_tensor(shape, out_dtype, scale=s, zero_point=z)
    else:
        y = b.add_tensor(shape, out_dtype, **_q(rng, out_dtype))
    b.add_op(op, [x], [y], **options)
    b.mark_output(y)
    return b.build()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", [o for o in UNARY if o not in ("ELU", "QUANTIZE")])
@pytest.mark.parametrize("seed", [0, 1])
def test_unary_lut(op, dtype, seed):
    check_delegate(unary_model(op, dtype, dtype, seed), seed=seed, lsb=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["LOGISTIC", "HARD_SWISH"])
def test_unary_lut_every_byte_and_tiles(op, dtype):
    # 4923 bytes: every byte value (almost surely), two 4096-byte tiles, a tail of no vector width
    check_delegate(unary_model(op, dtype, dtype, 6, shape=(1, 3, 1641)), seed=6, lsb=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_elu_lut(seed):
    # BUILTIN_REF has no int8 ELU; qrun's numpy kernel is tested against LiteRT's builtin one.
    check_delegate(unary_model("ELU", np.int8, np.int8, seed), seed=seed, lsb=0,
                   reference="numpy")


@pytest.mark.parametrize("dtype,out_dtype", [(np.int8, np.int8), (np.int8, np.uint8),
                                             (np.uint8, np.int8), (np.uint8, np.uint8)])
def test_requantize_lut(dtype, out_dtype):
    check_delegate(unary_model("QUANTIZE", dtype, out_dtype, 3), seed=3, lsb=0)


# (a shape, b shape): same shapes, scalar, channel vector, mutual broadcast, 5-D, rank mix
SHAPES = [((2, 4, 5, 7), (2, 4, 5, 7)), ((1, 6, 6, 3), (1,)), ((2, 3, 4, 9), (9,)),
          ((2, 1, 5, 1), (1, 3, 1, 4)), ((3, 1, 2, 1, 5), (1, 4, 1, 3, 1)), ((7,), (3, 7)),
          ((1, 1, 1, 17), (1, 5, 5, 17)), ((4, 1), (1, 1)),
          # the SIMD cases (whole vectors of 4/8/16 lanes and tails): a scalar first operand,
          # a per-channel operand, same shapes over several 4096-element rows
          ((1,), (2, 3, 4, 37)), ((1, 7, 9, 40), (40,)), ((1, 12, 12, 100), (1, 12, 12, 100))]


def binary_model(op, dtype, shapes, activation, seed, const_b=False, zps=(None, None, None),
                 const_first=False, const_levels=None):
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    qa, qb, qy = (_q(rng, dtype, z) for z in zps)
    a = b.add_input(shapes[0], dtype, **qa)
    if const_b:
        info = np.iinfo(dtype)
        data = rng.integers(info.min, info.max + 1, const_levels or shapes[1]).astype(dtype)
        if const_levels:
            data = data[rng.integers(0, const_levels, shapes[1])]
        bt = b.add_constant(data, **qb)
    else:
        bt = b.add_input(shapes[1], dtype, **qb)
    out_shape = np.broadcast_shapes(shapes[0], shapes[1])
    if op == "MUL":
        qy["scale"] = qa["scale"] * qb["scale"] * 64
    y = b.add_tensor(out_shape, dtype, **qy)
    b.add_op(op, [bt, a] if const_first else [a, bt], [y], fused_activation_function=activation)
    b.mark_output(y)
    return b.build()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL"])
@pytest.mark.parametrize("s", range(len(SHAPES)))
def test_binary_broadcast(op, dtype, s):
    act = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")[s % 4]
    check_exact(binary_model(op, dtype, SHAPES[s], act, seed=s), seed=s)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL"])
def test_binary_constant_operand(op, dtype):
    check_exact(binary_model(op, dtype, SHAPES[2], "NONE", seed=9, const_b=True), seed=9)


# A constant operand over short rows (expanded in the plan into long rows): per-channel over
# H x W x 3 (H W split by a divisor), prime H W, a constant along an outer and the inner axis,
# a per-pixel constant over 2 channels (expanded whole), a constant first operand.
SHORT_ROWS = [((1, 17, 19, 3), (3,)), ((1, 13, 13, 3), (1, 1, 1, 3)), ((1, 1, 61, 5), (5,)),
              ((2, 31, 5), (1, 31, 1)), ((1, 7, 9, 2), (1, 7, 9, 1)), ((2, 3, 1), (2, 3, 7))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL"])
@pytest.mark.parametrize("s", range(len(SHORT_ROWS)))
def test_binary_constant_operand_short_rows(op, dtype, s):
    shapes = SHORT_ROWS[s]
    if s == len(SHORT_ROWS) - 1:
        check_exact(binary_model(op, dtype, shapes[::-1], "RELU", seed=s, const_b=True), seed=s)
    else:
        check_exact(binary_model(op, dtype, shapes, "RELU", seed=s, const_b=True), seed=s)


def test_short_rows_are_lengthened_with_a_bounded_constant():
    from qrun import Interpreter
    from qrun.delegate.elementwise import MIN_ROW, _layout
    it = Interpreter(model_content=binary_model("SUB", np.int8, ((1, 257, 257, 3), (3,)),
                                                "NONE", seed=0, const_b=True))
    it.allocate_tensors()
    outer, inner, sa, sb, values = _layout(it._graph().subgraph.operators[0])
    assert inner >= MIN_ROW and sa[4] == sb[4] == 1
    assert values[0] is None and values[1][1].nbytes == 257 * 3   # one row of W x C


# (input shape, constant shape, its distinct values, tabulated): a per-tensor scalar,
# per-channel constants of C = 1, 3, 8 values, 64 channels of 8 values, the input broadcast
# too; more than 8 values (C = 19, 64, 200) run the fixed point.
CONSTANT_TABLES = [((1, 9, 11, 3), (1,), None, True), ((1, 9, 11, 1), (1,), None, True),
                   ((1, 17, 19, 3), (3,), None, True), ((1, 5, 7, 8), (8,), None, True),
                   ((1, 3, 5, 64), (1, 1, 1, 64), 8, True),
                   ((1, 6, 1, 3), (1, 1, 5, 1), None, True),
                   ((1, 5, 7, 19), (19,), None, False), ((1, 3, 5, 64), (64,), None, False),
                   ((1, 2, 3, 200), (200,), None, False)]


def _tabulated(model) -> bool:
    from qrun import Interpreter
    from qrun.delegate.elementwise import constant_table
    it = Interpreter(model_content=model)
    it.allocate_tensors()
    return constant_table(it._graph().subgraph.operators[0]) is not None


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL"])
@pytest.mark.parametrize("s", range(len(CONSTANT_TABLES)))
@pytest.mark.parametrize("const_first", [False, True])
def test_binary_constant_operand_table_is_exact(op, dtype, s, const_first):
    act = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")[s % 4]
    *shapes, levels, tabulated = CONSTANT_TABLES[s]
    model = binary_model(op, dtype, shapes, act, seed=s, const_b=True, const_first=const_first,
                         const_levels=levels)
    assert _tabulated(model) == tabulated
    check_exact(model, seed=s)


@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL"])
@pytest.mark.parametrize("dtype,zps", [(np.int8, (-128, 127, -128)), (np.int8, (127, -128, 127)),
                                       (np.uint8, (0, 255, 0)), (np.uint8, (255, 0, 255))])
def test_binary_constant_operand_table_extreme_zero_points(op, dtype, zps):
    model = binary_model(op, dtype, CONSTANT_TABLES[2][:2], "NONE", seed=5, const_b=True, zps=zps)
    assert _tabulated(model)
    check_exact(model, seed=5)


@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL"])
@pytest.mark.parametrize("dtype,zps", [(np.int8, (-128, 127, -128)), (np.int8, (127, -128, 127)),
                                       (np.uint8, (0, 255, 0)), (np.uint8, (255, 0, 255))])
@pytest.mark.parametrize("s", [3, 8, 9, 10])
def test_binary_extreme_zero_points(op, dtype, zps, s):
    check_exact(binary_model(op, dtype, SHAPES[s], "NONE", seed=4, zps=zps), seed=4)


# (a scale, b scale, output scale): ADD/SUB input multipliers of exactly 1/2 (equal scales, shift
# 0), a tiny one (shift -31: 0), output multipliers near 2^-3 (the largest the rule admits) and
# below 2^-31 (0: every output the zero point); MUL multipliers of 1 (a shift left), near 2^16
# (products wrap in int32 as the reference's do), powers of two, tiny and below 2^-31.
ADD_SCALES = [(0.05, 0.05, 0.05), (0.1, 0.001, 0.02), (0.3, 1e-11, 0.07), (0.5, 0.004, 1e-4),
              (1e-4, 2e-4, 0.5), (0.02, 0.03, 1e3), (0.007, 0.011, 0.0035)]
MUL_SCALES = [(0.25, 0.5, 0.125), (0.5, 0.8, 1e-5), (0.6, 0.7, 0.012), (0.03, 0.02, 0.5),
              (1e-4, 1e-4, 10.0), (1e-6, 1e-6, 1e3), (0.02, 0.05, 0.0625), (1 / 64, 1 / 32, 1.0)]


def _scaled_model(op, dtype, scales, zps, shapes, activation="NONE"):
    b = ModelBuilder()
    a = b.add_input(shapes[0], dtype, scale=scales[0], zero_point=zps[0])
    c = b.add_input(shapes[1], dtype, scale=scales[1], zero_point=zps[1])
    y = b.add_tensor(np.broadcast_shapes(*shapes), dtype, scale=scales[2], zero_point=zps[2])
    b.add_op(op, [a, c], [y], fused_activation_function=activation)
    b.mark_output(y)
    return b.build()


def _check_exact_inputs(model: bytes, inputs):
    from tests.delegate.util import ISAS, run_delegate
    from tests.oracle import assert_same, run_qrun
    ours = run_delegate(model, inputs, "scalar" if ISAS else None)
    assert_same(ours, run_qrun(model, inputs), lsb=0, what="delegate vs numpy")
    for isa in ISAS[1:]:
        assert_same(run_delegate(model, inputs, isa), ours, what="%s vs scalar" % isa)


def _zero_points(dtype, k):
    info = np.iinfo(dtype)
    lo, hi = int(info.min), int(info.max)
    return [(lo, hi, lo), (hi, lo, hi), (3 + lo // 2, -7 + hi // 2, (lo + hi) // 2 + 1)][k]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op,scales", [("ADD", s) for s in ADD_SCALES] +
                         [("SUB", s) for s in ADD_SCALES] + [("MUL", s) for s in MUL_SCALES])
@pytest.mark.parametrize("z", range(3))
def test_binary_every_byte_pair_is_exact(op, scales, dtype, z):
    """All 65536 byte pairs, same shape (then 13 more elements: a tail) and one operand
    broadcast along a row of 259 (vectors and a tail), against the numpy reference."""
    _check_every_byte_pair(op, scales, dtype, z)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op,scales", [("ADD", s) for s in ADD_SCALES[:4]] +
                         [("SUB", s) for s in ADD_SCALES[3:]] + [("MUL", s) for s in MUL_SCALES])
def test_binary_fixed_point_alone_is_exact(op, scales, dtype, monkeypatch):
    """The fixed point on its own (every lane marked near a tie, no fast path): all byte
    pairs."""
    from qrun.delegate import elementwise
    for name in ("_add_sub_near_tie", "_mul_near_tie"):
        monkeypatch.setattr(elementwise, name, lambda *args: 1 << (elementwise.GRID_BITS - 1))
    _check_every_byte_pair(op, scales, dtype, 1)


@pytest.mark.parametrize("seed", range(30))
def test_binary_random_scales_every_byte_pair(seed):
    """Random scales (input scales 1e-4..1, the output's within 100x of theirs: the fast path's
    bound from tiny to over a grid step) and zero points, all byte pairs. With the bound
    replaced by one grid step, 1 of 600 such draws differed from the reference."""
    rng = np.random.default_rng(seed)
    op, dtype = ("ADD", "SUB", "MUL")[seed % 3], DTYPES[seed // 3 % 2]
    s_a, s_b = 10 ** rng.uniform(-4, 0, 2)
    s_y = (s_a * s_b if op == "MUL" else max(s_a, s_b)) * 10 ** rng.uniform(-2, 2)
    info = np.iinfo(dtype)
    zps = tuple(int(z) for z in rng.integers(info.min, info.max + 1, 3))
    _check_every_byte_pair(op, (float(s_a), float(s_b), float(s_y)), dtype, seed % 3, zps)


def _check_every_byte_pair(op, scales, dtype, z, zps=None):
    zps = zps or _zero_points(dtype, z)
    act = ("NONE", "RELU", "RELU6")[z]
    byte = np.arange(256, dtype=np.uint8)
    tail = np.random.default_rng(z).integers(0, 256, (2, 13), dtype=np.uint8)
    pairs = [np.concatenate([np.repeat(byte, 256), tail[0]]),
             np.concatenate([np.tile(byte, 256), tail[1]])]
    model = _scaled_model(op, dtype, scales, zps, [(1, pairs[0].size)] * 2, act)
    _check_exact_inputs(model, [x.view(dtype).reshape(1, -1) for x in pairs])
    row = np.resize(byte, 259)
    model = _scaled_model(op, dtype, scales, zps, [(256, 1), (1, 259)], act)
    _check_exact_inputs(model, [byte.view(dtype).reshape(256, 1), row.view(dtype).reshape(1, -1)])
    model = _scaled_model(op, dtype, scales, zps, [(1, 259), (256, 1)], act)
    _check_exact_inputs(model, [row.view(dtype).reshape(1, -1), byte.view(dtype).reshape(256, 1)])


@pytest.mark.parametrize("dtype,zp", [(np.int8, -128), (np.int8, 5), (np.uint8, 255),
                                      (np.uint8, 128)])
def test_dequantize_lut(dtype, zp):
    b = ModelBuilder()
    x = b.add_input((2, 5, 7), dtype, scale=0.037, zero_point=zp)
    y = b.add_tensor((2, 5, 7), np.float32)
    b.add_op("DEQUANTIZE", [x], [y])
    b.mark_output(y)
    check_delegate(b.build(), seed=zp & 7, lsb=0)


def test_mul_with_a_degenerate_output_scale_stays_on_numpy():
    # LSTM-state MULs in traffic_model_lstm_ssd have output scales near 1e-35: TFLite's
    # fixed-point multiplier overflows, which only the numpy kernels reproduce.
    from tests.delegate.util import model_inputs, run_delegate
    b = ModelBuilder()
    x = b.add_input((1, 4, 4, 3), np.uint8, scale=0.0235, zero_point=0)
    z = b.add_input((1, 4, 4, 3), np.uint8, scale=0.0039, zero_point=0)
    y = b.add_tensor((1, 4, 4, 3), np.uint8, scale=2.97e-35, zero_point=0)
    b.add_op("MUL", [x, z], [y])
    b.mark_output(y)
    model = b.build()
    run_delegate(model, model_inputs(model, 0), expect_backend="numpy")


@pytest.mark.parametrize("dtype,scale,zp", [(np.int8, 0.01, 0), (np.int8, 0.0078125, -128),
                                            (np.uint8, 0.02, 128), (np.uint8, 1 / 255, 0),
                                            (np.int8, 3e-6, 127), (np.uint8, 7.0, 255)])
@pytest.mark.parametrize("shape", [(2, 9, 5), (3, 37, 41)])
def test_quantize_float(dtype, scale, zp, shape):
    b = ModelBuilder()
    x = b.add_input(shape, np.float32)
    y = b.add_tensor(shape, dtype, scale=scale, zero_point=zp)
    b.add_op("QUANTIZE", [x], [y])
    b.mark_output(y)
    model = b.build()
    # Values spread past the range; exact halves (ties round away from zero) and their float
    # neighbours; quotients past 2^23 (integers) and 2^31 (INT32_MIN); non-finite values;
    # scattered so that SIMD lanes and the scalar tail both meet them.
    rng = np.random.default_rng(zp & 15)
    x = (rng.uniform(-3, 3, shape) * scale * 150).astype(np.float32)
    s = np.float32(scale)
    halves = np.array([0.5, -0.5, 1.5, -1.5, 2.5, -3.5, 126.5, -127.5], np.float32) * s
    with np.errstate(over="ignore"):
        large = s * np.array([2.0 ** 23 + 2, -2.0 ** 24, 2.0 ** 31, -2.0 ** 31, 3e9, 1e38],
                             np.float32)
    special = np.concatenate([
        halves, np.nextafter(halves, np.float32(0)), np.nextafter(halves, np.float32(np.inf)),
        large, [np.inf, -np.inf, np.nan, -0.0, np.float32(1e-45)]]).astype(np.float32)
    at = rng.choice(x.size, size=min(x.size, 4 * special.size), replace=False)
    x.flat[at] = np.resize(special, at.size)
    x.flat[-special.size:] = special
    from tests.delegate.util import ISAS, run_delegate
    from tests.oracle import assert_same, run_litert
    ours = run_delegate(model, [x], "scalar" if ISAS else None)
    with np.errstate(all="ignore"):
        assert_same(ours, run_litert(model, [x]), lsb=0)
    for isa in ISAS[1:]:
        assert_same(run_delegate(model, [x], isa), ours, what="%s vs scalar" % isa)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1001), (3, 10), (2, 4, 5, 21), (5, 1)])
@pytest.mark.parametrize("in_scale,beta", [(0.1, 1.0), (0.02, 1.0), (0.5, 0.3), (0.004, 2.0)])
def test_softmax(dtype, shape, in_scale, beta):
    b = ModelBuilder()
    x = b.add_input(shape, dtype, scale=in_scale, zero_point=3)
    y = b.add_tensor(shape, dtype, scale=1 / 256, zero_point=-128 if dtype == np.int8 else 0)
    b.add_op("SOFTMAX", [x], [y], beta=beta)
    b.mark_output(y)
    check_delegate(b.build(), seed=shape[-1], lsb=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["MAXIMUM", "MINIMUM"])
@pytest.mark.parametrize("s", [0, 2, 3, 5])
def test_maximum_minimum(op, dtype, s):
    rng = np.random.default_rng(s)
    b = ModelBuilder()
    q = _q(rng, dtype)
    a = b.add_input(SHAPES[s][0], dtype, **q)
    c = b.add_input(SHAPES[s][1], dtype, **q)
    y = b.add_tensor(np.broadcast_shapes(*SHAPES[s]), dtype, **q)
    b.add_op(op, [a, c], [y])
    b.mark_output(y)
    check_delegate(b.build(), seed=s, lsb=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha_shape,const", [((7,), True), ((1, 1, 7), True),
                                               ((4, 5, 7), True), ((7,), False)])
def test_prelu(dtype, alpha_shape, const):
    rng = np.random.default_rng(len(alpha_shape))
    b = ModelBuilder()
    x = b.add_input((2, 4, 5, 7), dtype, **_q(rng, dtype))
    qa = dict(scale=0.01, zero_point=0 if dtype == np.int8 else 128)
    if const:
        info = np.iinfo(dtype)
        alpha = b.add_constant(rng.integers(info.min, info.max + 1, alpha_shape).astype(dtype),
                               **qa)
    else:
        alpha = b.add_input(alpha_shape, dtype, **qa)
    y = b.add_tensor((2, 4, 5, 7), dtype, **_q(rng, dtype))
    b.add_op("PRELU", [x, alpha], [y])
    b.mark_output(y)
    check_delegate(b.build(), seed=3, lsb=0)


FLOAT_OPS = ("ADD", "SUB", "MUL", "DIV")
# SHAPES, and the cartoon GAN's per-pixel divisor over 3 channels, a per-channel operand.
FLOAT_SHAPES = SHAPES + [((1, 9, 11, 3), (1, 9, 11, 1)), ((1, 33, 17, 3), (3,))]


def float_binary_model(op, shapes, activation, const_b, seed):
    b = ModelBuilder()
    a = b.add_input(shapes[0], np.float32)
    if const_b:
        data = np.random.default_rng(seed).uniform(-2, 2, shapes[1]).astype(np.float32)
        data.flat[0] = 0.0
        bt = b.add_constant(data)
    else:
        bt = b.add_input(shapes[1], np.float32)
    y = b.add_tensor(np.broadcast_shapes(shapes[0], shapes[1]), np.float32)
    b.add_op(op, [a, bt], [y], fused_activation_function=activation)
    b.mark_output(y)
    return b.build()


def float_inputs(shapes, seed):
    """Random values with zeros of both signs, infinities, NaN, huge and tiny values
    scattered (products and quotients overflow, underflow and divide by zero)."""
    rng = np.random.default_rng(seed)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 3e38, -3e38, 1e-45, 1.0, -6.5],
                       np.float32)
    out = []
    for shape in shapes:
        x = rng.uniform(-8, 8, shape).astype(np.float32)
        at = rng.choice(x.size, size=min(x.size, 12), replace=False)
        x.flat[at] = special[rng.integers(0, special.size, at.size)]
        out.append(x)
    return out


@pytest.mark.parametrize("op", FLOAT_OPS)
@pytest.mark.parametrize("s", range(len(FLOAT_SHAPES)))
def test_float_binary_bit_exact(op, s):
    from tests.delegate.util import ISAS, run_delegate
    from tests.oracle import run_qrun
    act = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")[s % 4]
    const_b = s % 3 == 1
    model = float_binary_model(op, FLOAT_SHAPES[s], act, const_b, seed=s)
    inputs = float_inputs(FLOAT_SHAPES[s][:1 if const_b else 2], seed=s)
    with np.errstate(all="ignore"):
        reference = run_qrun(model, inputs)[0]
    for isa in ISAS or [None]:
        ours = run_delegate(model, inputs, isa)[0]
        assert ours.shape == reference.shape
        differ = np.flatnonzero(ours.view(np.uint32) != reference.view(np.uint32))
        assert differ.size == 0, "%s: %d differ, first %s vs %s" % (
            isa, differ.size, ours.flat[differ[0]], reference.flat[differ[0]])


def test_float_div_matches_litert():
    from tests.delegate.util import run_delegate
    from tests.oracle import run_litert
    shapes = ((1, 9, 11, 3), (1, 9, 11, 1))
    model = float_binary_model("DIV", shapes, "NONE", const_b=False, seed=0)
    inputs = [np.random.default_rng(0).uniform(0.1, 4, s).astype(np.float32) for s in shapes]
    assert np.array_equal(run_delegate(model, inputs)[0], run_litert(model, inputs)[0])
