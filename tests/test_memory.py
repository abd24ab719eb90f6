"""Repeated load / allocate / invoke / delete of every shared model keeps the resident set flat:
no leak in the arena, the C plans, the C thread pool or the loader. Each group of models runs
in a fresh process (tests/memory_churn.py), 200 cycles per model after a warm-up.

Ten models take 0.15 s to 2 s a cycle (numpy fallbacks, large images, hundreds of ops to
load): 200 cycles of them would add ~20 minutes of CPU to the suite, so they run 20 cycles
here. Each ran 200 cycles once outside the suite (`python -m tests.memory_churn 200 3
MODEL...`, 2026-12-03, a shared machine at load 10-14): RSS in MiB after the first cycle,
after the 3-cycle warm-up and after 200 more (the process's RSS, so it carries the models
before it); 2 threads after the warm-up and at the end for each:

    yolov8n_dynamic_range              66.3  66.3  66.5
    dncnn3_quant                       66.8  66.8  66.8
    whitebox_cartoon_gan_int8          66.9  66.9  66.9
    shufflenet_quant                   70.0  70.3  70.5
    yolov8n-seg_full_integer_quant     70.5  70.5  70.5
    zero_dce_quant                     70.5  70.5  70.5
    traffic_model_lstm_ssd             70.7  70.7  70.6
    osnet_x1_0_quant                   70.8  70.8  70.8
    yolov8n_full_integer_quant         37.7  37.8  38.1
    selfie_segmentation                36.7  36.7  36.9

With a leak injected (DelegateStep keeping its plan context), 200 cycles grew ad01_int8 by
56 MiB and mobilenet_v1_0.25_128_quant by 260 MiB, and the test failed.
"""
import json
import os
import subprocess
import sys

import pytest

from .oracle import SHARED_MODELS

ALL = sorted(p for p in os.listdir(SHARED_MODELS) if p.endswith(".tflite"))
FEWER_CYCLES = 20
SLOW = {"yolov8n_dynamic_range.tflite", "dncnn3_quant.tflite", "whitebox_cartoon_gan_int8.tflite",
        "shufflenet_quant.tflite", "yolov8n-seg_full_integer_quant.tflite",
        "zero_dce_quant.tflite", "traffic_model_lstm_ssd.tflite", "osnet_x1_0_quant.tflite",
        "yolov8n_full_integer_quant.tflite", "selfie_segmentation.tflite"}
WARMUP = 3
# Processes of one to two minutes of CPU each, so that pytest-xdist spreads them over its workers.
FAST = [m for m in ALL if m not in SLOW]
GROUPS = {"fast-%d" % i: (200, FAST[i::3]) for i in range(3)}
GROUPS.update({"slow-%d" % i: (FEWER_CYCLES, sorted(SLOW & set(ALL))[i::2]) for i in range(2)})
# Allowed RSS growth per model after its warm-up: far below what one leaked plan or arena per
# cycle adds (a small model's plan and arena are ~100 KB: 200 of them are 20 MB; the slow
# models' are megabytes, 20 of them tens of MB), well above the noise (0.3 MiB at most).
MAX_GROWTH_MIB = 4.0
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("group", list(GROUPS))
def test_rss_stays_flat(group):
    cycles, models = GROUPS[group]
    assert models, "no shared models in %s" % SHARED_MODELS
    proc = subprocess.run([sys.executable, "-m", "tests.memory_churn", str(cycles), str(WARMUP)]
                          + [str(SHARED_MODELS / m) for m in models],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["model"] for r in rows] == models
    for r in rows:
        print(group, json.dumps(r))
    grown = {r["model"]: round(r["rss_end_mib"] - r["rss_warm_mib"], 1) for r in rows}
    assert all(g <= MAX_GROWTH_MIB for g in grown.values()), grown
    threads = {r["model"]: (r["threads_warm"], r["threads_end"]) for r in rows}
    assert all(warm == end for warm, end in threads.values()), threads
