"""A deterministic structural fuzz run, in its own process (resource limits, crash isolation).

    python -m tests.fuzz.short_run SEED COUNT FINDING_PATH SEED_MODEL...

Prints the outcome counts as JSON. On a finding, writes the mutant to FINDING_PATH, prints the
traceback and exits with status 1.
"""
import json
import random
import sys
import traceback

from . import limits

limits.apply()

from . import mutator, target  # noqa: E402


def main(argv) -> int:
    seed, count, finding_path, models = int(argv[0]), int(argv[1]), argv[2], argv[3:]
    data = []
    for path in models:
        with open(path, "rb") as f:
            data.append(f.read())
    rng = random.Random(seed)
    outcomes = {}
    for _ in range(count):
        mutant = mutator.mutate(rng.choice(data), rng)
        try:
            outcome = target.run_model(mutant)
        except BaseException:
            with open(finding_path, "wb") as f:
                f.write(mutant)
            traceback.print_exc()
            return 1
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    print(json.dumps(outcomes))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
