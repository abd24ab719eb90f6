"""The `qrun` command, and the demo models it is shown with in the README."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qrun import cli
from qrun.modelbuilder import ModelBuilder

from .oracle import check_against_litert

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "models" / "qrun_demo_mobilenet_int8.tflite"
DEMO_FLOAT_IO = ROOT / "models" / "qrun_demo_mobilenet_int8_floatio.tflite"


def write(tmp_path, data: bytes, name: str = "model.tflite") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def classifier_model(classes: int = 10) -> bytes:
    """An int8 [1, 2, classes/2] input reshaped to a [1, classes] "classifier" output."""
    b = ModelBuilder()
    x = b.add_input([1, 2, classes // 2], np.int8, scale=0.25, zero_point=-5, name="logits_in")
    y = b.add_tensor([1, classes], np.int8, scale=0.25, zero_point=-5, name="scores")
    b.add_op("RESHAPE", [x], [y], new_shape=[1, classes])
    b.mark_output(y)
    return b.build()


def feature_model() -> bytes:
    """A float [2, 3, 4] input reshaped to [3, 2, 4]: not classifier-shaped."""
    b = ModelBuilder()
    x = b.add_input([2, 3, 4], np.float32, name="features")
    y = b.add_tensor([6, 1, 4], np.float32, name="expanded")
    z = b.add_tensor([6, 4], np.float32, name="rows")
    w = b.add_tensor([3, 2, 4], np.float32, name="out")
    b.add_op("RESHAPE", [x], [y], new_shape=[6, 1, 4])
    b.add_op("SQUEEZE", [y], [z], squeeze_dims=[1])
    b.add_op("RESHAPE", [z], [w], new_shape=[3, 2, 4])
    b.mark_output(w)
    return b.build()


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- output ------------------------------------------------------------------------------------

def test_summary_of_a_model(tmp_path, capsys):
    code, out, err = run_cli(capsys, write(tmp_path, feature_model()))
    assert code == 0 and err == ""
    assert "inputs:\n  [0] features  [2, 3, 4]  float32  not quantized\n" in out
    assert "outputs:\n  [3] out  [3, 2, 4]  float32  not quantized\n" in out
    assert re.search(r"ops:\n  RESHAPE +2\n  SQUEEZE +1\n", out)
    assert re.search(r"arena \d+ bytes", out)
    assert re.search(r"\nbackends: (numpy|c/\w+) \d ops?(, (numpy|c/\w+) \d ops?)?\n", out)
    assert re.search(r"output \[3\] out: shape \[3, 2, 4\], float32\n  min -?[\d.]+, max [\d.]+, "
                     r"mean -?[\d.e-]+\n", out)


def test_classifier_output_shows_top5(tmp_path, capsys):
    code, out, _ = run_cli(capsys, write(tmp_path, classifier_model()), "--seed", "3")
    assert code == 0
    assert "[0] logits_in  [1, 2, 5]  int8  scale 0.25, zero point -5" in out
    x = cli.random_input(dict(shape=np.array([1, 2, 5]), dtype=np.int8),
                         np.random.default_rng(3)).reshape(-1)
    scores = (x.astype(np.float64) + 5) * 0.25
    top = np.argsort(-scores, kind="stable")[:5]
    expected = ", ".join("%d (%.4g)" % (i, scores[i]) for i in top)
    assert "  top-5: %s\n" % expected in out


def test_top5_per_batch_row():
    d = dict(quantization_parameters=dict(scales=np.array([], np.float32),
                                          zero_points=np.array([], np.int32),
                                          quantized_dimension=0))
    lines = cli.summarize_output(d, np.array([[0.1, 0.9, 0.5], [3.0, 2.0, 1.0]], np.float32))
    assert lines == ["top-3 (batch 0): 1 (0.9), 2 (0.5), 0 (0.1)",
                     "top-3 (batch 1): 0 (3), 1 (2), 2 (1)"]


def test_per_channel_quantization_is_described():
    d = dict(quantization_parameters=dict(scales=np.ones(8, np.float32),
                                          zero_points=np.zeros(8, np.int32),
                                          quantized_dimension=3))
    assert cli.format_quantization(d) == "per-channel: 8 scales along dimension 3"


def test_same_seed_same_output(tmp_path, capsys):
    path = write(tmp_path, classifier_model(40))
    outputs = []
    for seed in ("1", "1", "2"):
        code, out, _ = run_cli(capsys, path, "--seed", seed)
        assert code == 0
        outputs.append(re.search(r"top-5: .*", out).group(0))
    assert outputs[0] == outputs[1] != outputs[2]


# -- errors --------------------------------------------------------------------------------------

def assert_one_line_error(code, out, err, pattern):
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("qrun: error: "), err
    assert "Traceback" not in err
    assert re.search(pattern, err), err


def test_missing_file(tmp_path, capsys):
    assert_one_line_error(*run_cli(capsys, str(tmp_path / "nope.tflite")), r"Could not open")


def test_not_a_model(tmp_path, capsys):
    path = write(tmp_path, b"hello, not a model\n" * 10, "text.tflite")
    assert_one_line_error(*run_cli(capsys, path), r"not a valid TFLite flatbuffer")


def test_truncated_model(tmp_path, capsys):
    path = write(tmp_path, DEMO.read_bytes()[:5000])
    assert_one_line_error(*run_cli(capsys, path), r"past the end|not a valid")


def test_unsupported_op(tmp_path, capsys):
    b = ModelBuilder()
    x = b.add_input([4], np.float32, name="x")
    y = b.add_tensor([4], np.float32, name="y")
    b.add_op("MyCustomOp", [x], [y])
    b.mark_output(y)
    code, out, err = run_cli(capsys, write(tmp_path, b.build()))
    assert_one_line_error(code, out, err, r"no kernel for 1 operator .*MyCustomOp")
    assert "MyCustomOp" in out      # the summary printed before the failure


def test_debug_shows_traceback(tmp_path, capsys):
    code, _, err = run_cli(capsys, str(tmp_path / "nope.tflite"), "--debug")
    assert code == 1 and "Traceback" in err and "Could not open" in err


@pytest.mark.parametrize("argv", [[], ["a.tflite", "b.tflite"], ["--no-such-option", "m"],
                                  ["m.tflite", "--seed", "x"]])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert "qrun: error:" in capsys.readouterr().err


def test_python_dash_m(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "qrun", write(tmp_path, classifier_model())],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "top-5:" in done.stdout and done.stderr == ""
    done = subprocess.run([sys.executable, "-m", "qrun", str(tmp_path / "missing.tflite")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1 and done.stderr.startswith("qrun: error: ")


# -- the demo models -----------------------------------------------------------------------------

def test_demo_model_on_the_command_line(capsys):
    code, out, err = run_cli(capsys, str(DEMO))
    assert code == 0, err
    assert "[0] input  [1, 96, 96, 3]  int8  scale 0.0078125, zero point 0" in out
    assert "output: shape [1, 100], int8\n  top-5: " in out
    for op, n in (("CONV_2D", 10), ("DEPTHWISE_CONV_2D", 4), ("ADD", 2), ("MEAN", 1),
                  ("FULLY_CONNECTED", 1), ("SOFTMAX", 1)):
        assert re.search(r"\n  %s +%d\n" % (op, n), out)


@pytest.mark.parametrize("path", [DEMO, DEMO_FLOAT_IO], ids=["int8", "float-io"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_demo_model_matches_litert(path, seed):
    check_against_litert(path.read_bytes(), seed=seed)


def test_demo_models_are_small_and_reproducible():
    sys.path.insert(0, str(ROOT / "models"))
    try:
        import make_models
    finally:
        sys.path.remove(str(ROOT / "models"))
    for name, build in make_models.MODELS.items():
        data = (ROOT / "models" / name).read_bytes()
        assert len(data) < 1 << 20
        assert build() == data, "%s differs from what models/make_models.py writes" % name
