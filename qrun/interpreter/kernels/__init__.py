"""Reference numpy kernels, one module per op family; importing them fills the kernel table."""
from . import shape_ops  # noqa: F401
