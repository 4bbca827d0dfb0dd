"""xplayers: course-style neural-network layers on NumPy (CPU) and CuPy (GPU).

>>> import numpy as np, xplayers
>>> from xplayers.layers import affine_forward
>>> out, cache = affine_forward(np.ones((2, 3)), np.ones((3, 4)), np.zeros(4))
>>> out.shape
(2, 4)
"""

from . import config
from .backend.cuda import cuda_available
from .backend.devices import (
    available_devices,
    default_device,
    device_context,
    resolve_device,
    to_device,
    to_numpy,
)
from .backend.fast_paths import fast_paths
from .backend.namespace import device_of, get_array_module, is_cupy_array
from .backend.random_streams import RandomStream

__version__ = "0.1.0"

__all__ = [
    "RandomStream",
    "__version__",
    "available_devices",
    "config",
    "cuda_available",
    "default_device",
    "device_context",
    "device_of",
    "fast_paths",
    "get_array_module",
    "is_cupy_array",
    "resolve_device",
    "to_device",
    "to_numpy",
]
