"""Tensor values for the `qrun` command: inputs from random values, .npy/.npz arrays or
images; quantization between real values and a tensor's integers.

Each loader returns {input tensor index: array of the input's shape and dtype}. Real values
(float arrays, image pixels after mean/std) are quantized with the input's own parameters.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".ppm", ".pgm")


class InputError(ValueError):
    """An input file that does not fit the model's inputs."""


def random_input(d: dict, rng: np.random.Generator) -> np.ndarray:
    """Values over the input's whole range (integers), or in [-1, 1] (floats)."""
    shape, dtype = tuple(int(s) for s in d["shape"]), np.dtype(d["dtype"])
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = max(int(info.min), -1000), min(int(info.max), 1000)
        return rng.integers(lo, hi + 1, size=shape, dtype=np.int64).astype(dtype)
    return rng.uniform(-1.0, 1.0, size=shape).astype(dtype)


def random_inputs(details: List[dict], seed: int) -> Dict[int, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {d["index"]: random_input(d, rng) for d in details}


def _scale_zero_point(d: dict) -> Optional[tuple]:
    q = d["quantization_parameters"]
    if len(q["scales"]) != 1:
        return None
    return float(q["scales"][0]), int(q["zero_points"][0])


def quantize(d: dict, real: np.ndarray) -> np.ndarray:
    """Real values into the input's dtype: its scale and zero point when quantized."""
    dtype = np.dtype(d["dtype"])
    if dtype.kind == "f":
        return real.astype(dtype)
    qp = _scale_zero_point(d)
    if qp is None:
        raise InputError("input %s is %s without quantization parameters: give it as %s values"
                         % (d["name"], dtype.name, dtype.name))
    info = np.iinfo(dtype)
    scaled = real / qp[0]
    q = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5) + qp[1]   # TFLite rounds half away
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(d: dict, y: np.ndarray) -> np.ndarray:
    """Real values of a tensor (float64); per-channel or unquantized tensors as they are."""
    qp = _scale_zero_point(d)
    if qp is None:
        return y.astype(np.float64)
    return (y.astype(np.float64) - qp[1]) * qp[0]


def fit(d: dict, value: np.ndarray, source: str) -> np.ndarray:
    """`value` as input `d`: same shape; floats for an integer input are quantized."""
    shape = tuple(int(s) for s in d["shape"])
    if value.shape != shape:
        raise InputError("%s has shape %s, input %s needs %s"
                         % (source, list(value.shape), d["name"], list(shape)))
    dtype = np.dtype(d["dtype"])
    if value.dtype == dtype:
        return value
    if value.dtype.kind == "f":
        return quantize(d, value.astype(np.float64))
    if np.can_cast(value.dtype, dtype, casting="same_kind") and np.array_equal(
            value.astype(dtype).astype(value.dtype), value):
        return value.astype(dtype)
    raise InputError("%s is %s, input %s needs %s" % (source, value.dtype.name, d["name"],
                                                       dtype.name))


def load_arrays(path: str, details: List[dict]) -> Dict[int, np.ndarray]:
    """.npy: the model's only input. .npz: arrays named as the inputs (a single array feeds a
    single input whatever its name)."""
    if Path(path).suffix.lower() == ".npy":
        if len(details) != 1:
            raise InputError("%s holds one array; the model has %d inputs (use an .npz named "
                             "by input: %s)" % (path, len(details),
                                                ", ".join(d["name"] for d in details)))
        return {details[0]["index"]: fit(details[0], np.load(path, allow_pickle=False), path)}
    with np.load(path, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    if len(details) == 1 and len(arrays) == 1:
        (name, value), = arrays.items()
        return {details[0]["index"]: fit(details[0], value, "%s[%s]" % (path, name))}
    missing = [d["name"] for d in details if d["name"] not in arrays]
    if missing:
        raise InputError("%s has no array named %s (it has: %s)"
                         % (path, ", ".join(missing), ", ".join(sorted(arrays)) or "none"))
    return {d["index"]: fit(d, arrays[d["name"]], "%s[%s]" % (path, d["name"]))
            for d in details}


def load_image(path: str, details: List[dict], mean: Optional[float],
               std: Optional[float]) -> Dict[int, np.ndarray]:
    """An image resized (bilinear) to a [1, H, W, C] input, C = 1 (grayscale) or 3 (RGB).
    Pixels become (p - mean) / std; without mean/std a quantized input takes the pixels over
    its whole integer range (p for uint8, p - 128 for int8) and a float input [-1, 1]."""
    try:
        from PIL import Image
    except ImportError:
        raise InputError("reading images needs Pillow (pip install qrun[image])") from None
    if len(details) != 1:
        raise InputError("an image feeds a model with one input; this one has %d"
                         % len(details))
    d = details[0]
    shape = [int(s) for s in d["shape"]]
    if len(shape) != 4 or shape[0] != 1 or shape[3] not in (1, 3):
        raise InputError("an image feeds a [1, height, width, 1 or 3] input; %s is %s"
                         % (d["name"], shape))
    with Image.open(path) as img:
        img = img.convert("RGB" if shape[3] == 3 else "L").resize((shape[2], shape[1]),
                                                                    Image.BILINEAR)
        pixels = np.asarray(img, np.float64).reshape(shape)
    dtype = np.dtype(d["dtype"])
    if mean is None and std is None and dtype.kind in "iu":
        info = np.iinfo(dtype)
        return {d["index"]: np.clip(np.round(pixels) + info.min, info.min,
                                    info.max).astype(dtype)}
    mean = 127.5 if mean is None else mean
    std = 127.5 if std is None else std
    return {d["index"]: quantize(d, (pixels - mean) / std)}


def load_inputs(path: str, details: List[dict], mean: Optional[float] = None,
                std: Optional[float] = None) -> Dict[int, np.ndarray]:
    suffix = Path(path).suffix.lower()
    if not Path(path).is_file():
        raise InputError("input file %s does not exist" % path)
    if suffix in (".npy", ".npz"):
        return load_arrays(path, details)
    if suffix in IMAGE_SUFFIXES:
        return load_image(path, details, mean, std)
    raise InputError("%s: --input takes .npy, .npz or an image (%s)"
                     % (path, ", ".join(IMAGE_SUFFIXES)))
