"""Old import path of the device helpers (they live in ``xplayers.backend.devices``)."""

from .backend.devices import (
    available_devices,
    cuda_index,
    default_device,
    device_context,
    resolve_device,
    to_device,
    to_numpy,
)

__all__ = [
    "available_devices",
    "cuda_index",
    "default_device",
    "device_context",
    "resolve_device",
    "to_device",
    "to_numpy",
]
