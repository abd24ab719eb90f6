"""The loaded model: subgraphs of tensors and operators, with constant data as numpy views."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Dict, List, Optional, Tuple

import numpy as np


@dataclass
class Quantization:
    scales: np.ndarray                      # float32, empty when not quantized
    zero_points: np.ndarray                 # int64, same length as scales
    quantized_dimension: int = 0

    @property
    def scale(self) -> float:
        return float(self.scales[0]) if len(self.scales) else 0.0

    @property
    def zero_point(self) -> int:
        return int(self.zero_points[0]) if len(self.zero_points) else 0

    @property
    def per_channel(self) -> bool:
        return len(self.scales) > 1


@dataclass
class Tensor:
    """One tensor of a subgraph.

    `shape` is the current shape (changed by resize_tensor_input and shape propagation);
    `data` is the constant buffer (read-only view) or, after allocate_tensors, the tensor's
    view into the arena.
    """
    index: int
    name: str
    type_code: int
    dtype: np.dtype
    shape: Tuple[int, ...]
    shape_signature: Tuple[int, ...]
    quantization: Quantization
    is_variable: bool = False
    buffer_index: int = 0
    constant: Optional[np.ndarray] = None
    sparsity: dict = field(default_factory=dict)
    data: Optional[np.ndarray] = None

    @property
    def is_constant(self) -> bool:
        return self.constant is not None

    @property
    def scale(self) -> float:
        return self.quantization.scale

    @property
    def zero_point(self) -> int:
        return self.quantization.zero_point

    @property
    def nbytes(self) -> int:
        # Python ints: a crafted shape must not wrap around int64 to a small size.
        return math.prod(self.shape) * self.dtype.itemsize


@dataclass
class Operator:
    """One node: its op name ("CONV_2D" or a custom code), options and tensors.

    `inputs`/`outputs` hold Tensor objects (None for an omitted optional input, index -1);
    `input_indices`/`output_indices` keep the raw indices.
    """
    index: int
    opname: str
    version: int
    is_custom: bool
    options: SimpleNamespace
    custom_options: bytes
    input_indices: List[int]
    output_indices: List[int]
    inputs: List[Optional[Tensor]] = field(default_factory=list)
    outputs: List[Tensor] = field(default_factory=list)
    intermediates: List[Tensor] = field(default_factory=list)


@dataclass
class Subgraph:
    index: int
    name: str
    tensors: List[Tensor]
    operators: List[Operator]
    inputs: List[int]
    outputs: List[int]


@dataclass
class SignatureDef:
    key: str
    subgraph_index: int
    inputs: Dict[str, int]
    outputs: Dict[str, int]


@dataclass
class Model:
    version: int
    description: str
    subgraphs: List[Subgraph]
    signatures: List[SignatureDef]
    nbytes: int
    source: object = None   # the mmap or bytes that constant views point into
