"""Training data held on the device once (or streamed when too large) and minibatch sampling."""

from __future__ import annotations

from typing import Any

import numpy as np

from .backend import get_array_module, is_cupy_array
from .devices import cuda_index, to_device

# Keep at most this fraction of the GPU's free memory for the data sets themselves.
_GPU_MEMORY_FRACTION = 0.5


def fits_on_device(arrays: list[Any], device: str) -> bool:
    """True when ``arrays`` can stay on ``device`` for the whole run."""
    if not device.startswith("cuda"):
        return True
    import cupy

    with cupy.cuda.Device(cuda_index(device)):
        free, _ = cupy.cuda.runtime.memGetInfo()
    return sum(int(a.nbytes) for a in arrays) < _GPU_MEMORY_FRACTION * free


class DeviceData:
    """Inputs ``X`` (N, ...) and labels ``y`` (N,) ready to be served in batches on a device.

    When the pair fits, it is moved to ``device`` once; otherwise it stays on the host and each
    batch is moved as it is taken.
    """

    def __init__(self, X: Any, y: Any, device: str) -> None:
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]} labels")
        self.device = device
        self.num_examples = int(X.shape[0])
        self.resident = fits_on_device([X, y], device)
        if self.resident:
            self.X, self.y = to_device(X, device), to_device(y, device)
        else:
            self.X, self.y = to_device(X, "cpu"), to_device(y, "cpu")
        self.xp = get_array_module(X=self.X, y=self.y)

    def take(self, indices: Any) -> tuple[Any, Any]:
        """The rows at ``indices`` (an index array from :meth:`BatchSampler` or the host)."""
        if self.resident:
            if isinstance(indices, np.ndarray) and not isinstance(self.X, np.ndarray):
                indices = to_device(indices, self.device)
            return (self.xp.take(self.X, indices, axis=0), self.xp.take(self.y, indices, axis=0))
        host = to_device(indices, "cpu")
        return to_device(self.X[host], self.device), to_device(self.y[host], self.device)

    def rows(self, start: int, stop: int) -> tuple[Any, Any]:
        """Rows ``start:stop`` on the device."""
        if self.resident:
            return self.X[start:stop], self.y[start:stop]
        return to_device(self.X[start:stop], self.device), to_device(self.y[start:stop],
                                                                     self.device)

    def subset(self, indices: Any) -> DeviceData:
        """A new DeviceData holding the rows at host ``indices``."""
        return DeviceData(*self.take(indices), self.device)


class BatchSampler:
    """Shuffles ``0 .. N-1`` once per epoch and cuts it into minibatches.

    Indices are drawn where the data lives: on the GPU for resident CuPy data (no host round
    trip), on the host otherwise, from a generator seeded by ``seed``.
    """

    def __init__(self, data: DeviceData, batch_size: int, seed: int | None) -> None:
        self.data = data
        self.batch_size = min(batch_size, data.num_examples)
        self.host_rng = np.random.default_rng(seed)
        self.device_rng = None
        if data.resident and is_cupy_array(data.X):
            import cupy

            self.device_rng = cupy.random.default_rng(seed)

    @property
    def batches_per_epoch(self) -> int:
        return max(self.data.num_examples // self.batch_size, 1)

    def epoch(self) -> list[Any]:
        """The index arrays of one epoch's minibatches (each ``batch_size`` long)."""
        n = self.data.num_examples
        if self.device_rng is not None:
            order = self.data.xp.argsort(self.device_rng.random(n))
        else:
            order = self.host_rng.permutation(n)
        size = self.batch_size
        return [order[k * size : (k + 1) * size] for k in range(self.batches_per_epoch)]

    def subsample(self, data: DeviceData, num_samples: int | None) -> DeviceData:
        """A random subset of ``num_samples`` rows of ``data`` (all of it when None)."""
        n = data.num_examples
        if num_samples is None or num_samples >= n:
            return data
        return data.subset(np.sort(self.host_rng.choice(n, num_samples, replace=False)))
