"""Training data held on the device once (or streamed when too large) and minibatch sampling."""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from ..backend.devices import cuda_index, to_device, to_numpy
from ..backend.namespace import get_array_module

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
    batch is moved as it is taken. ``X`` must be real (integer or floating) and ``y`` integer
    labels; with ``num_classes`` the labels are checked once, here, to lie in
    ``[0, num_classes)`` (``labels_checked`` is then True and training steps need not check
    them again). ``name`` names the data in errors (``'training'``, ``'validation'``).

    Raises
    ------
    ValueError
        For mismatched lengths, complex or non-numeric ``X``, non-integer or out-of-range ``y``.
    """

    def __init__(self, X: Any, y: Any, device: str, num_classes: int | None = None,
                 name: str = "") -> None:
        label = f"{name} " if name else ""
        if getattr(X, "ndim", 0) < 1 or getattr(y, "ndim", 0) != 1:
            raise ValueError(f"the {label}data needs X of shape (N, ...) and y of shape (N,), "
                             f"got {_shape(X)} and {_shape(y)}")
        if X.shape[0] != y.shape[0]:
            where = f" (the {name} data)" if name else ""
            raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]} labels{where}")
        if not get_array_module(X).isdtype(X.dtype, ("real floating", "integral")):
            raise ValueError(f"{label}X must hold real numbers, got dtype {X.dtype}")
        if not get_array_module(y).isdtype(y.dtype, "integral"):
            raise ValueError(f"{label}y must hold integer class labels, got dtype {y.dtype}")
        self.labels_checked = False
        if num_classes is not None and y.shape[0]:
            host = to_numpy(y)
            low, high = int(host.min()), int(host.max())
            if low < 0 or high >= num_classes:
                raise ValueError(f"{label}labels y must lie in [0, {num_classes}) for the "
                                 f"model's {num_classes} classes, got values from {low} to "
                                 f"{high}")
            self.labels_checked = True
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
        stop = min(stop, self.num_examples)
        if self.resident:
            return self.X[start:stop, ...], self.y[start:stop]
        return to_device(self.X[start:stop, ...], self.device), to_device(self.y[start:stop],
                                                                     self.device)

    def subset(self, indices: Any) -> DeviceData:
        """A new DeviceData holding the rows at host ``indices``."""
        return DeviceData(*self.take(indices), self.device)


class BatchSampler:
    """Shuffles ``0 .. N-1`` once per epoch and cuts it into minibatches.

    The order is drawn on the host from a NumPy generator seeded by ``seed``; with no seed,
    the generator's seed is drawn from NumPy's global random state (so ``np.random.seed``
    repeats the order, as in the course) and the global state is not touched afterwards.
    The same seed gives the same order on every device; each epoch's order is moved to the
    data's device once. :attr:`rng_state` saves and restores the generator (to resume).
    """

    def __init__(self, data: DeviceData, batch_size: int, seed: int | None) -> None:
        self.data = data
        self.batch_size = min(batch_size, data.num_examples)
        if seed is None:
            # The course's global random state, read once.
            seed = int(np.random.randint(0, 2**63 - 1, dtype=np.int64))  # noqa: NPY002
        self.host_rng = np.random.default_rng(seed)

    @property
    def rng_state(self) -> dict[str, Any]:
        """The generator's state (a JSON-serialisable dict)."""
        return cast(dict[str, Any], self.host_rng.bit_generator.state)  # NumPy returns a dict

    @rng_state.setter
    def rng_state(self, state: dict[str, Any]) -> None:
        self.host_rng.bit_generator.state = state

    @property
    def batches_per_epoch(self) -> int:
        return max(self.data.num_examples // self.batch_size, 1)

    def epoch(self) -> list[Any]:
        """The index arrays of one epoch's minibatches (each ``batch_size`` long)."""
        order = self.host_rng.permutation(self.data.num_examples)
        if self.data.resident and not isinstance(self.data.X, np.ndarray):
            order = to_device(order, self.data.device)
        size = self.batch_size
        return [order[k * size : (k + 1) * size] for k in range(self.batches_per_epoch)]

    def subsample(self, data: DeviceData, num_samples: int | None) -> DeviceData:
        """A random subset of ``num_samples`` rows of ``data`` (all of it when None)."""
        n = data.num_examples
        if num_samples is None or num_samples >= n:
            return data
        return data.subset(np.sort(self.host_rng.choice(n, num_samples, replace=False)))


def _shape(a: Any) -> Any:
    shape = getattr(a, "shape", None)
    return tuple(shape) if shape is not None else type(a).__name__
