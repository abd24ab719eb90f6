"""The fuzz findings stay fixed, and a short deterministic structural fuzz run finds nothing.

Every input must load, allocate and invoke, or raise ValueError / RuntimeError /
NotImplementedError with a message (tests/fuzz/target.py); anything else fails the test.
"""
import json
import os
import subprocess
import sys

import pytest

from . import mutator, regressions, target

# Small, fast seeds covering int8 and uint8 models, LSTM, detection post-processing,
# float16 weights and the project's own models.
SHORT_RUN_SEEDS = ["simple_add_model_int8.tflite", "split_concat_uint8.tflite",
                   "hello_world_int8.tflite", "trained_lstm_int8.tflite",
                   "ssd_mobilenet_v1_coco_quant_postprocess_head_layers.tflite",
                   "micro_speech_quantized.tflite", "kws_ref_model.tflite",
                   "qrun_demo_mobilenet_int8.tflite", "qrun_demo_mobilenet_int8_floatio.tflite",
                   "str_ww_ref_model.tflite", "pretrainedResnet_quant.tflite"]
SHORT_RUN_MUTATIONS = 2000


@pytest.mark.parametrize("path", regressions.all_paths(), ids=os.path.basename)
def test_regression(path):
    target.run_model(regressions.load(path))


def test_regression_corpus_exists():
    assert regressions.all_paths()


def test_mutator_reaches_the_semantic_fields():
    with open(os.path.join(target.ROOT, "models", "qrun_demo_mobilenet_int8.tflite"), "rb") as f:
        roles = {f.role for f in mutator.fields_of(f.read())}
    assert {"dim", "type", "index", "scale", "zp", "opcode", "opcode_index", "buffer_index",
            "veclen", "uoffset", "vtable", "option"} <= roles


def test_short_deterministic_fuzz_run(tmp_path):
    seeds = {os.path.basename(p): p for p in target.seed_paths()}
    finding = tmp_path / "finding.tflite"
    proc = subprocess.run([sys.executable, "-m", "tests.fuzz.short_run", "20261128",
                           str(SHORT_RUN_MUTATIONS), str(finding)]
                          + [seeds[name] for name in SHORT_RUN_SEEDS],
                          cwd=target.ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, "finding kept in %s:\n%s" % (finding, proc.stderr[-3000:])
    outcomes = json.loads(proc.stdout.strip().splitlines()[-1])
    # The run must exercise both sides: mutants that still run and mutants rejected.
    ok = outcomes.get("ok", 0)
    assert ok > SHORT_RUN_MUTATIONS // 20
    assert sum(outcomes.values()) - ok > SHORT_RUN_MUTATIONS // 20
