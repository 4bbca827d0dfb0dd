"""Uniform random numbers on an array's own device, without touching global random state."""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

import numpy as np

from .checks import as_integer
from .namespace import is_cupy_array, is_torch_array

_host_rng = np.random.default_rng()


@functools.cache
def _cupy_rng(device_id: int) -> Any:
    """One unseeded CuPy generator per GPU: creating one sets up many cuRAND states."""
    import cupy

    with cupy.cuda.Device(device_id):
        return cupy.random.default_rng()


def is_seed(value: Any) -> bool:
    """True for a valid seed: a non-negative integer (Python or NumPy), not a bool."""
    number = as_integer(value)
    return number is not None and number >= 0


class RandomStream:
    """A seeded stream of ``U[0, 1)`` draws that moves on at every draw, on any device.

    Give one to ``dropout_param['seed']`` (or a seed to ``FullyConnectedNet(dropout_seed=...)``)
    for dropout masks that change from step to step yet repeat from run to run. Each device
    draws from its own generator, made from ``seed`` on first use and kept: the same seed on
    the same device gives the same sequence. NumPy, PyTorch CPU tensors and other host arrays
    share one host generator. Global random state is never touched.

    Parameters
    ----------
    seed : int
        A non-negative integer.
    """

    def __init__(self, seed: int) -> None:
        if not is_seed(seed):
            raise ValueError(f"RandomStream: seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)
        self._generators: dict[tuple[str, ...], Any] = {}

    def uniform_like(self, x: Any, xp: ModuleType) -> Any:
        """The stream's next ``U[0, 1)`` draw shaped like ``x``, in its dtype, on its device."""
        key = _device_key(x)
        generator = self._generators.get(key)
        if generator is None:
            generator = self._generators[key] = _new_generator(x, self.seed)
        return _draw(generator, x, xp)

    def host_state(self) -> dict[str, Any] | None:
        """The host generator's state (JSON-serialisable), None before its first draw.

        With :meth:`set_host_state` this lets a saved training run continue the same masks.
        """
        generator = self._generators.get(("host",))
        return None if generator is None else generator.bit_generator.state

    def set_host_state(self, state: dict[str, Any] | None) -> None:
        """Restore a state from :meth:`host_state` (None: as if never drawn)."""
        if state is None:
            self._generators.pop(("host",), None)
            return
        generator = np.random.default_rng(self.seed)
        generator.bit_generator.state = state
        self._generators[("host",)] = generator

    def __repr__(self) -> str:
        return f"RandomStream(seed={self.seed})"


def uniform_like(x: Any, xp: ModuleType, seed: int | RandomStream | None = None) -> Any:
    """Draw ``U[0, 1)`` samples shaped like ``x``, in ``x``'s dtype and on ``x``'s device.

    (float16 ``x`` gets float32 samples on CuPy and float64 ones on the host: the generators
    draw no float16.)

    With an int ``seed`` the draw is reproducible (the same at every call) and leaves every
    other generator untouched; a :class:`RandomStream` gives its next draw. NumPy, PyTorch CPU
    tensors and other host Array API arrays share one host stream, so the same seed gives the
    same samples on all of them; CuPy and PyTorch CUDA tensors draw on their GPU (no host round
    trip) from their own, equally reproducible, streams.
    """
    if isinstance(seed, RandomStream):
        return seed.uniform_like(x, xp)
    if seed is None:
        if is_cupy_array(x):
            return _draw(_cupy_rng(x.device.id), x, xp)
        if not _on_gpu_torch(x):
            return _draw(_host_rng, x, xp)
    elif is_cupy_array(x):
        # A cuRAND generator per call would set up its many states at every step.
        import cupy

        with cupy.cuda.Device(x.device.id):
            return counter_uniform(cupy, tuple(x.shape), x.dtype, seed)
    return _draw(_new_generator(x, seed), x, xp)


_GOLDEN = 0x9E3779B97F4A7C15
_MIX = (0xBF58476D1CE4E5B9, 0x94D049BB133111EB)


def _splitmix64(value: int) -> int:
    """SplitMix64's output for ``value``: a 64-bit hash of an integer, on the host."""
    z = (value + _GOLDEN) % 2**64
    z = ((z ^ (z >> 30)) * _MIX[0]) % 2**64
    z = ((z ^ (z >> 27)) * _MIX[1]) % 2**64
    return z ^ (z >> 31)


def counter_uniform(module: ModuleType, shape: tuple[int, ...], dtype: Any, seed: int) -> Any:
    """``U[0, 1)`` samples from a counter-based generator: element ``i`` is a hash of (seed, i).

    SplitMix64's finaliser of ``mix(seed) + (i + 1) * 2^64/phi`` (mod 2^64); its top bits,
    as many as ``dtype`` has mantissa bits, scaled to ``[0, 1)``. Nothing is set up and no state
    kept, so a seeded draw costs a few elementwise passes and repeats exactly. ``module`` is
    ``numpy`` or ``cupy`` (the draw happens where its arrays live).
    """
    u64 = module.uint64
    count = 1
    for size in shape:
        count *= int(size)
    z = module.arange(1, count + 1, dtype=u64)
    z *= u64(_GOLDEN)
    z += u64(_splitmix64(int(seed)))  # seeds start at unrelated points of the sequence
    for shift, factor in zip((30, 27), _MIX, strict=True):
        z ^= z >> u64(shift)
        z *= u64(factor)
    z ^= z >> u64(31)
    bits = min(np.finfo(dtype).nmant + 1, 53)
    top = (z >> u64(64 - bits)).astype(dtype)  # < 2^bits: exact in dtype
    top *= np.dtype(dtype).type(2.0**-bits)
    return top.reshape(shape)


def _on_gpu_torch(x: Any) -> bool:
    return is_torch_array(x) and x.device.type != "cpu"


def _device_key(x: Any) -> tuple[str, ...]:
    if is_cupy_array(x):
        return ("cupy", str(x.device.id))
    if _on_gpu_torch(x):
        return ("torch", str(x.device))
    return ("host",)


def _new_generator(x: Any, seed: int | None) -> Any:
    """A generator for ``x``'s device, seeded (or from fresh entropy when ``seed`` is None)."""
    if is_cupy_array(x):
        import cupy

        with cupy.cuda.Device(x.device.id):
            return cupy.random.default_rng(seed)
    if _on_gpu_torch(x):
        import torch

        gen = torch.Generator(device=x.device)
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(seed)
        return gen
    return np.random.default_rng(seed)


def _draw(generator: Any, x: Any, xp: ModuleType) -> Any:
    shape = tuple(x.shape)
    if is_cupy_array(x):
        import cupy

        # CuPy's Generator.random draws float32 or float64 only: float16 arrays get float32
        # samples (as float16 host arrays get float64 ones below).
        dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float32
        with cupy.cuda.Device(x.device.id):
            return generator.random(shape, dtype=dtype)
    if _on_gpu_torch(x):
        import torch

        return torch.rand(shape, generator=generator, device=x.device, dtype=x.dtype)
    host_dtype = np.float32 if x.dtype == xp.float32 else np.float64
    samples = generator.random(shape, dtype=host_dtype)
    if isinstance(x, np.ndarray):
        return samples
    return xp.asarray(samples, device=x.device)
