"""Reference numpy kernels, one module per op family; importing them fills the kernel table."""
from . import shape_ops  # noqa: F401
from . import elementwise  # noqa: F401
from . import pad  # noqa: F401
from . import pooling  # noqa: F401
from . import conv  # noqa: F401
from . import svdf  # noqa: F401
from . import lstm  # noqa: F401
from . import quantize  # noqa: F401
from . import reduce  # noqa: F401
from . import data_movement  # noqa: F401
from . import fully_connected  # noqa: F401
from . import activations  # noqa: F401
from . import softmax  # noqa: F401
from . import transpose_conv  # noqa: F401
from . import normalization  # noqa: F401
from . import resize  # noqa: F401
from . import unary  # noqa: F401
