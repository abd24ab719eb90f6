"""Regression files: each fuzz finding, stored as a patch of the seed model it came from.

A finding is usually a shared model with a few bytes changed; storing the patch keeps the
repository small (the shared models are never copied in). Format (JSON): the seed file name, the
finding's SHA-256, and the edits `[start, end, hex]` (replace seed[start:end] by the bytes)
applied in order of decreasing start. Small findings are kept whole (`"seed": null`).
"""
from __future__ import annotations

import difflib
import glob
import hashlib
import json
import os

import numpy as np

from .target import seed_paths

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "regressions")
WHOLE_BYTES = 4096


def _seed_bytes(name: str) -> bytes:
    path = next((p for p in seed_paths() if os.path.basename(p) == name), None)
    if path is None:
        raise FileNotFoundError("seed model %s is not available" % name)
    with open(path, "rb") as f:
        return f.read()


def _edits(seed: bytes, data: bytes) -> list:
    if len(seed) == len(data):
        a, b = np.frombuffer(seed, np.uint8), np.frombuffer(data, np.uint8)
        diff = np.flatnonzero(a != b)
        runs = np.split(diff, np.flatnonzero(np.diff(diff) > 1) + 1) if diff.size else []
        edits = [[int(r[0]), int(r[-1]) + 1, data[r[0]:r[-1] + 1].hex()] for r in runs]
    else:
        sm = difflib.SequenceMatcher(None, seed, data, autojunk=False)
        edits = [[i1, i2, data[j1:j2].hex()] for tag, i1, i2, j1, j2 in sm.get_opcodes()
                 if tag != "equal"]
    return sorted(edits, reverse=True)


def save(data: bytes, name: str, finding: str, fix: str) -> str:
    record = {"finding": finding, "fix": fix,
              "sha256": hashlib.sha256(data).hexdigest(), "seed": None, "edits": data.hex()}
    if len(data) > WHOLE_BYTES:
        best = None
        for path in seed_paths():
            size = os.path.getsize(path)
            if abs(size - len(data)) > 4096:
                continue
            with open(path, "rb") as f:
                edits = _edits(f.read(), data)
            cost = sum(len(e[2]) + 16 for e in edits)
            if best is None or cost < best[0]:
                best = (cost, os.path.basename(path), edits)
        if best is not None and best[0] < len(data):
            record["seed"], record["edits"] = best[1], best[2]
    path = os.path.join(HERE, name + ".json")
    with open(path, "w") as f:
        json.dump(record, f, indent=1)
        f.write("\n")
    return path


def load(path: str) -> bytes:
    with open(path) as f:
        record = json.load(f)
    if record["seed"] is None:
        data = bytes.fromhex(record["edits"])
    else:
        out = bytearray(_seed_bytes(record["seed"]))
        for start, end, hexbytes in record["edits"]:
            out[start:end] = bytes.fromhex(hexbytes)
        data = bytes(out)
    if hashlib.sha256(data).hexdigest() != record["sha256"]:
        raise ValueError("%s does not rebuild its finding (seed changed?)" % path)
    return data


def all_paths() -> list:
    return sorted(glob.glob(os.path.join(HERE, "*.json")))
