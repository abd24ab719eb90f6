"""UNIDIRECTIONAL_SEQUENCE_LSTM and LSTM against LiteRT BUILTIN_REF: float32, int8 (8x8_16)
and hybrid (float32 activations, int8 weights)."""
from __future__ import annotations

import numpy as np
import pytest

from qrun.modelbuilder import ModelBuilder
from tests.ops.stateful import check_invokes_against_litert, extract_op, shared_model_bytes
from tests.oracle import check_against_litert, shared_model


def lstm_model(dtype, batch=2, time=3, n_input=5, n_cell=4, n_output=None, time_major=False,
               cifg=False, peephole=False, projection=False, proj_bias=False, layer_norm=False,
               cell_clip=0.0, proj_clip=0.0, activation="TANH", in_zp=3, state_zp=-2,
               hidden_zp=None, cell_log2=-11, legacy_20_inputs=False, hidden_quantized=True,
               single_step=False, hybrid=False, asymmetric=False, seed=0):
    """A one-op LSTM model; int8 models carry the 5 intermediates of the 8x8_16 kernel;
    `hybrid`: float32 activations with int8 weights (dynamic-range quantization)."""
    rng = np.random.default_rng(seed)
    n_output = n_output or n_cell
    if not projection:
        n_output = n_cell
    quant = dtype == np.int8
    b = ModelBuilder()

    def weights(shape, scale=0.02):
        if quant or hybrid:
            return b.add_constant(rng.integers(-127, 128, shape).astype(np.int8), scale=scale,
                                  zero_point=0)
        return b.add_constant(rng.uniform(-0.6, 0.6, shape).astype(np.float32))

    def vector(n, scale=1e-4, lo=-3000, hi=3000, kind=np.int32, flo=-0.5, fhi=0.5):
        if quant:
            return b.add_constant(rng.integers(lo, hi, n).astype(kind), scale=scale,
                                  zero_point=0)
        return b.add_constant(rng.uniform(flo, fhi, n).astype(np.float32))

    in_shape = [time, batch, n_input] if time_major else [batch, time, n_input]
    if single_step:   # the LSTM op: one step, [batch, n_input]
        in_shape = [batch, n_input]
    out_shape = in_shape[:-1] + [n_output]
    if quant:
        x = b.add_input(in_shape, np.int8, scale=0.05, zero_point=in_zp)
    else:
        x = b.add_input(in_shape, np.float32)
    ins = [x]
    ins += [-1 if (cifg and k == 0) else weights([n_cell, n_input]) for k in range(4)]
    ins += [-1 if (cifg and k == 0) else weights([n_cell, n_output], 0.015) for k in range(4)]
    def peephole_weights():
        if hybrid:
            return b.add_constant(rng.integers(-127, 128, n_cell).astype(np.int8), scale=0.003,
                                  zero_point=0)
        return vector(n_cell, 2e-4, -20000, 20000, np.int16, -0.3, 0.3)

    ins += [peephole_weights() if peephole and not (cifg and k == 0) else -1 for k in range(3)]
    ins += [-1 if (cifg and k == 0) else vector(n_cell) for k in range(4)]
    ins.append(weights([n_output, n_cell], 0.03) if projection else -1)
    ins.append(vector(n_output, 3e-4) if projection and proj_bias else -1)
    if quant:
        state_scale = 1.0 / 128
        ins.append(b.add_tensor([batch, n_output], np.int8, scale=state_scale,
                                zero_point=state_zp, is_variable=True))
        ins.append(b.add_tensor([batch, n_cell], np.int16, scale=2.0 ** cell_log2, zero_point=0,
                                is_variable=True))
    else:
        ins.append(b.add_tensor([batch, n_output], np.float32, is_variable=True))
        ins.append(b.add_tensor([batch, n_cell], np.float32, is_variable=True))
    if not legacy_20_inputs:
        ins += [vector(n_cell, 1.0 / 16384, 8000, 24000, np.int16, 0.5, 1.5)
                if layer_norm and not (cifg and k == 0) else -1 for k in range(4)]
    intermediates = []
    if quant:
        y = b.add_tensor(out_shape, np.int8, scale=state_scale, zero_point=state_zp)
        for k in range(4):
            intermediates.append(b.add_tensor([0], np.int16, scale=0.0007 + 0.0001 * k,
                                              zero_point=0))
        h_scale, h_zp = ((0.006, state_zp if hidden_zp is None else hidden_zp) if projection
                         else (state_scale, state_zp))
        intermediates.append(b.add_tensor([0], np.int8, scale=h_scale, zero_point=h_zp)
                             if hidden_quantized else b.add_tensor([0], np.int8))
    else:
        y = b.add_tensor(out_shape, np.float32)
    options = dict(fused_activation_function=activation, cell_clip=cell_clip,
                   proj_clip=proj_clip)
    if not single_step:
        options["time_major"] = time_major
    if hybrid:
        options["asymmetric_quantize_inputs"] = asymmetric
    b.add_op("LSTM" if single_step else "UNIDIRECTIONAL_SEQUENCE_LSTM", ins, [y],
             intermediates=intermediates, **options)
    b.mark_output(y)
    return b.build()


