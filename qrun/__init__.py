"""qrun: a TensorFlow Lite runtime for quantized models on the CPU.

    from qrun import Interpreter   # instead of: from tflite_runtime.interpreter import Interpreter
"""
from .interpreter import Interpreter, OpResolverType, SignatureRunner

__version__ = "0.1.0"
__all__ = ["Interpreter", "OpResolverType", "SignatureRunner", "__version__"]
