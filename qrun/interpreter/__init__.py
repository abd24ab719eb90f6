"""Model loading, the Interpreter API, memory planning and the reference numpy kernels."""
from .interpreter import Interpreter, OpResolverType, SignatureRunner
from .graph import UnsupportedOperatorError
from .loader import ModelError, load_model

__all__ = ["Interpreter", "OpResolverType", "SignatureRunner", "UnsupportedOperatorError",
           "ModelError", "load_model"]