VARIANTS = [
    dict(),
    dict(batch=1, time=5, n_input=7, n_cell=6),
    dict(time_major=True, batch=3),
    dict(cifg=True),
    dict(peephole=True),
    dict(cifg=True, peephole=True, time_major=True),
    dict(projection=True, n_output=3),
    dict(projection=True, proj_bias=True, n_output=5, proj_clip=0.5),
    dict(cell_clip=0.8, n_cell=7),
    dict(layer_norm=True, n_cell=8),
    dict(layer_norm=True, cifg=True, peephole=True, projection=True, proj_bias=True, n_output=3,
         n_cell=4),
    dict(peephole=True, projection=True, n_output=2, n_cell=5, batch=3),
    dict(peephole=True, projection=True, n_output=3, n_cell=5, batch=3, time_major=True),
    dict(layer_norm=True, peephole=True, time_major=True, n_cell=6, n_input=9, time=4),
]


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: ",".join(sorted(v)) or "plain")
def test_lstm_float(variant):
    check_invokes_against_litert(lstm_model(np.float32, **variant), invokes=2)


def test_lstm_float_relu_activation():
    check_invokes_against_litert(lstm_model(np.float32, activation="RELU"), invokes=2)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: ",".join(sorted(v)) or "plain")
@pytest.mark.parametrize("zps", [(3, -2), (-128, 127), (127, -128)])
def test_lstm_int8(variant, zps):
    model = lstm_model(np.int8, in_zp=zps[0], state_zp=zps[1], **variant)
    check_invokes_against_litert(model, invokes=2, seed=1)


@pytest.mark.parametrize("cell_log2", [-9, -10, -12, -15])
def test_lstm_int8_cell_scales(cell_log2):
    check_invokes_against_litert(lstm_model(np.int8, cell_log2=cell_log2, time=6), invokes=2)


@pytest.mark.parametrize("hidden_zp", [0, 9, -100])
@pytest.mark.parametrize("time_major", [False, True])
def test_lstm_int8_projection_hidden_zero_point(hidden_zp, time_major):
    model = lstm_model(np.int8, projection=True, proj_bias=True, n_output=3,
                       hidden_zp=hidden_zp, time_major=time_major)
    check_invokes_against_litert(model, invokes=2)


SINGLE_STEP = [dict(), dict(batch=3, cifg=True, peephole=True),
               dict(projection=True, proj_bias=True, n_output=3, peephole=True, batch=3),
               dict(layer_norm=True, n_cell=6, cell_clip=0.5)]


@pytest.mark.parametrize("variant", SINGLE_STEP, ids=lambda v: ",".join(sorted(v)) or "plain")
@pytest.mark.parametrize("dtype", [np.float32, np.int8])
def test_lstm_op_single_step(variant, dtype):
    """The LSTM op (full kernel): one step per invoke, state carried between invokes."""
    check_invokes_against_litert(lstm_model(dtype, single_step=True, **variant), invokes=4)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: ",".join(sorted(v)) or "plain")
@pytest.mark.parametrize("asymmetric", [False, True])
def test_lstm_hybrid(variant, asymmetric):
    """Dynamic-range LSTM: float32 activations quantized on the fly against int8 weights."""
    model = lstm_model(np.float32, hybrid=True, asymmetric=asymmetric, **variant)
    check_invokes_against_litert(model, invokes=2, seed=2)


@pytest.mark.parametrize("dtype", [np.float32, np.int8])
def test_lstm_legacy_20_inputs(dtype):
    check_invokes_against_litert(lstm_model(dtype, legacy_20_inputs=True, peephole=True),
                                 invokes=2)


def test_lstm_int8_needs_hidden_quantization():
    from qrun import Interpreter
    with pytest.raises(RuntimeError, match="intermediate 4 has no quantization"):
        Interpreter(model_content=lstm_model(np.int8, hidden_quantized=False)).allocate_tensors()


def test_lstm_int8_needs_power_of_two_cell_scale():
    from qrun import Interpreter
    model = lstm_model(np.int8, cell_log2=-11.3)
    with pytest.raises(RuntimeError, match="not a power of two"):
        Interpreter(model_content=model).allocate_tensors()


@pytest.mark.parametrize("name,op_index", [("trained_lstm_int8.tflite", 0),
                                           ("keras_lstm_mnist_ptq.tflite", 1),
                                           ("micro_speech_lstm.tflite", 0)])
def test_real_model_lstm_op(name, op_index):
    """The LSTM op of each real model, with its weights and quantization, alone."""
    model = extract_op(shared_model(name), op_index)
    check_invokes_against_litert(model, invokes=2)


@pytest.mark.parametrize("name", ["trained_lstm_int8.tflite", "keras_lstm_mnist_ptq.tflite",
                                  "micro_speech_lstm.tflite"])
def test_real_model_end_to_end(name):
    model = shared_model_bytes(name)
    for seed in range(2):
        check_against_litert(model, seed=seed)
