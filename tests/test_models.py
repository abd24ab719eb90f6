"""Every model in ../shared/models runs on qrun's numpy kernels and matches LiteRT's reference
kernels: integer outputs bit for bit, float outputs within 1e-5 of the largest magnitude, on
three seeded inputs."""
from __future__ import annotations

import pytest

from qrun import Interpreter, OpResolverType
from tests.oracle import SHARED_MODELS, assert_same, litert, random_inputs

MANIFEST = SHARED_MODELS / "MANIFEST.tsv"


def manifest_models():
    lines = MANIFEST.read_text().splitlines()[1:]
    return [line.split("\t")[0] for line in lines if line.strip()]


# LiteRT resolves this MediaPipe custom op only through XNNPACK, so its reference kernels
# cannot run the model; the oracle there is LiteRT's default resolver.
ORACLE_RESOLVER = {"selfie_segmentation.tflite": "AUTO"}
SEEDS = (0, 1, 2)


def run_all(interp, inputs_per_seed):
    interp.allocate_tensors()
    outs = []
    for inputs in inputs_per_seed:
        for d, x in zip(interp.get_input_details(), inputs):
            interp.set_tensor(d["index"], x)
        interp.invoke()
        outs.append([interp.get_tensor(d["index"]) for d in interp.get_output_details()])
    return outs


@pytest.mark.parametrize("name", manifest_models())
def test_model_matches_litert_reference(name):
    path = SHARED_MODELS / name
    lite = litert()
    resolver = getattr(lite.OpResolverType, ORACLE_RESOLVER.get(name, "BUILTIN_REF"))
    oracle = lite.Interpreter(model_path=str(path), experimental_op_resolver_type=resolver)
    oracle.allocate_tensors()
    inputs = [random_inputs(oracle.get_input_details(), seed) for seed in SEEDS]
    theirs = run_all(oracle, inputs)
    ours = run_all(Interpreter(model_path=str(path),
                               experimental_op_resolver_type=OpResolverType.BUILTIN_REF), inputs)
    for seed, a, b in zip(SEEDS, ours, theirs):
        assert_same(a, b, what="%s seed %d" % (name, seed))
