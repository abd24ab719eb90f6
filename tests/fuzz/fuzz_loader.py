"""atheris (libFuzzer) harness over .tflite bytes; run by hand (many minutes), not by pytest.

    python tests/fuzz/fuzz_loader.py CORPUS_DIR [libFuzzer flags]

Seeds: the shared models and models/*.tflite (tests/fuzz/target.py chooses them). Each input is
loaded, allocated and invoked once with the C delegate on (tests/fuzz/target.py). Memory
limits: tests/fuzz/limits.py (a MemoryError is a finding). Pass -timeout=2 for the hang limit.
"""
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import atheris  # noqa: E402

from tests.fuzz import limits  # noqa: E402

limits.apply()

with atheris.instrument_imports(include=["qrun"]):
    import qrun.delegate  # noqa: E402,F401  (imported lazily otherwise: uninstrumented)
    from tests.fuzz import mutator, target  # noqa: E402


def test_one_input(data: bytes) -> None:
    target.run_model(data)


def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
    rng = random.Random(seed)
    if rng.random() < 0.75:
        out = mutator.mutate(data, rng)
    else:
        out = atheris.Mutate(data, max(len(data), 1))
    return out[:max_size] if len(out) > max_size else out


def main() -> None:
    argv = list(sys.argv)
    corpus = next((a for a in argv[1:] if not a.startswith("-")), None)
    if corpus is not None and not os.listdir(corpus):
        for p in target.seed_paths():
            with open(p, "rb") as src, open(os.path.join(corpus, os.path.basename(p)), "wb") as dst:
                dst.write(src.read())
    atheris.Setup(argv, test_one_input, custom_mutator=custom_mutator)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
